// incident.js — 110 接处警 (screen-incidents): the desk's and the unit's lists
// with their counts, a banner when a dispatch waits for 签收, the way into
// 接警登记 and to a record. The lists, tabs and counts are the core's
// (incident_lists); only the tabs that concern this user are shown.

import { h, fmtTime } from "./form.js";
import { intakeScreen, openIntake, saveIntake, leaveIntake } from "./intake.js";
import { incidentScreen, openIncident, wireIncidentPage } from "./incident-case.js";
import { $, api, state, statusCode, statusLabel, showScreen, showMessage, clearMessage } from "./shell.js";
import { errorText } from "./api.js";

export const DESK_TABS = [
  ["to_dispatch", "待派警"],
  ["unacked", "已派未签收"],
  ["handling", "处置中"],
  ["to_close", "待终结"],
  ["archived", "已归档"],
];
export const UNIT_TABS = [
  ["to_ack", "待签收"],
  ["in_progress", "处置中"],
  ["fed_back", "已反馈"],
];

/** "2 分 05 秒" */
export function fmtWait(secs) {
  const s = Math.max(0, Math.floor(Number(secs) || 0));
  if (s < 60) return `${s} 秒`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} 分 ${String(s % 60).padStart(2, "0")} 秒`;
  return `${Math.floor(m / 60)} 小时 ${m % 60} 分`;
}

function listsScreen() {
  return h(
    "section",
    { class: "screen", id: "screen-incidents", "data-testid": "screen-incidents", hidden: true },
    h(
      "div",
      { class: "page-head" },
      h("button", { type: "button", class: "btn", id: "incidents-back", "data-testid": "incidents-back" }, "← 返回工作台"),
      h("h2", {}, "110 接处警"),
    ),
    h(
      "div",
      { class: "incident-banner", id: "incident-banner", "data-testid": "incident-banner", role: "alert", hidden: true },
      h("strong", { id: "incident-banner-text", "data-testid": "incident-banner-text" }),
      h("button", { type: "button", class: "btn btn-primary btn-small", id: "incident-banner-open", "data-testid": "incident-banner-open" }, "立即查看"),
    ),
    h(
      "div",
      { class: "toolbar" },
      h("div", { class: "tabs", role: "tablist", "aria-label": "110 列表", id: "incident-tabs", "data-testid": "incident-tabs" }),
      h("input", { type: "search", id: "incident-search", "data-testid": "incident-search", placeholder: "查找已归档：编号、地点、内容、报警人、电话", "aria-label": "查找已归档警情", hidden: true }),
      h("button", { type: "button", class: "btn btn-primary", id: "new-incident", "data-testid": "new-incident" }, "＋ 接警登记"),
    ),
    h(
      "table",
      { class: "case-table incident-table", id: "incident-table", "data-testid": "incident-table" },
      h(
        "thead",
        {},
        h("tr", {}, ["接警单编号", "报警时间", "报警类别", "案发地点", "报警内容", "处警单位", "状态", "等待签收"].map((t) => h("th", {}, t))),
      ),
      h("tbody", { id: "incident-rows", "data-testid": "incident-rows" }),
    ),
    h("p", { class: "empty", id: "incident-empty", "data-testid": "incident-empty", hidden: true }, "暂无警情"),
  );
}

/** Adds the 110 screens and the workbench's way in. */
export function wireIncidents() {
  const main = $("screen-work").parentElement;
  main.append(listsScreen(), intakeScreen(), incidentScreen());
  const entry = h(
    "button",
    { type: "button", class: "btn", id: "open-110", "data-testid": "open-110", hidden: true, onclick: () => openIncidents() },
    "110 接处警 ",
    h("span", { class: "count", id: "count-110", "data-testid": "count-110" }, "0"),
  );
  $("new-case").before(entry);
  $("incidents-back").addEventListener("click", () => {
    clearMessage();
    import("./work.js").then((m) => m.openWork());
  });
  $("new-incident").addEventListener("click", () => {
    if (state.incident.template) openIntake(state.incident.template, (id) => openIncident(id, { keepMessage: true }));
  });
  $("intake-cancel").addEventListener("click", () => {
    leaveIntake();
    clearMessage();
    openIncidents();
  });
  $("intake-save").addEventListener("click", saveIntake);
  $("incident-banner-open").addEventListener("click", () => {
    const top = state.incident.lists && state.incident.lists.to_ack && state.incident.lists.to_ack[0];
    if (top) openIncident(top.id);
  });
  let searchTimer = null;
  $("incident-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.incident.q = $("incident-search").value;
      loadIncidentLists();
    }, 250);
  });
  wireIncidentPage({ openIncidents });
  // Waiting times count up between refreshes.
  setInterval(tickWaits, 1000);
}

/** Reads the template once: whether this user has a 110 unit at all. */
export async function incidentTemplate() {
  if (state.incident.template) return state.incident.template;
  try {
    state.incident.template = await api.incidentTemplate();
  } catch {
    state.incident.template = false;
  }
  return state.incident.template;
}

/** The workbench's 110 button: shown to 110 users, with their to-do count. */
export async function refreshIncidentEntry() {
  const t = await incidentTemplate();
  $("open-110").hidden = !t;
  if (!t) return;
  try {
    const l = await api.incidentLists(null);
    state.incident.lists = l;
    state.incident.loadedAt = Date.now();
    $("count-110").textContent = String(todoCount(l));
  } catch {
    // The 110 screen says what is wrong.
  }
}

/** What waits for this user: 待派警 + 待终结 at a desk, 待签收 at a unit. */
export function todoCount(l) {
  const c = (l && l.counts) || {};
  return (l && l.desk ? (c.to_dispatch || 0) + (c.to_close || 0) : 0) + (c.to_ack || 0);
}

export async function openIncidents() {
  clearMessage();
  const t = await incidentTemplate();
  if (!t) {
    showMessage("您所在单位不是 110 接警台或处警单位，不能使用接处警", "error");
    return;
  }
  showScreen("incidents");
  await loadIncidentLists();
}

export async function loadIncidentLists() {
  try {
    const l = await api.incidentLists(state.incident.q);
    state.incident.lists = l;
    state.incident.loadedAt = Date.now();
  } catch (err) {
    showMessage(errorText(err), "error");
  }
  renderIncidentLists();
}

/** The tabs this user sees: the desk's when at a desk, the unit's when not (or when a unit list holds something). */
function tabsFor(l) {
  const c = (l && l.counts) || {};
  const unitRows = UNIT_TABS.some(([k]) => (c[k] || 0) > 0);
  return [...(l && l.desk ? DESK_TABS : []), ...(!l || !l.desk || unitRows ? UNIT_TABS : [])];
}

export function renderIncidentLists() {
  const l = state.incident.lists || { counts: {} };
  const tabs = tabsFor(l);
  if (!tabs.some(([k]) => k === state.incident.tab)) state.incident.tab = tabs[0][0];
  const tab = state.incident.tab;
  $("incident-tabs").replaceChildren(
    ...tabs.map(([k, label]) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          class: "tab",
          id: `itab-${k}`,
          "data-testid": `itab-${k}`,
          "aria-selected": k === tab ? "true" : "false",
          onclick: () => {
            state.incident.tab = k;
            renderIncidentLists();
          },
        },
        `${label} `,
        h("span", { class: "count", id: `icount-${k}`, "data-testid": `icount-${k}` }, String((l.counts && l.counts[k]) || 0)),
      ),
    ),
  );
  $("incident-search").hidden = tab !== "archived";
  const rows = Array.isArray(l[tab]) ? l[tab] : [];
  $("incident-rows").replaceChildren(...rows.map((r, i) => incidentRow(r, i === 0 && tab === "to_ack")));
  $("incident-empty").hidden = rows.length > 0;
  $("incident-empty").textContent = tab === "archived" && state.incident.q ? "没有符合条件的警情" : "暂无警情";
  // A dispatch waiting for 签收 tops the unit's list with a banner.
  const waiting = Array.isArray(l.to_ack) ? l.to_ack : [];
  $("incident-banner").hidden = waiting.length === 0;
  if (waiting.length > 0) {
    const top = waiting[0];
    $("incident-banner-text").textContent = `新警情待签收（${waiting.length} 起）：${top.case_no} ${top.category || ""} ${top.location || ""} — ${top.summary || ""}`;
  }
  $("count-110").textContent = String(todoCount(l));
  tickWaits();
}

function incidentRow(r, first) {
  const open = () => openIncident(r.id);
  const units = Array.isArray(r.dispatches) ? r.dispatches.map((d) => `${d.unit_name}（${d.status}）`).join("、") : "";
  return h(
    "tr",
    {
      class: `case-row${first ? " row-new" : ""}`,
      "data-testid": "incident-row",
      "data-case-id": r.id,
      "data-case-no": r.case_no,
      "data-status": statusCode(r.status),
      "data-overdue": r.overdue ? "true" : "false",
      tabindex: "0",
      onclick: open,
      onkeydown: (e) => {
        if (e.key === "Enter") open();
      },
    },
    h("td", { class: "mono", "data-testid": "irow-case-no" }, r.case_no),
    h("td", { class: "mono" }, fmtTime(r.report_time)),
    h("td", { "data-testid": "irow-category" }, r.category || ""),
    h("td", {}, [r.township, r.location].filter(Boolean).join(" ")),
    h("td", { "data-testid": "irow-summary" }, r.summary || ""),
    h("td", { "data-testid": "irow-units" }, units || "—"),
    h("td", {}, h("span", { class: "status-badge", "data-status": statusCode(r.status) }, statusLabel(r.status))),
    h("td", { class: "mono wait", "data-testid": "irow-wait", "data-secs": r.waiting_secs ?? "" }, r.waiting_secs === null || r.waiting_secs === undefined ? "—" : fmtWait(r.waiting_secs)),
  );
}

/** Counts the shown waiting times up, and marks them overdue past the template's limit. */
function tickWaits() {
  if (state.screen !== "incidents") return;
  const limit = Number(state.incident.template && state.incident.template.ack_overdue_secs) || 180;
  const gone = (Date.now() - state.incident.loadedAt) / 1000;
  for (const cell of document.querySelectorAll("#incident-rows [data-testid=irow-wait]")) {
    if (cell.dataset.secs === "") continue;
    const secs = Number(cell.dataset.secs) + gone;
    cell.textContent = fmtWait(secs);
    cell.closest("tr").classList.toggle("overdue", secs >= limit);
    cell.closest("tr").dataset.overdue = secs >= limit ? "true" : "false";
  }
}

/** Opens a case of either kind (a notification or the tray names only its id). */
export async function openAnyCase(caseId, kind = null) {
  if (kind === "incident") return openIncident(caseId);
  if (kind === "hukou") return import("./case.js").then((m) => m.openCase(caseId));
  try {
    await api.incidentDetail(caseId);
    return openIncident(caseId);
  } catch {
    return import("./case.js").then((m) => m.openCase(caseId));
  }
}
export { openIncident } from "./incident-case.js";
