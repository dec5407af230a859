// work.js — 工作台 (screen-work): the four lists, tabs and search.

import { openCase, dueParts } from "./case.js";
import { $, api, statusLabel, statusCode, state, TABS, showScreen, showMessage } from "./shell.js";
import { errorText } from "./api.js";
import { h, fmtTime } from "./form.js";
import { openIncident, refreshIncidentEntry } from "./incident.js";
import { refreshStatsEntry } from "./stats.js";
import { refreshSuperviseEntry } from "./supervise.js";
import { refreshAdminEntry } from "./admin.js";

// ============================================================== 2. 工作台

export async function openWork() {
  showScreen("work");
  refreshSuperviseEntry();
  refreshAdminEntry();
  await Promise.all([loadLists(), refreshIncidentEntry(), refreshStatsEntry()]);
}

export async function loadLists() {
  try {
    const l = await api.lists();
    for (const t of TABS) state.lists[t] = Array.isArray(l && l[t]) ? l[t] : [];
  } catch (err) {
    showMessage(errorText(err), "error");
  }
  renderLists();
}

const timeValue = (row) => {
  const t = Date.parse(row.updated_at);
  return Number.isNaN(t) ? 0 : t;
};

export function renderLists() {
  for (const t of TABS) {
    $(`count-${t}`).textContent = String(state.lists[t].length);
    $(`tab-${t}`).setAttribute("aria-selected", t === state.tab ? "true" : "false");
  }
  const q = state.search.trim().toLowerCase();
  const rows = state.lists[state.tab]
    .filter((r) => !q || String(r.case_no || "").toLowerCase().includes(q) || String(r.subject_name || "").toLowerCase().includes(q))
    .sort((a, b) => timeValue(b) - timeValue(a));
  $("case-rows").replaceChildren(...rows.map(caseRow));
  $("list-empty").hidden = rows.length > 0;
  $("list-empty").textContent = q ? "没有符合条件的案件" : "暂无案件";
}

function caseRow(r) {
  const open = () => (r.kind === "incident" ? openIncident(r.id) : openCase(r.id));
  return h(
    "tr",
    {
      class: `case-row${r.overdue === true ? " overdue" : ""}`,
      "data-testid": "case-row",
      "data-case-id": r.id,
      "data-status": statusCode(r.status),
      "data-overdue": r.overdue === true ? "true" : "false",
      tabindex: "0",
      onclick: open,
      onkeydown: (e) => {
        if (e.key === "Enter") open();
      },
    },
    h("td", { class: "mono", "data-testid": "row-case-no" }, r.case_no || "（未编号）"),
    h("td", { "data-testid": "row-subject" }, r.subject_name || ""),
    h("td", { "data-testid": "row-summary" }, r.summary || ""),
    h("td", { "data-testid": "row-status" }, h("span", { class: "status-badge", "data-status": statusCode(r.status) }, statusLabel(r.status))),
    h("td", { "data-testid": "row-step" }, r.step || "—"),
    h("td", { class: "due", "data-testid": "row-due" }, ...(r.due ? dueParts(r) : ["—"])),
    h("td", { class: "mono", "data-testid": "row-updated" }, fmtTime(r.updated_at)),
  );
}

export function selectTab(tab) {
  state.tab = tab;
  renderLists();
}
