// import.js — 历史导入 (panel-import of screen-stats), for the members of a
// 110 desk: an old system's records (xlsx or CSV, one row per record) are
// checked first (检查文件: nothing is imported), every problem listed by
// 行, 列, 值 and 错误 as the hub found it; then 导入 with the signing PIN,
// each record one event signed by the importer's hosted key. With any bad
// row the hub imports nothing unless 只导入正确的行 is ticked; rows imported
// before are counted and skipped.
//
// Stable ids (id == data-testid): imp-file (file input), imp-choose, imp-name,
// imp-check, imp-only-valid, imp-run, imp-summary (data-rows, data-refused,
// data-already, data-imported), imp-errors (table) with tr[data-testid=imp-error]
// and cells imp-err-row, imp-err-column, imp-err-value, imp-err-message.

import { h } from "./form.js";
import { call, errorText } from "./api.js";
import { showMessage, clearMessage, busy, askPin } from "./shell.js";

const $ = (id) => document.getElementById(id);

// The file chosen: {name, dataB64}.
let chosen = null;

export function importPanel() {
  const input = h("input", { type: "file", id: "imp-file", "data-testid": "imp-file", class: "file-input", accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", onchange: pick });
  return h(
    "div",
    { class: "stats-panel", id: "panel-import", "data-testid": "panel-import", hidden: true },
    h(
      "div",
      { class: "card" },
      h(
        "p",
        { class: "lead" },
        "导入原 110 系统的历史警情：xlsx 或 CSV 文件，每行一起警情，表头为接警单编号、报警时间、报警方式……是否有效（共 22 列）。先检查文件，列出每一处错误；有错误时不导入任何记录，除非勾选“只导入正确的行”。已导入过的接警单编号会跳过，同一文件可以重复导入。",
      ),
      input,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "btn", id: "imp-choose", "data-testid": "imp-choose", onclick: () => input.click() }, "选择文件…"),
        h("span", { class: "mono", id: "imp-name", "data-testid": "imp-name" }, "未选择文件"),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "btn", id: "imp-check", "data-testid": "imp-check", onclick: () => run(true), disabled: true }, "检查文件"),
        h("label", { class: "check" }, h("input", { type: "checkbox", id: "imp-only-valid", "data-testid": "imp-only-valid" }), " 只导入正确的行"),
        h("button", { type: "button", class: "btn btn-primary", id: "imp-run", "data-testid": "imp-run", onclick: () => run(false), disabled: true }, "导入"),
      ),
    ),
    h("p", { class: "result-head", id: "imp-summary", "data-testid": "imp-summary", hidden: true }),
    h(
      "table",
      { class: "case-table stats-table", id: "imp-errors", "data-testid": "imp-errors", hidden: true },
      h("thead", {}, h("tr", {}, ["行", "列", "值", "错误"].map((t) => h("th", {}, t)))),
      h("tbody", { id: "imp-error-rows" }),
    ),
  );
}

function pick() {
  const f = $("imp-file").files && $("imp-file").files[0];
  $("imp-file").value = "";
  if (!f) return;
  const reader = new FileReader();
  reader.onload = () => {
    const url = String(reader.result || "");
    chosen = { name: f.name, dataB64: url.slice(url.indexOf(",") + 1) };
    $("imp-name").textContent = f.name;
    $("imp-check").disabled = false;
    $("imp-run").disabled = false;
    $("imp-summary").hidden = true;
    $("imp-errors").hidden = true;
    clearMessage();
    $("imp-check").focus();
  };
  reader.onerror = () => showMessage(`无法读取文件“${f.name}”`, "error");
  reader.readAsDataURL(f);
}

async function run(dryRun) {
  if (!chosen) {
    showMessage("请先选择要导入的文件", "error");
    return;
  }
  const onlyValid = $("imp-only-valid").checked;
  let pin = "";
  if (!dryRun) {
    pin = await askPin("导入历史警情 · 请输入签名 PIN");
    if (pin === null) return;
  }
  await busy([$("imp-check"), $("imp-run")], async () => {
    try {
      showMessage(dryRun ? "正在检查文件…" : "正在导入…", "progress");
      const o = await call("incident_import", { name: chosen.name, dataB64: chosen.dataB64, dryRun, onlyValid, pin: dryRun ? null : pin });
      render(o, dryRun, onlyValid);
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

function render(o, dryRun, onlyValid) {
  const s = $("imp-summary");
  for (const k of ["rows", "refused", "already", "imported"]) s.dataset[k] = String(o[k]);
  const good = o.rows - o.refused - o.already;
  s.textContent = `共 ${o.rows} 行：有错误 ${o.refused} 行，已导入过 ${o.already} 行${dryRun ? `，可导入 ${good} 行` : `，本次导入 ${o.imported} 条`}`;
  s.hidden = false;
  const errors = o.errors || [];
  $("imp-error-rows").replaceChildren(
    ...errors.map((e) =>
      h(
        "tr",
        { "data-testid": "imp-error" },
        h("td", { class: "num", "data-testid": "imp-err-row" }, String(e.row)),
        h("td", { "data-testid": "imp-err-column" }, e.column),
        h("td", { class: "mono", "data-testid": "imp-err-value" }, e.value),
        h("td", { "data-testid": "imp-err-message" }, e.message),
      ),
    ),
  );
  $("imp-errors").hidden = errors.length === 0;
  if (dryRun) {
    showMessage(o.refused > 0 ? `检查完成：${o.refused} 行有错误（见下表），请修改文件，或勾选“只导入正确的行”后导入` : `检查完成：没有错误，可导入 ${good} 行`, o.refused > 0 ? "error" : "success");
  } else if (o.imported === 0 && o.refused > 0 && !onlyValid) {
    showMessage(`有 ${o.refused} 行错误，未导入任何记录。请修改文件，或勾选“只导入正确的行”`, "error");
  } else {
    showMessage(`已导入 ${o.imported} 条历史警情${o.already ? `（${o.already} 条此前已导入，已跳过）` : ""}`, "success");
  }
}
