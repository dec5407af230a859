// statskit.js — what the 查询统计 screens (query.js, stats.js, import.js)
// share: what the hub said this user may do (stats_access: the scope and
// the form's choices), money and percentage texts, selects and tables.
// Every figure is the hub's; nothing here counts.

import { h } from "./form.js";

/** stats_access's answer: {allowed, reason, scope, can_import, options}. */
export const access = { value: null };

/** The form's choices for this user's scope (units, dictionaries, statuses …). */
export const options = () => (access.value && access.value.options) || {};

/**
 * Fen (an integer) as yuan with two decimals: 123456 → "1234.56". Integer
 * arithmetic only: money is never a float here.
 */
export function fenText(fen) {
  const n = Number(fen);
  if (!Number.isSafeInteger(n)) return "—";
  const a = Math.abs(n);
  return `${n < 0 ? "-" : ""}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}`;
}

/** A percentage the hub computed (one decimal), or — where it has none. */
export function pctText(p, sign = false) {
  if (p === null || p === undefined || !Number.isFinite(Number(p))) return "—";
  const n = Number(p);
  return `${sign && n > 0 ? "+" : ""}${n.toFixed(1)}%`;
}

/** A <select> of {code, label} choices with a first "全部" (value ""). */
export function selectOf(id, choices, { all = "全部", label = "" } = {}) {
  return h(
    "select",
    { id, "data-testid": id, "aria-label": label || null },
    all === null ? null : h("option", { value: "" }, all),
    ...(choices || []).map((c) => h("option", { value: c.code }, c.label)),
  );
}

/** One labelled condition of a form: label, then the control(s). */
export function cond(label, forId, ...controls) {
  return h("div", { class: "cond" }, h("label", { for: forId }, label), h("div", { class: "cond-controls" }, ...controls));
}

/**
 * A table the hub laid out ({title, headers, rows: [[{text, figure}]]}),
 * as the PDF prints it. `id` names the <table> (rows: tr[data-testid=<id>-row]).
 */
export function hubTable(id, t) {
  return h(
    "table",
    { class: "case-table stats-table", id, "data-testid": id },
    h("thead", {}, h("tr", {}, (t.headers || []).map((x) => h("th", {}, x)))),
    h(
      "tbody",
      {},
      (t.rows || []).map((r) => h("tr", { "data-testid": `${id}-row` }, cells(r))),
    ),
  );
}

/**
 * A row's cells; a closing text followed only by empty cells (the 排名靠后
 * line) runs over them, as in the PDF.
 */
function cells(r) {
  let last = r.length - 1;
  while (last > 0 && !r[last].figure && r[last].text === "") last -= 1;
  return r.slice(0, last + 1).map((c, i) =>
    h("td", { class: c.figure ? "num" : null, colspan: i === last && last < r.length - 1 ? String(r.length - last) : null }, c.text),
  );
}

/** Beijing today as YYYY-MM-DD (whatever the machine's zone). */
export function beijingToday() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
}
