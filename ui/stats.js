// stats.js — 查询统计 (screen-stats) for those the hub lets query: the 110
// brigade, 指挥中心, the bureau's leaders (the whole bureau) and station
// leaders (their station). The hub decides who may (stats_access, and
// again on every call); the workbench shows the way in only to them.
// Panels: 警情查询 (query.js), 统计分析 (counts by period × unit / category /
// 乡镇, a table and a chart), 处警速度 (per unit, stacked bars), 警情通报
// (a week, month, quarter or year: the report's tables as the PDF prints
// them, with charts; 下载 PDF / 下载 xlsx) and, for a desk's members, 历史导入
// (import.js). Every figure is the hub's; charts show counts only.
//
// Keys: Alt+1 … Alt+5 switch panels; Enter in a form runs it.
//
// Stable ids (id == data-testid): open-stats (workbench button), body[data-stats]
// (allowed | denied, once the hub answered stats_access), screen-stats,
// stats-back, stats-scope, stab-query, stab-group, stab-speed, stab-report,
// stab-import (aria-selected); panel-query … panel-import.
// 统计分析: g-from, g-to, g-period, g-dim, g-measure, g-submit, g-export, g-chart
//   (canvas, data-drawn="true" once drawn), g-table with tr[data-testid=g-row], g-empty.
// 处警速度: s-from, s-to, s-kind, s-submit, s-chart, s-table (s-row), s-empty.
// 警情通报: r-kind, r-year, r-number, r-submit, r-pdf, r-xlsx, r-out with r-title,
//   r-meta, tables r-table-<n> (rows r-table-<n>-row, data-title), canvases
//   r-chart-category, r-chart-speed-<ack|depart|feedback>.

import { h, fmtTime } from "./form.js";
import { call, errorText } from "./api.js";
import { $, state, showScreen, showMessage, clearMessage, busy } from "./shell.js";
import { saveFile } from "./download.js";
import { barChart } from "./charts.js";
import { access, options, selectOf, cond, hubTable, fenText, beijingToday } from "./statskit.js";
import { queryPanel, loadSaved, currentFilter } from "./query.js";
import { importPanel } from "./import.js";

const PANELS = [
  ["query", "警情查询"],
  ["group", "统计分析"],
  ["speed", "处警速度"],
  ["report", "警情通报"],
  ["import", "历史导入"],
];

const MEASURES = [
  ["count", "警情数"],
  ["valid", "有效报警"],
  ["injured", "受伤人数"],
  ["dead", "死亡人数"],
];

// The screen is built for one user's choices; another user (signed in on
// this page, or switched to on this PC) gets it built again.
let builtFor = null;
let panel = "query";

/** Adds the workbench's way in (hidden until the hub says this user may query). */
export function wireStats() {
  const entry = h("button", { type: "button", class: "btn", id: "open-stats", "data-testid": "open-stats", hidden: true, onclick: () => openStats() }, "查询统计");
  $("new-case").before(entry);
  document.addEventListener("keydown", (e) => {
    if (state.screen !== "stats" || !e.altKey || e.ctrlKey || e.metaKey) return;
    const i = Number(e.key) - 1;
    const visible = PANELS.filter(([k]) => k !== "import" || canImport());
    if (i >= 0 && i < visible.length) {
      e.preventDefault();
      selectPanel(visible[i][0]);
    }
  });
}

// Why the hub could not be asked last time (null when it answered).
let lastError = null;

const canImport = () => Boolean(access.value && access.value.can_import);

/** Asks the hub whether this user may query; shows or hides the way in. */
export async function refreshStatsEntry() {
  try {
    access.value = await call("stats_access");
    lastError = null;
  } catch (err) {
    // The hub unreachable (the desktop offline): what it said last stands,
    // and opening the screen says why nothing can be asked now.
    lastError = errorText(err);
  }
  const allowed = Boolean(access.value && access.value.allowed);
  $("open-stats").hidden = !allowed;
  document.body.dataset.stats = allowed ? "allowed" : "denied";
}

export async function openStats() {
  clearMessage();
  await refreshStatsEntry();
  if (!access.value || !access.value.allowed) {
    showMessage((access.value && access.value.reason) || lastError || "无法取得查询权限，请检查与县局服务器的连接", "error");
    return;
  }
  if (lastError) showMessage(lastError, "error");
  const key = JSON.stringify([access.value.scope, access.value.can_import, access.value.options]);
  if (builtFor !== key) {
    if ($("screen-stats")) $("screen-stats").remove();
    build();
    builtFor = key;
    panel = "query";
  }
  showScreen("stats");
  $("stats-scope").textContent = `查询范围：${access.value.scope}`;
  $("stab-import").hidden = !canImport();
  selectPanel(panel);
  loadSaved();
}

function build() {
  const main = $("screen-work").parentElement;
  const screen = h(
    "section",
    { class: "screen", id: "screen-stats", "data-testid": "screen-stats", hidden: true },
    h(
      "div",
      { class: "page-head" },
      h("button", { type: "button", class: "btn", id: "stats-back", "data-testid": "stats-back", onclick: back }, "← 返回工作台"),
      h("h2", {}, "110 查询统计"),
      h("span", { class: "help", id: "stats-scope", "data-testid": "stats-scope" }),
    ),
    h(
      "div",
      { class: "tabs stats-tabs", role: "tablist", "aria-label": "查询统计" },
      PANELS.map(([k, label], i) =>
        h("button", { type: "button", role: "tab", class: "tab", id: `stab-${k}`, "data-testid": `stab-${k}`, "aria-selected": "false", title: `Alt+${i + 1}`, onclick: () => selectPanel(k) }, label),
      ),
    ),
    queryPanel(),
    groupPanel(),
    speedPanel(),
    reportPanel(),
    importPanel(),
  );
  main.append(screen);
}

function back() {
  clearMessage();
  import("./work.js").then((m) => m.openWork());
}

function selectPanel(k) {
  if (k === "import" && !canImport()) k = "query";
  panel = k;
  for (const [p] of PANELS) {
    $(`stab-${p}`).setAttribute("aria-selected", p === k ? "true" : "false");
    $(`panel-${p}`).hidden = p !== k;
  }
  $("screen-stats").dataset.panel = k;
}

function dates(prefix) {
  return [
    h("input", { type: "date", id: `${prefix}-from`, "data-testid": `${prefix}-from`, "aria-label": "报警时间起" }),
    h("span", { class: "cond-sep" }, "至"),
    h("input", { type: "date", id: `${prefix}-to`, "data-testid": `${prefix}-to`, "aria-label": "报警时间止" }),
  ];
}

/** The panel's dates, over the 警情查询 conditions when asked to use them. */
function filterOf(prefix) {
  const f = $(`${prefix}-use-query`) && $(`${prefix}-use-query`).checked ? currentFilter() : {};
  for (const k of ["from", "to"]) {
    const v = $(`${prefix}-${k}`).value.trim();
    if (v) f[k] = v;
  }
  return f;
}

const useQuery = (prefix) =>
  h("label", { class: "check" }, h("input", { type: "checkbox", id: `${prefix}-use-query`, "data-testid": `${prefix}-use-query` }), " 同时使用“警情查询”中的条件");

// ------------------------------------------------------------ 统计分析

function groupPanel() {
  const o = options();
  return h(
    "div",
    { class: "stats-panel", id: "panel-group", "data-testid": "panel-group", hidden: true },
    h(
      "form",
      { class: "card cond-form", id: "g-form", novalidate: true, onsubmit: (e) => (e.preventDefault(), runGroup()) },
      h(
        "div",
        { class: "cond-grid" },
        cond("报警时间", "g-from", ...dates("g")),
        cond("时间分组", "g-period", selectOf("g-period", o.periods, { all: "不按时间" })),
        cond("分组", "g-dim", selectOf("g-dim", o.dims, { all: "不分组" })),
        cond("图表显示", "g-measure", selectOf("g-measure", MEASURES.map(([code, label]) => ({ code, label })), { all: null })),
      ),
      useQuery("g"),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "btn btn-primary", id: "g-submit", "data-testid": "g-submit" }, "统计"),
        h("button", { type: "button", class: "btn", id: "g-export", "data-testid": "g-export", onclick: exportGroup }, "导出 xlsx"),
      ),
    ),
    h("div", { class: "chart-box" }, h("canvas", { id: "g-chart", "data-testid": "g-chart", role: "img", "aria-label": "统计图" })),
    h("table", { class: "case-table stats-table", id: "g-table", "data-testid": "g-table" }, h("thead", { id: "g-head" }), h("tbody", { id: "g-rows" })),
    h("p", { class: "empty", id: "g-empty", "data-testid": "g-empty", hidden: true }, "没有符合条件的警情"),
  );
}

const groupBy = () => [$("g-period").value, $("g-dim").value].filter(Boolean).join(",");

async function runGroup() {
  await busy([$("g-submit")], async () => {
    try {
      const v = await call("incident_stats", { filter: filterOf("g"), by: groupBy() });
      clearMessage();
      renderGroup(v);
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

function renderGroup(v) {
  const o = options();
  const label = (d) => (o.periods || []).concat(o.dims || []).find((x) => x.code === d)?.label || d;
  const dims = v.dims || [];
  $("g-head").replaceChildren(
    h("tr", {}, ...dims.map((d) => h("th", {}, d === "unit" || d === "category" || d === "township" ? label(d) : `时段（${label(d)}）`)), ...["警情数", "有效报警", "损失金额（元）", "受伤人数", "死亡人数"].map((x) => h("th", {}, x))),
  );
  const rows = v.rows || [];
  $("g-rows").replaceChildren(
    ...rows.map((r) =>
      h(
        "tr",
        { "data-testid": "g-row" },
        ...dims.map((d) => h("td", {}, r.names[d] || r.keys[d] || "")),
        h("td", { class: "num" }, String(r.count)),
        h("td", { class: "num" }, String(r.valid)),
        h("td", { class: "num mono", "data-fen": String(r.loss_fen) }, fenText(r.loss_fen)),
        h("td", { class: "num" }, String(r.injured)),
        h("td", { class: "num" }, String(r.dead)),
      ),
    ),
  );
  $("g-empty").hidden = rows.length > 0;
  // The chart: periods (or the one grouping) along the axis; with both, one
  // stacked series per unit / category / 乡镇.
  const measure = $("g-measure").value || "count";
  const mLabel = MEASURES.find(([k]) => k === measure)[1];
  const time = dims.find((d) => !["unit", "category", "township"].includes(d));
  const other = dims.find((d) => ["unit", "category", "township"].includes(d));
  const axisKey = (r) => (time ? r.keys[time] : other ? r.names[other] || r.keys[other] : "合计");
  const labels = [...new Set(rows.map(axisKey))];
  let datasets;
  if (time && other) {
    const series = [...new Set(rows.map((r) => r.names[other] || r.keys[other]))];
    datasets = series.map((s) => ({
      label: s,
      data: labels.map((l) => rows.filter((r) => axisKey(r) === l && (r.names[other] || r.keys[other]) === s).reduce((n, r) => n + r[measure], 0)),
    }));
  } else {
    datasets = [{ label: mLabel, data: labels.map((l) => rows.filter((r) => axisKey(r) === l).reduce((n, r) => n + r[measure], 0)) }];
  }
  barChart($("g-chart"), labels, datasets, { stacked: Boolean(time && other), title: mLabel });
}

async function exportGroup() {
  await busy([$("g-export")], async () => {
    try {
      const file = await call("incident_stats_export", { filter: filterOf("g"), by: groupBy(), format: "xlsx" });
      showMessage(await saveFile(file), "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

// ------------------------------------------------------------ 处警速度

function speedPanel() {
  const o = options();
  return h(
    "div",
    { class: "stats-panel", id: "panel-speed", "data-testid": "panel-speed", hidden: true },
    h(
      "form",
      { class: "card cond-form", id: "s-form", novalidate: true, onsubmit: (e) => (e.preventDefault(), runSpeed()) },
      h(
        "div",
        { class: "cond-grid" },
        cond("报警时间", "s-from", ...dates("s")),
        cond("速度", "s-kind", selectOf("s-kind", (o.speeds || []).map((k) => ({ code: k.code, label: `${k.label}速度（派警至${k.label}）` })), { all: null })),
      ),
      useQuery("s"),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary", id: "s-submit", "data-testid": "s-submit" }, "统计")),
    ),
    h("div", { class: "chart-box chart-tall" }, h("canvas", { id: "s-chart", "data-testid": "s-chart", role: "img", "aria-label": "处警速度图" })),
    h("table", { class: "case-table stats-table", id: "s-table", "data-testid": "s-table" }, h("thead", { id: "s-head" }), h("tbody", { id: "s-rows" })),
    h("p", { class: "empty", id: "s-empty", "data-testid": "s-empty", hidden: true }, "所选时段内没有可计算速度的派警"),
  );
}

async function runSpeed() {
  await busy([$("s-submit")], async () => {
    try {
      const v = await call("incident_speed", { filter: filterOf("s"), kind: $("s-kind").value });
      clearMessage();
      renderSpeed(v);
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

function renderSpeed(v) {
  const buckets = v.buckets || [];
  const units = v.units || [];
  $("s-head").replaceChildren(h("tr", {}, h("th", {}, "管辖单位"), ...buckets.map((b) => h("th", {}, b)), h("th", {}, "派警单数")));
  $("s-rows").replaceChildren(
    ...units.map((u) =>
      h(
        "tr",
        { "data-testid": "s-row", "data-unit": u.unit },
        h("td", {}, u.name),
        ...u.counts.map((c) => h("td", { class: "num" }, String(c))),
        h("td", { class: "num" }, String(u.counts.reduce((a, b) => a + b, 0))),
      ),
    ),
  );
  $("s-empty").hidden = units.length > 0;
  barChart(
    $("s-chart"),
    units.map((u) => u.name),
    buckets.map((b, i) => ({ label: b, data: units.map((u) => u.counts[i]) })),
    { stacked: true, horizontal: true, title: v.label || "处警速度" },
  );
}

// ------------------------------------------------------------ 警情通报

const KINDS = [
  ["month", "月报", 12, (n) => `${n} 月`],
  ["week", "周报", 53, (n) => `第 ${n} 周`],
  ["quarter", "季报", 4, (n) => `第 ${n} 季度`],
  ["year", "年报", 0, () => ""],
];

function reportPanel() {
  const thisYear = Number(beijingToday().slice(0, 4));
  const years = Array.from({ length: 8 }, (_, i) => thisYear - i);
  const panelEl = h(
    "div",
    { class: "stats-panel", id: "panel-report", "data-testid": "panel-report", hidden: true },
    h(
      "form",
      { class: "card cond-form", id: "r-form", novalidate: true, onsubmit: (e) => (e.preventDefault(), runReport()) },
      h(
        "div",
        { class: "cond-grid" },
        cond("通报类型", "r-kind", selectOf("r-kind", KINDS.map(([code, label]) => ({ code, label })), { all: null })),
        cond("年份", "r-year", selectOf("r-year", years.map((y) => ({ code: String(y), label: `${y} 年` })), { all: null })),
        cond("期", "r-number", h("select", { id: "r-number", "data-testid": "r-number" })),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "btn btn-primary", id: "r-submit", "data-testid": "r-submit" }, "生成通报"),
        h("button", { type: "button", class: "btn", id: "r-pdf", "data-testid": "r-pdf", onclick: () => reportFile("pdf") }, "下载 PDF"),
        h("button", { type: "button", class: "btn", id: "r-xlsx", "data-testid": "r-xlsx", onclick: () => reportFile("xlsx") }, "下载 xlsx"),
      ),
    ),
    h("div", { class: "report-out", id: "r-out", "data-testid": "r-out", hidden: true }),
  );
  panelEl.querySelector("#r-kind").addEventListener("change", () => fillNumbers());
  panelEl.querySelector("#r-year").addEventListener("change", () => fillNumbers(true));
  setTimeout(() => fillNumbers(), 0);
  return panelEl;
}

/** The periods of the chosen kind and year; by default the last one ended. */
function fillNumbers(keep = false) {
  const kind = $("r-kind").value;
  const [, , count, label] = KINDS.find(([k]) => k === kind);
  const sel = $("r-number");
  const before = sel.value;
  sel.replaceChildren(...Array.from({ length: count }, (_, i) => h("option", { value: String(i + 1) }, label(i + 1))));
  sel.disabled = count === 0;
  if (keep && before && Number(before) <= count) sel.value = before;
  else if (count > 0) {
    const today = beijingToday();
    const month = Number(today.slice(5, 7));
    const last = kind === "month" ? month - 1 : kind === "quarter" ? Math.floor((month - 1) / 3) : 1;
    sel.value = String(Math.max(1, last));
  }
}

function period() {
  const kind = $("r-kind").value;
  const y = $("r-year").value;
  const n = Number($("r-number").value);
  if (kind === "year") return y;
  if (kind === "month") return `${y}-${String(n).padStart(2, "0")}`;
  if (kind === "quarter") return `${y}-Q${n}`;
  return `${y}-W${String(n).padStart(2, "0")}`;
}

async function runReport() {
  await busy([$("r-submit")], async () => {
    try {
      const v = await call("incident_report", { period: period() });
      clearMessage();
      renderReport(v);
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

function renderReport(v) {
  const r = v.report;
  const out = $("r-out");
  const tables = v.tables || [];
  const kids = [
    h("h3", { class: "report-title", id: "r-title", "data-testid": "r-title" }, r.title),
    h("p", { class: "help", id: "r-meta", "data-testid": "r-meta" }, `统计期 ${r.from} 至 ${r.to}；环比对比 ${r.previous_period}，同比对比 ${r.year_earlier_period}；范围 ${r.scope}；生成于 ${fmtTime(r.generated_at)}`),
  ];
  tables.forEach((t, i) => {
    const section = h("section", { class: "report-section", "data-title": t.title }, h("h4", {}, t.title));
    if (i === 1) section.append(h("div", { class: "chart-box" }, h("canvas", { id: "r-chart-category", "data-testid": "r-chart-category", role: "img", "aria-label": "警情类别图" })));
    // A speed table is titled "签收速度（派警至签收）".
    const speed = (r.speed || []).find((s) => t.title.startsWith(s.label));
    if (speed) section.append(h("div", { class: "chart-box" }, h("canvas", { id: `r-chart-speed-${speed.kind}`, "data-testid": `r-chart-speed-${speed.kind}`, role: "img", "aria-label": t.title })));
    const table = hubTable(`r-table-${i}`, t);
    table.dataset.title = t.title;
    section.append(table);
    kids.push(section);
  });
  out.replaceChildren(...kids);
  out.hidden = false;
  const cats = r.by_category || [];
  if ($("r-chart-category")) {
    barChart(
      $("r-chart-category"),
      cats.map((l) => l.name),
      [{ label: "警情数", data: cats.map((l) => l.count) }],
      { title: "警情类别" },
    );
  }
  for (const s of r.speed || []) {
    const canvas = $(`r-chart-speed-${s.kind}`);
    if (!canvas) continue;
    barChart(
      canvas,
      s.units.map((u) => u.name),
      s.buckets.map((b, i) => ({ label: b, data: s.units.map((u) => u.counts[i]) })),
      { stacked: true, horizontal: true, title: s.label },
    );
  }
}

async function reportFile(format) {
  const btn = $(format === "pdf" ? "r-pdf" : "r-xlsx");
  await busy([btn], async () => {
    try {
      showMessage("正在生成文件…", "progress");
      const file = await call("incident_report_file", { period: period(), format });
      showMessage(await saveFile(file), "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}
