// query.js — 警情查询 (panel-query of screen-stats): a condition form over the
// 110 records this user may see (the hub narrows every query to the
// caller's scope), a sortable, paged table with the total, saved queries,
// and the result exported as xlsx or CSV. The hub checks the conditions
// (its errors are shown as they are); money stays integer fen and is
// typed and shown in yuan.
//
// Keys: Enter in any condition runs the query; the column headers are
// buttons (Enter sorts, again reverses); PageDown / PageUp in the table
// turn the page.
//
// Stable ids (id == data-testid): query-form; q-from, q-to, q-unit (picker,
// list q-unit-list), q-category (picker, list q-category-list), q-township,
// q-method, q-level, q-result, q-status, q-valid, q-injured, q-dead,
// q-loss-min, q-loss-max, q-text; q-submit, q-reset, q-export-xlsx,
// q-export-csv; q-save-name, q-save; q-saved (ul) with
// li[data-testid=saved-query][data-name] holding saved-open, saved-delete;
// q-total (data-total), q-table with th > button[data-sort] (aria-sort on the
// th), q-rows with tr[data-testid=q-row][data-case-no] and cells q-case-no,
// q-time, q-unit-cell, q-category-cell, q-township-cell, q-summary,
// q-status-cell, q-valid-cell, q-casualty, q-loss (data-fen); q-empty;
// q-prev, q-next, q-page, q-per-page.

import { h } from "./form.js";
import { picker } from "./picker.js";
import { call, errorText } from "./api.js";
import { showMessage, clearMessage, busy } from "./shell.js";
import { saveFile } from "./download.js";
import { options, selectOf, cond } from "./statskit.js";

const $ = (id) => document.getElementById(id);

const q = {
  sort: "report_time",
  desc: true,
  page: 1,
  perPage: 50,
  last: null, // the last page the hub answered
  pickers: {},
  wired: false,
};

const COLUMNS = [
  ["case_no", "接警单编号"],
  ["report_time", "报警时间"],
  ["unit", "管辖单位"],
  ["category", "报警类别"],
  [null, "乡镇"],
  [null, "报警内容 / 案发地点"],
  [null, "状态"],
  [null, "有效"],
  [null, "伤 / 亡"],
  ["loss", "损失（元）"],
];

const YES_NO = (yes, no) => [
  { code: "true", label: yes },
  { code: "false", label: no },
];

/** The panel, built once the user's choices are known. */
export function queryPanel() {
  const o = options();
  q.pickers.unit = picker("q-unit", o.units || [], { placeholder: "单位名称或拼音首字母（含下属单位）" });
  q.pickers.category = picker("q-category", o.categories || [], { placeholder: "任一级类别：名称或拼音首字母" });
  const form = h(
    "form",
    { class: "card cond-form", id: "query-form", "data-testid": "query-form", novalidate: true, autocomplete: "off", onsubmit: (e) => (e.preventDefault(), runQuery(1)) },
    h(
      "div",
      { class: "cond-grid" },
      cond(
        "报警时间",
        "q-from",
        h("input", { type: "date", id: "q-from", "data-testid": "q-from", "aria-label": "报警时间起" }),
        h("span", { class: "cond-sep" }, "至"),
        h("input", { type: "date", id: "q-to", "data-testid": "q-to", "aria-label": "报警时间止" }),
      ),
      cond("管辖单位", "q-unit", q.pickers.unit.element),
      cond("报警类别", "q-category", q.pickers.category.element),
      cond("乡镇", "q-township", selectOf("q-township", o.townships)),
      cond("报警方式", "q-method", selectOf("q-method", o.methods)),
      cond("警情级别", "q-level", selectOf("q-level", o.levels)),
      cond("处警结果", "q-result", selectOf("q-result", o.results)),
      cond("状态", "q-status", selectOf("q-status", o.statuses)),
      cond("有效警情", "q-valid", selectOf("q-valid", YES_NO("有效", "无效"))),
      cond(
        "伤亡",
        "q-injured",
        selectOf("q-injured", YES_NO("有伤", "无伤"), { all: "受伤：全部", label: "受伤" }),
        selectOf("q-dead", YES_NO("有亡", "无亡"), { all: "死亡：全部", label: "死亡" }),
      ),
      cond(
        "损失金额（元）",
        "q-loss-min",
        h("input", { type: "text", id: "q-loss-min", "data-testid": "q-loss-min", inputmode: "decimal", placeholder: "最少", "aria-label": "损失金额下限（元）", class: "money-input" }),
        h("span", { class: "cond-sep" }, "至"),
        h("input", { type: "text", id: "q-loss-max", "data-testid": "q-loss-max", inputmode: "decimal", placeholder: "最多", "aria-label": "损失金额上限（元）", class: "money-input" }),
      ),
      cond("关键词", "q-text", h("input", { type: "text", id: "q-text", "data-testid": "q-text", placeholder: "报警内容或案发地点中的词，多个词用空格分开" })),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "btn btn-primary", id: "q-submit", "data-testid": "q-submit" }, "查询"),
      h("button", { type: "button", class: "btn", id: "q-reset", "data-testid": "q-reset", onclick: resetForm }, "清空条件"),
      h("span", { class: "spacer" }),
      h("input", { type: "text", id: "q-save-name", "data-testid": "q-save-name", placeholder: "查询名称", "aria-label": "保存为", maxlength: "50" }),
      h("button", { type: "button", class: "btn", id: "q-save", "data-testid": "q-save", onclick: saveQuery }, "保存查询"),
      h("button", { type: "button", class: "btn", id: "q-export-xlsx", "data-testid": "q-export-xlsx", onclick: () => exportAs("xlsx") }, "导出 xlsx"),
      h("button", { type: "button", class: "btn", id: "q-export-csv", "data-testid": "q-export-csv", onclick: () => exportAs("csv") }, "导出 CSV"),
    ),
  );
  // Enter in the save-name box saves instead of querying.
  form.querySelector("#q-save-name").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      saveQuery();
    }
  });
  const table = h(
    "table",
    { class: "case-table query-table", id: "q-table", "data-testid": "q-table", tabindex: "-1" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        COLUMNS.map(([key, label]) =>
          key
            ? h("th", { "data-col": key }, h("button", { type: "button", class: "sort-button", "data-sort": key, "data-testid": `q-sort-${key}`, onclick: () => sortBy(key) }, label, h("span", { class: "sort-mark", "aria-hidden": "true" })))
            : h("th", {}, label),
        ),
      ),
    ),
    h("tbody", { id: "q-rows", "data-testid": "q-rows" }),
  );
  table.addEventListener("keydown", (e) => {
    if (e.key === "PageDown") {
      e.preventDefault();
      turn(1);
    } else if (e.key === "PageUp") {
      e.preventDefault();
      turn(-1);
    }
  });
  return h(
    "div",
    { class: "stats-panel", id: "panel-query", "data-testid": "panel-query" },
    form,
    h(
      "div",
      { class: "saved-box" },
      h("strong", {}, "已保存的查询："),
      h("ul", { class: "saved-list", id: "q-saved", "data-testid": "q-saved" }),
      h("span", { class: "help", id: "q-saved-empty", "data-testid": "q-saved-empty" }, "暂无"),
    ),
    h("p", { class: "result-head" }, h("span", { id: "q-total", "data-testid": "q-total", "data-total": "" }, "请设置条件后查询")),
    table,
    h("p", { class: "empty", id: "q-empty", "data-testid": "q-empty", hidden: true }, "没有符合条件的警情"),
    h(
      "div",
      { class: "pager" },
      h("button", { type: "button", class: "btn btn-small", id: "q-prev", "data-testid": "q-prev", onclick: () => turn(-1), disabled: true }, "‹ 上一页"),
      h("span", { id: "q-page", "data-testid": "q-page" }, ""),
      h("button", { type: "button", class: "btn btn-small", id: "q-next", "data-testid": "q-next", onclick: () => turn(1), disabled: true }, "下一页 ›"),
      h(
        "label",
        { for: "q-per-page" },
        "每页 ",
        h("select", { id: "q-per-page", "data-testid": "q-per-page", onchange: () => ((q.perPage = Number($("q-per-page").value)), runQuery(1)) }, [20, 50, 100, 200].map((n) => h("option", { value: String(n), selected: n === q.perPage }, String(n)))),
        " 条",
      ),
    ),
  );
}

/** The conditions as the hub reads them (`jingwu_core::stats::Filter`): only those set. */
export function currentFilter() {
  const f = {};
  const text = (id) => ($(id) ? $(id).value.trim() : "");
  const set = (k, v) => {
    if (v !== "" && v !== undefined && v !== null) f[k] = v;
  };
  set("from", text("q-from"));
  set("to", text("q-to"));
  set("unit", q.pickers.unit && q.pickers.unit.value());
  set("category", q.pickers.category && q.pickers.category.value());
  for (const [k, id] of [
    ["township", "q-township"],
    ["method", "q-method"],
    ["level", "q-level"],
    ["result", "q-result"],
    ["status", "q-status"],
  ])
    set(k, text(id));
  for (const [k, id] of [
    ["valid", "q-valid"],
    ["injured", "q-injured"],
    ["dead", "q-dead"],
  ])
    if (text(id)) f[k] = text(id) === "true";
  set("loss_min", text("q-loss-min"));
  set("loss_max", text("q-loss-max"));
  set("text", text("q-text"));
  return f;
}

/** Fills the form from a saved filter. */
function setFilter(f) {
  resetForm();
  const put = (id, v) => {
    if ($(id) && v !== undefined && v !== null) $(id).value = String(v);
  };
  put("q-from", f.from);
  put("q-to", f.to);
  if (f.unit) q.pickers.unit.set(f.unit);
  if (f.category) q.pickers.category.set(f.category);
  put("q-township", f.township);
  put("q-method", f.method);
  put("q-level", f.level);
  put("q-result", f.result);
  put("q-status", f.status);
  put("q-valid", f.valid);
  put("q-injured", f.injured);
  put("q-dead", f.dead);
  put("q-loss-min", f.loss_min);
  put("q-loss-max", f.loss_max);
  put("q-text", f.text);
}

function resetForm() {
  for (const el of document.querySelectorAll("#query-form input, #query-form select")) {
    if (el.id !== "q-save-name") el.value = "";
  }
  q.pickers.unit.clear();
  q.pickers.category.clear();
}

function request(page) {
  return { filter: currentFilter(), sort: q.sort, desc: q.desc, page, perPage: q.perPage };
}

/** Runs the query for `page` and shows it. */
export async function runQuery(page = 1) {
  await busy([$("q-submit"), $("q-prev"), $("q-next")], async () => {
    try {
      const r = await call("incident_query", request(page));
      q.last = r;
      q.page = r.page;
      clearMessage();
      renderPage();
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

function sortBy(key) {
  if (q.sort === key) q.desc = !q.desc;
  else {
    q.sort = key;
    // Money and time: the largest, the latest first; codes ascending.
    q.desc = key === "loss" || key === "report_time";
  }
  runQuery(1).then(() => {
    const b = document.querySelector(`#q-table button[data-sort="${key}"]`);
    if (b) b.focus();
  });
}

function turn(step) {
  const r = q.last;
  if (!r) return;
  const next = r.page + step;
  if (next < 1 || next > Math.max(1, r.pages)) return;
  runQuery(next);
}

function renderPage() {
  const r = q.last;
  $("q-total").textContent = `共 ${r.total} 条`;
  $("q-total").dataset.total = String(r.total);
  for (const th of document.querySelectorAll("#q-table th[data-col]")) {
    const on = th.dataset.col === q.sort;
    th.setAttribute("aria-sort", on ? (q.desc ? "descending" : "ascending") : "none");
    th.querySelector(".sort-mark").textContent = on ? (q.desc ? " ▼" : " ▲") : "";
  }
  $("q-rows").replaceChildren(...r.rows.map(row));
  $("q-empty").hidden = r.rows.length > 0;
  const pages = Math.max(1, r.pages);
  $("q-page").textContent = `第 ${r.page} / ${pages} 页`;
  $("q-prev").disabled = r.page <= 1;
  $("q-next").disabled = r.page >= pages;
}

function row(r) {
  return h(
    "tr",
    { class: "case-row", "data-testid": "q-row", "data-case-no": r.case_no, "data-unit": r.unit },
    h("td", { class: "mono", "data-testid": "q-case-no" }, r.case_no, r.imported ? h("span", { class: "tag", title: "历史导入" }, "导入") : null),
    h("td", { class: "mono", "data-testid": "q-time" }, r.report_time),
    h("td", { "data-testid": "q-unit-cell" }, r.unit_name || r.unit),
    h("td", { "data-testid": "q-category-cell" }, r.category_name || r.category),
    h("td", { "data-testid": "q-township-cell" }, r.township_name || ""),
    h("td", { "data-testid": "q-summary" }, r.summary, r.location ? h("div", { class: "help" }, r.location) : null),
    h("td", { "data-testid": "q-status-cell" }, h("span", { class: "status-badge", "data-status": r.status }, r.status_label)),
    h("td", { "data-testid": "q-valid-cell" }, r.valid ? "有效" : "无效"),
    h("td", { class: "num", "data-testid": "q-casualty" }, `${r.injured} / ${r.dead}`),
    h("td", { class: "num mono", "data-testid": "q-loss", "data-fen": String(r.loss_fen) }, r.loss),
  );
}

async function exportAs(format) {
  const btn = $(format === "xlsx" ? "q-export-xlsx" : "q-export-csv");
  await busy([btn], async () => {
    try {
      showMessage("正在生成文件…", "progress");
      const file = await call("incident_export", { ...request(1), format });
      showMessage(await saveFile(file), "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

// ------------------------------------------------------------ saved queries

async function saveQuery() {
  const name = $("q-save-name").value.trim();
  if (!name) {
    showMessage("请填写查询名称", "error");
    $("q-save-name").focus();
    return;
  }
  await busy([$("q-save")], async () => {
    try {
      await call("save_query", { name, filter: currentFilter() });
      $("q-save-name").value = "";
      showMessage(`已保存查询“${name}”`, "success");
      await loadSaved();
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

/** Reads the user's saved queries. */
export async function loadSaved() {
  let list = [];
  try {
    list = await call("saved_queries");
  } catch (err) {
    showMessage(errorText(err), "error");
  }
  $("q-saved").replaceChildren(
    ...(list || []).map((s) =>
      h(
        "li",
        { "data-testid": "saved-query", "data-name": s.name },
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small",
            "data-testid": "saved-open",
            title: "按此查询的条件查询",
            onclick: () => {
              setFilter(s.filter || {});
              $("q-save-name").value = s.name;
              runQuery(1);
            },
          },
          s.name,
        ),
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-link",
            "data-testid": "saved-delete",
            "aria-label": `删除查询“${s.name}”`,
            onclick: async () => {
              try {
                await call("delete_query", { name: s.name });
                showMessage(`已删除查询“${s.name}”`, "success");
              } catch (err) {
                showMessage(errorText(err), "error");
              }
              loadSaved();
            },
          },
          "×",
        ),
      ),
    ),
  );
  $("q-saved-empty").hidden = (list || []).length > 0;
}
