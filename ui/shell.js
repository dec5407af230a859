// shell.js — what every screen shares: the backend's commands (api), labels,
// the page state, screens, messages, busy buttons and the signing-PIN dialog.

import { call } from "./api.js";

export const $ = (id) => document.getElementById(id);

export const OFFLINE_SAVED = "已保存在本机，网络恢复后自动上传";

// ============================================================== backend

// The one call function (Tauri command, or the hub's /api/ui in a browser): api.js.

export const api = {
  status: () => call("status"),
  enrol: (a) => call("enrol", a),
  lists: () => call("lists"),
  template: () => call("template"),
  validate: (values, mode) => call("validate", { values, mode }),
  create: (values, pin) => call("create", { values, pin }),
  attach: (caseId, name, dataB64, pin, scanId = null) => call("attach", { caseId, name, dataB64, scanId, pin }),
  scanCheck: (name, dataB64) => call("scan_check", { name, dataB64 }),
  rotatePage: (caseId, sm3, quarterTurns, pin) => call("rotate_page", { caseId, sm3, quarterTurns, pin }),
  arrangePages: (caseId, order, pin) => call("arrange_pages", { caseId, order, pin }),
  submit: (caseId, pin) => call("submit", { caseId, pin }),
  update: (caseId, values, pin) => call("update", { caseId, values, pin }),
  caseDetail: (caseId) => call("case_detail", { caseId }),
  attachmentData: (sm3) => call("attachment_data", { sm3 }),
  checkOpinion: (decision, opinion) => call("check_opinion", { decision, opinion }),
  decide: (caseId, decision, opinion, pin) => call("decide", { caseId, decision, opinion, pin }),
  act: (caseId, action, note, channel, pin) => call("act", { caseId, action, note, channel, pin }),
  syncNow: () => call("sync_now"),
  // 110 接处警
  incidentTemplate: () => call("incident_template"),
  incidentLists: (q) => call("incident_lists", { q: q || null }),
  incidentDetail: (caseId) => call("incident_detail", { caseId }),
  incidentRepeats: (form) => call("incident_repeats", { form }),
  incidentValidate: (step, form, caseId = null, unit = null) => call("incident_validate", { step, form, caseId, unit }),
  moneyTotal: (amounts) => call("money_total", { amounts }),
  incidentCreate: (form, pin, unit = null) => call("incident_create", { form, unit, pin }),
  incidentDispatch: (caseId, units, opinion, pin) => call("incident_dispatch", { caseId, units, opinion, pin }),
  incidentStep: (caseId, step, pin) => call("incident_step", { caseId, step, pin }),
  redo: (pin) => call("redo", { pin }),
};

// ============================================================== labels

const STATUS_LABELS = {
  draft: "草稿",
  in_review: "审批中",
  returned: "退回补正",
  withdrawn: "已撤回",
  approved: "已同意",
  rejected: "不同意",
  cancelled: "已作废",
  received: "受理",
  dispatched: "已下达",
  acknowledged: "已签收",
  departed: "已出警",
  arrived: "已到达现场",
  feedback_filed: "已反馈",
  concluded: "已终结",
  archived: "已归档",
};
// The backend may send codes (in_review) or labels (审批中); both are shown
// as labels, and styled by code.
export const statusLabel = (s) => (s ? STATUS_LABELS[s] || String(s) : "");
export const statusCode = (s) => (s ? Object.keys(STATUS_LABELS).find((k) => k === s || STATUS_LABELS[k] === s) || String(s) : "");

const DECISION_LABELS = {
  agree: "同意",
  disagree: "不同意",
  return: "退回补正",
  create: "创建",
  submit: "提交",
  resubmit: "重新提交",
  withdraw: "撤回",
  cancel: "作废",
  implement: "落实",
  inform: "告知申请人",
  inform_applicant: "告知申请人",
};
export const decisionLabel = (d) => (d ? DECISION_LABELS[d] || String(d) : "");
export const decisionCode = (d) => (d ? Object.keys(DECISION_LABELS).find((k) => k === d || DECISION_LABELS[k] === d) || String(d) : "");

export const ACTION_DONE = { withdraw: "已撤回", implement: "已落实", inform: "已登记告知申请人" };

// ============================================================== state

export const state = {
  screen: "loading",
  status: null,
  lists: { todo: [], done: [], sent: [], drafts: [] },
  tab: "todo",
  search: "",
  template: null,
  form: null, // CaseForm on the new-case screen
  created: null, // {case_id, case_no} once the new case is saved but not finished
  editing: null, // {case_id, case_no, values} while 修改申请 is open (values: the stored, unmasked ones)
  caseId: null,
  detail: null,
  opinions: new Map(), // caseId → opinion being written
  addingUser: false, // the enrolment screen is adding another user of this PC
  // 110 接处警: the template (null until read; false when this user has no 110 unit),
  // the lists, the open tab and search, the open record.
  incident: { template: null, lists: null, tab: null, q: "", caseId: null, detail: null, loadedAt: 0 },
};

export const TABS = ["todo", "done", "sent", "drafts"];

// ============================================================== page helpers

export function showScreen(name) {
  state.screen = name;
  document.body.dataset.screen = name;
  const section = name === "edit" ? "new" : name; // 修改申请 reuses the new-case screen
  for (const s of ["loading", "enrol", "work", "new", "case", "slip", "verify", "users", "incidents", "intake", "incident", "stats", "supervise", "admin"]) {
    // 查询统计, 督办清单 and 系统管理 are built the first time they are opened.
    if ($(`screen-${s}`)) $(`screen-${s}`).hidden = s !== section;
  }
  // 添加用户 reuses the enrolment screen with a way back.
  $("enrol-title").textContent = state.addingUser ? "添加用户 · 登记本机" : "首次使用 · 登记本机";
  $("enrol-cancel").hidden = !state.addingUser;
  const enrolled = Boolean(state.status && state.status.enrolled);
  $("user-box").hidden = !enrolled || name === "enrol";
  $("sync-indicator").hidden = !enrolled || name === "enrol";
  window.scrollTo(0, 0);
}

export let messageAction = null;

/**
 * Shows a message; kind: info | success | error | progress. Stays until
 * replaced or closed. `action` ({label, run}) adds a button (message-action).
 */
export function showMessage(text, kind = "info", action = null) {
  $("message-text").textContent = text;
  $("message").dataset.kind = kind;
  $("message").hidden = false;
  messageAction = action;
  $("message-action").hidden = !action;
  $("message-action").textContent = action ? action.label : "";
}

export function clearMessage() {
  $("message-text").textContent = "";
  $("message").dataset.kind = "none";
  $("message").hidden = true;
  messageAction = null;
  $("message-action").hidden = true;
}

export let busyCount = 0;
/** Runs an action with its buttons disabled and the page marked busy. */
export async function busy(buttons, fn) {
  busyCount += 1;
  document.body.setAttribute("aria-busy", "true");
  const disabled = buttons.filter((b) => b && !b.disabled);
  for (const b of disabled) b.disabled = true;
  try {
    return await fn();
  } finally {
    for (const b of disabled) b.disabled = false;
    busyCount -= 1;
    if (busyCount === 0) document.body.removeAttribute("aria-busy");
  }
}

// ============================================================== PIN modal

export let pinResolve = null;
let pinReturnFocus = null;

/** Asks for the signing PIN; resolves to the PIN, or null when cancelled. */
export function askPin(title) {
  if (pinResolve) closePin(null);
  pinReturnFocus = document.activeElement;
  $("pin-title").textContent = title;
  $("pin-input").value = "";
  $("pin-error").textContent = "";
  $("pin-modal").hidden = false;
  $("pin-input").focus();
  return new Promise((resolve) => {
    pinResolve = resolve;
  });
}

function closePin(result) {
  $("pin-modal").hidden = true;
  $("pin-input").value = "";
  const resolve = pinResolve;
  pinResolve = null;
  if (pinReturnFocus && typeof pinReturnFocus.focus === "function") pinReturnFocus.focus();
  if (resolve) resolve(result);
}

export function wirePinModal() {
  $("pin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const pin = $("pin-input").value;
    if (!pin) {
      $("pin-error").textContent = "请输入签名 PIN";
      $("pin-input").focus();
      return;
    }
    closePin(pin);
  });
  $("pin-cancel").addEventListener("click", () => closePin(null));
  $("pin-modal").addEventListener("keydown", (e) => {
    if (e.key === "Escape") closePin(null);
  });
}
