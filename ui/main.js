// main.js — the station desktop UI of 警务协同 (Tauri 2, no build step).
//
// Screens: 首次使用/登记本机 → 工作台 → 新建申请 / 案件详情 → 修改申请. All data comes
// from the Rust commands through window.__TAURI__.core.invoke; their errors
// are Chinese strings and are shown as they are.
//
// ---------------------------------------------------------------------------
// Stable ids (id == data-testid unless noted) for end-to-end tests
// ---------------------------------------------------------------------------
// Whole page
//   body[data-screen]        loading | enrol | work | new | case | edit
//                            (edit = 修改申请: the new-case screen, screen-new, filled from a saved case)
//   body[aria-busy="true"]   while a backend action runs
//   message                  message area (data-kind: info|success|error|progress)
//   message-text, message-close, message-action (e.g. 查看 on a jingwu://notified message)
// Header
//   user-name, user-person, user-unit
//   sync-indicator           data-online="true"|"false"
//   sync-online (在线/离线), sync-pending (待上传 N 项, data-count=N),
//   sync-last (上次同步 …), sync-error (last error; hidden when none),
//   upload-progress (<progress>, shown while uploading), upload-label, sync-now
// 首次使用 (screen-enrol)
//   hub-url, hub-fingerprint, person, password, pin, pin2, device-name, enrol-submit
// 工作台 (screen-work)
//   tab-todo, tab-done, tab-sent, tab-drafts (aria-selected="true" on the active one)
//   count-todo, count-done, count-sent, count-drafts
//   search, new-case, case-table, case-rows, list-empty
//   rows: tr[data-testid="case-row"][data-case-id] with cells
//         row-case-no, row-subject, row-summary, row-status, row-step, row-updated (data-testid)
// 新建申请 (screen-new)
//   new-title, new-cancel, new-form, case-form, form-locked, form-errors
//   field-<key> (input/select/textarea; for tables a container), error-<key>, label-<key>,
//   help-<key>, field-row-<key> (the field's row)
//   tables: field-<key>-<row>-<col>, add-row-<key>, remove-row-<key>-<row>
//           (data-testid remove-row-<key>), tr[data-testid="table-row-<key>"]
//   attachments: attach-file (visually hidden file input), attach-choose (选择文件…), drop-zone, attach-list,
//                li[data-testid="pending-attachment"][data-name][data-saved],
//                remove-attachment-<n> (data-testid remove-attachment)
//   save-draft, submit-case
// 修改申请 (data-screen="edit"; same screen-new, same form ids as 新建申请)
//   new-title "修改申请 · <受理编号>", new-cancel (← 返回案件)
//   the case's attachments: li[data-testid="pending-attachment"][data-saved="true"][data-existing="true"][data-sm3]
//   save-edit (保存修改: update → attach new files), resubmit (修改并重新提交: update → attach → submit)
//   (save-draft / submit-case are hidden here; save-edit / resubmit are hidden on 新建申请)
// 案件详情 (screen-case)
//   back, case-no, case-status, case-step, case-summary
//   case-values with value-<key> rows, case-attachments, case-attachments-empty
//   li[data-testid="case-attachment"][data-sm3] with a button attachment-open-<n>;
//     when this user may change its attachments (can_attach), page tools page-rotate-<n>, page-up-<n>,
//     page-down-<n> (data-testid page-rotate / page-up / page-down)
//   new-case / edit attachments: div[data-testid="attachment-warning"] under a pending file
//     for each scan-pipeline warning (e.g. 未检测到村（居）委会印章)
//   trail, trail-empty, li[data-testid="trail-entry"] containing (data-testid)
//     trail-step, trail-name, trail-person, trail-role, trail-decision,
//     trail-opinion, trail-time, and sig-ok "✔ 签名已验证" | sig-bad "✘ 签名无效"
//   decide-panel, opinion, phrase-1..phrase-4 (data-testid phrase-chip, data-phrase),
//   decide-agree, decide-disagree, decide-return
//   act-panel, act-note, edit-case (修改申请, when can_edit), detail-submit, withdraw, implement,
//   inform-channel, inform
//   (containers: edit-box, submit-box, withdraw-box, implement-box, inform-box, act-note-box)
// 签名 PIN 对话框
//   pin-modal, pin-title, pin-input, pin-error, pin-ok, pin-cancel
// 附件查看
//   viewer, viewer-name, viewer-img, viewer-note, viewer-stage,
//   zoom-in, zoom-out, zoom-level, zoom-fit, zoom-actual, viewer-close
// ---------------------------------------------------------------------------

import { h, CaseForm, renderValues, thumbnail, fmtTime, fmtSize } from "./form.js";
import { wireSlip } from "./slip.js";
import { wireUsers } from "./users.js";
import { scanSources, refreshHotFolder } from "./scan.js";
import { call, errorText, isDesktop } from "./api.js";
import { startWeb } from "./web.js";

const $ = (id) => document.getElementById(id);

const OFFLINE_SAVED = "已保存在本机，网络恢复后自动上传";
const POLL_MS = 5000;
const VALIDATE_DELAY_MS = 300;

// ============================================================== backend

// The one call function (Tauri command, or the hub's /api/ui in a browser): api.js.

const api = {
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
const statusLabel = (s) => (s ? STATUS_LABELS[s] || String(s) : "");
const statusCode = (s) => (s ? Object.keys(STATUS_LABELS).find((k) => k === s || STATUS_LABELS[k] === s) || String(s) : "");

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
const decisionLabel = (d) => (d ? DECISION_LABELS[d] || String(d) : "");
const decisionCode = (d) => (d ? Object.keys(DECISION_LABELS).find((k) => k === d || DECISION_LABELS[k] === d) || String(d) : "");

const ACTION_DONE = { withdraw: "已撤回", implement: "已落实", inform: "已登记告知申请人" };

// ============================================================== state

const state = {
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
};

const TABS = ["todo", "done", "sent", "drafts"];

// ============================================================== page helpers

function showScreen(name) {
  state.screen = name;
  document.body.dataset.screen = name;
  const section = name === "edit" ? "new" : name; // 修改申请 reuses the new-case screen
  for (const s of ["loading", "enrol", "work", "new", "case", "slip", "verify", "users"]) $(`screen-${s}`).hidden = s !== section;
  // 添加用户 reuses the enrolment screen with a way back.
  $("enrol-title").textContent = state.addingUser ? "添加用户 · 登记本机" : "首次使用 · 登记本机";
  $("enrol-cancel").hidden = !state.addingUser;
  const enrolled = Boolean(state.status && state.status.enrolled);
  $("user-box").hidden = !enrolled || name === "enrol";
  $("sync-indicator").hidden = !enrolled || name === "enrol";
  window.scrollTo(0, 0);
}

let messageAction = null;

/**
 * Shows a message; kind: info | success | error | progress. Stays until
 * replaced or closed. `action` ({label, run}) adds a button (message-action).
 */
function showMessage(text, kind = "info", action = null) {
  $("message-text").textContent = text;
  $("message").dataset.kind = kind;
  $("message").hidden = false;
  messageAction = action;
  $("message-action").hidden = !action;
  $("message-action").textContent = action ? action.label : "";
}

function clearMessage() {
  $("message-text").textContent = "";
  $("message").dataset.kind = "none";
  $("message").hidden = true;
  messageAction = null;
  $("message-action").hidden = true;
}

let busyCount = 0;
/** Runs an action with its buttons disabled and the page marked busy. */
async function busy(buttons, fn) {
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

let pinResolve = null;
let pinReturnFocus = null;

/** Asks for the signing PIN; resolves to the PIN, or null when cancelled. */
function askPin(title) {
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

function wirePinModal() {
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

// ============================================================== status / sync indicator

function renderStatus(next) {
  if (!next || typeof next !== "object") return;
  // A partial payload (e.g. from jingwu://sync) keeps the fields it leaves out.
  const s = { ...(state.status || {}), ...next };
  state.status = s;
  $("user-name").textContent = s.name || s.person || "";
  $("user-person").textContent = s.person ? `警号 ${s.person}` : "";
  $("user-unit").textContent = s.unit || "";

  const indicator = $("sync-indicator");
  indicator.dataset.online = s.online ? "true" : "false";
  indicator.title = s.hub_url ? `县局服务器：${s.hub_url}` : "";
  $("sync-online").textContent = s.online ? "在线" : "离线";
  const pending = Number(s.pending) || 0;
  $("sync-pending").textContent = `待上传 ${pending} 项`;
  $("sync-pending").dataset.count = String(pending);
  $("sync-last").textContent = s.last_sync ? `上次同步 ${fmtTime(s.last_sync)}` : "尚未同步";

  const err = s.last_error ? String(s.last_error) : "";
  $("sync-error").hidden = err === "";
  $("sync-error").textContent = err;
  $("sync-error").title = err;

  const up = s.uploading;
  const uploading = Boolean(up && Number(up.total) > 0);
  $("upload-box").hidden = !uploading;
  $("upload-progress").hidden = !uploading;
  if (uploading) {
    const total = Number(up.total);
    const done = Math.min(Number(up.done) || 0, total);
    $("upload-progress").max = total;
    $("upload-progress").value = done;
    $("upload-label").textContent = `正在上传 ${up.name || ""} ${Math.floor((done * 100) / total)}%`;
  } else {
    $("upload-label").textContent = "";
  }
  // Header visibility depends on `enrolled`.
  const enrolled = Boolean(s.enrolled);
  $("user-box").hidden = !enrolled || state.screen === "enrol";
  indicator.hidden = !enrolled || state.screen === "enrol";
}

/** Reads status(); moves between the enrolment screen and the workbench when needed. */
async function refreshStatus() {
  let s;
  try {
    s = await api.status();
  } catch (err) {
    $("sync-error").hidden = false;
    $("sync-error").textContent = `无法读取状态：${errorText(err)}`;
    return null;
  }
  const before = state.status;
  renderStatus(s);
  if (s.enrolled && ((state.screen === "enrol" && !state.addingUser) || state.screen === "loading")) {
    await openWork();
  } else if (!s.enrolled && state.screen !== "enrol") {
    showScreen("enrol");
  } else if (before && state.screen === "work" && (before.pending !== s.pending || before.last_sync !== s.last_sync)) {
    scheduleRefresh();
  }
  return s;
}

async function syncNow() {
  clearMessage();
  showMessage("正在同步…", "progress");
  await busy([$("sync-now")], async () => {
    try {
      const r = await api.syncNow();
      const failed = Array.isArray(r.failed) ? r.failed : [];
      const summary = `同步完成：上传附件 ${r.uploaded ?? 0} 个，推送 ${r.pushed ?? 0} 项，拉取 ${r.pulled ?? 0} 项，待上传 ${r.pending ?? 0} 项`;
      if (failed.length > 0) showMessage(`${summary}。未成功：${failed.join("；")}`, "error");
      else showMessage(summary, "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
  await refreshStatus();
  scheduleRefresh();
}

// ============================================================== 1. 首次使用 / 登记本机

async function enrol(e) {
  e.preventDefault();
  const hub = $("hub-url").value.trim();
  const fingerprint = $("hub-fingerprint").value.trim();
  const person = $("person").value.trim();
  const password = $("password").value;
  const pin = $("pin").value;
  const pin2 = $("pin2").value;
  const deviceName = $("device-name").value.trim();

  const problem = (text, id) => {
    showMessage(text, "error");
    $(id).focus();
  };
  if (!hub) return problem("请填写县局服务器地址", "hub-url");
  if (!/^https?:\/\//i.test(hub)) return problem("县局服务器地址应以 https:// 或 http:// 开头", "hub-url");
  if (/^https:/i.test(hub) && !fingerprint) return problem("使用 https:// 地址时请填写证书指纹", "hub-fingerprint");
  if (!person) return problem("请填写警号", "person");
  if (!password) return problem("请填写登录密码", "password");
  if (!pin) return problem("请设置签名 PIN", "pin");
  if (pin !== pin2) return problem("两次输入的签名 PIN 不一致", "pin2");
  if (!deviceName) return problem("请填写设备名称", "device-name");

  showMessage("正在登记本机，请稍候…", "progress");
  await busy([$("enrol-submit")], async () => {
    try {
      const r = await api.enrol({ hub, fingerprint: fingerprint || null, person, password, pin, deviceName, newUser: state.addingUser || null });
      state.addingUser = false;
      $("password").value = "";
      $("pin").value = "";
      $("pin2").value = "";
      showMessage((r && r.message) || "本机登记完成", "success");
      await refreshStatus();
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

// ============================================================== 2. 工作台

async function openWork() {
  showScreen("work");
  await loadLists();
}

async function loadLists() {
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

function renderLists() {
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
  const open = () => openCase(r.id);
  return h(
    "tr",
    {
      class: "case-row",
      "data-testid": "case-row",
      "data-case-id": r.id,
      "data-status": statusCode(r.status),
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
    h("td", { class: "mono", "data-testid": "row-updated" }, fmtTime(r.updated_at)),
  );
}

function selectTab(tab) {
  state.tab = tab;
  renderLists();
}

// ============================================================== 3. 新建申请

async function loadTemplate() {
  if (!state.template) state.template = await api.template();
  return state.template;
}

/** The form screen's buttons: "new" (保存草稿 / 提交) or "edit" (保存修改 / 修改并重新提交). */
function setFormMode(mode) {
  const editing = mode === "edit";
  $("save-draft").hidden = editing;
  $("submit-case").hidden = editing;
  $("save-edit").hidden = !editing;
  $("resubmit").hidden = !editing;
  $("new-cancel").textContent = editing ? "← 返回案件" : "← 返回工作台";
}

async function openNewCase() {
  clearMessage();
  state.form = null;
  state.created = null;
  state.editing = null;
  setFormMode("new");
  $("form-locked").hidden = true;
  $("form-errors").hidden = true;
  $("new-form").replaceChildren(h("p", { class: "loading-text" }, "正在读取表单…"));
  showScreen("new");
  try {
    const template = await loadTemplate();
    const form = new CaseForm(template, {
      onChange: scheduleValidate,
      onNotice: (text) => showMessage(text, "error"),
      onCheckFile: (p) => api.scanCheck(p.name, p.dataB64),
    });
    state.form = form;
    $("new-title").textContent = `新建申请 · ${template.name || ""}`;
    $("new-form").replaceChildren(form.element);
    addScanSources(form);
  } catch (err) {
    $("new-form").replaceChildren();
    showMessage(errorText(err), "error");
  }
}

let validateTimer = null;
let validateSeq = 0;

function scheduleValidate() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(runLiveValidation, VALIDATE_DELAY_MS);
}

async function runLiveValidation() {
  const form = state.form;
  if (!form || (state.screen !== "new" && state.screen !== "edit") || state.created) return;
  if (pinResolve || busyCount > 0) return; // a save is under way (its own check has run)
  const seq = ++validateSeq;
  try {
    const errors = await api.validate(form.values(), "draft");
    if (seq !== validateSeq || form !== state.form) return; // a newer check is under way
    showFormErrors(form, errors, "draft");
  } catch {
    // Live checks are a convenience; saving shows the backend's answer.
  }
}

/**
 * Shows errors on the form; those without a field go to form-errors. Returns all shown.
 * `saving` (a 保存草稿 / 保存修改 press): the "please fill" reminders kept from an
 * earlier submit attempt are dropped, so they do not block saving a draft.
 */
function showFormErrors(form, errors, mode, saving = false) {
  if (saving && mode !== "submit") form.submitErrors = [];
  const shown = form.showErrors(Array.isArray(errors) ? errors : [], mode);
  const other = form.otherErrors || [];
  $("form-errors").replaceChildren(...other.map((e) => h("div", {}, e.field ? `${e.field}：${e.message}` : e.message)));
  $("form-errors").hidden = other.length === 0;
  return shown;
}

/** 保存草稿 (submitting=false) or 提交 (submitting=true). */
async function saveCase(submitting) {
  const form = state.form;
  if (!form || state.editing) return;
  clearTimeout(validateTimer);
  validateSeq += 1; // drop any live check still on its way
  clearMessage();
  const values = form.values();

  if (!state.created) {
    let errors;
    try {
      errors = await api.validate(values, submitting ? "submit" : "draft");
    } catch (err) {
      showMessage(errorText(err), "error");
      return;
    }
    const shown = showFormErrors(form, errors, submitting ? "submit" : "draft", true);
    if (shown.length > 0) {
      showMessage(`表单有 ${shown.length} 处需要更正，请查看标红的项目`, "error");
      form.focusFirstError();
      return;
    }
  } else if (submitting) {
    const shown = showFormErrors(form, [], "submit");
    if (shown.length > 0) {
      showMessage(shown.map((e) => e.message).join("；"), "error");
      return;
    }
  }

  const pin = await askPin(submitting ? "提交申请 — 请输入签名 PIN" : "保存草稿 — 请输入签名 PIN");
  if (pin === null) return;

  await busy([$("save-draft"), $("submit-case"), $("new-cancel")], async () => {
    let queued = false;
    let step = "";
    try {
      if (!state.created) {
        step = "保存申请";
        showMessage("正在保存申请…", "progress");
        const r = await api.create(values, pin);
        state.created = { case_id: r.case_id, case_no: r.case_no };
        queued = Boolean(r.queued);
        form.lockValues();
        $("form-locked").textContent = `申请已保存（受理编号 ${r.case_no || "待分配"}），表单内容不能再修改。`;
        $("form-locked").hidden = false;
      }
      const caseId = state.created.case_id;
      const files = form.pending.filter((p) => !p.saved);
      for (let i = 0; i < files.length; i += 1) {
        const p = files[i];
        step = `保存附件“${p.name}”`;
        showMessage(`正在保存附件 ${i + 1}/${files.length}：${p.name}`, "progress");
        await api.attach(caseId, p.name, p.dataB64, pin, p.scanId);
        p.saved = true;
        form.renderPending();
      }
      if (submitting) {
        step = "提交";
        showMessage("正在提交…", "progress");
        const r = await api.submit(caseId, pin);
        queued = queued || Boolean(r && r.queued);
      }
      const doneText = queued ? OFFLINE_SAVED : submitting ? "已提交" : "草稿已保存";
      state.form = null;
      state.created = null;
      showMessage(doneText, "success");
      refreshStatus();
      await openCase(caseId, { keepMessage: true });
    } catch (err) {
      const text = errorText(err);
      if (state.created) {
        const no = state.created.case_no ? `（受理编号 ${state.created.case_no}）` : "";
        showMessage(`申请已保存${no}，但${step}未成功：${text}。请处理后再点“${submitting ? "提交" : "保存草稿"}”继续。`, "error");
      } else {
        showMessage(text, "error");
      }
    }
  });
}

// ============================================================== 3b. 修改申请

/** 修改申请: the form screen filled with the case's stored values. */
async function openEdit() {
  const caseId = state.caseId;
  if (!caseId || state.screen !== "case") return;
  clearMessage();
  let detail = null;
  let template = null;
  await busy(decisionButtons(), async () => {
    try {
      detail = await api.caseDetail(caseId);
      template = await loadTemplate();
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
  if (!detail || !template || state.caseId !== caseId || state.screen !== "case") return;
  const stored = detail.edit_values;
  if (!detail.can_edit || !stored || typeof stored !== "object" || Array.isArray(stored)) {
    state.detail = detail;
    renderCase(detail, template);
    showMessage(detail.can_edit ? "无法读取申请内容，暂不能修改" : "此案件当前不能修改", "error");
    return;
  }
  const form = new CaseForm(template, {
    onChange: scheduleValidate,
    onNotice: (text) => showMessage(text, "error"),
    onCheckFile: (p) => api.scanCheck(p.name, p.dataB64),
  });
  form.setValues(stored);
  form.setExisting(detail.attachments, attachmentUrl);
  state.form = form;
  state.created = null;
  state.editing = { case_id: caseId, case_no: detail.case_no || "", values: stored };
  setFormMode("edit");
  $("form-locked").hidden = true;
  $("form-errors").hidden = true;
  $("new-title").textContent = `修改申请 · ${detail.case_no || "（未编号）"}`;
  $("new-form").replaceChildren(form.element);
  addScanSources(form);
  showScreen("edit");
}

/**
 * The full values to send with update(): the form's, plus stored keys the
 * form does not show (the backend reads a missing key as a cleared field).
 */
function editedValues(form, editing) {
  const out = {};
  for (const [key, value] of Object.entries(editing.values || {})) {
    if (key !== "scans" && !form.bindings.has(key)) out[key] = value;
  }
  return Object.assign(out, form.values());
}

/** 保存修改 (resubmitting=false) or 修改并重新提交 (resubmitting=true); one PIN for all steps. */
async function saveEdit(resubmitting) {
  const form = state.form;
  const editing = state.editing;
  if (!form || !editing) return;
  clearTimeout(validateTimer);
  validateSeq += 1; // drop any live check still on its way
  clearMessage();
  const values = editedValues(form, editing);
  const mode = resubmitting ? "submit" : "draft";
  const buttonText = resubmitting ? "修改并重新提交" : "保存修改";

  let errors;
  try {
    errors = await api.validate(values, mode);
  } catch (err) {
    showMessage(errorText(err), "error");
    return;
  }
  if (form !== state.form) return;
  // Attachment checks count the case's saved attachments and the new ones.
  const shown = showFormErrors(form, errors, mode, true);
  if (shown.length > 0) {
    showMessage(`表单有 ${shown.length} 处需要更正，请查看标红的项目`, "error");
    form.focusFirstError();
    return;
  }

  const pin = await askPin(`${buttonText} — 请输入签名 PIN`);
  if (pin === null || form !== state.form) return;

  await busy([$("save-edit"), $("resubmit"), $("new-cancel")], async () => {
    const caseId = editing.case_id;
    let queued = false;
    let updated = false;
    let step = "";
    try {
      step = "保存修改";
      showMessage("正在保存修改…", "progress");
      const r = await api.update(caseId, values, pin);
      queued = Boolean(r && r.queued);
      updated = true;
      const files = form.pending.filter((p) => !p.saved);
      for (let i = 0; i < files.length; i += 1) {
        const p = files[i];
        step = `保存附件“${p.name}”`;
        showMessage(`正在保存附件 ${i + 1}/${files.length}：${p.name}`, "progress");
        await api.attach(caseId, p.name, p.dataB64, pin, p.scanId);
        p.saved = true;
        form.renderPending();
      }
      if (resubmitting) {
        step = "重新提交";
        showMessage("正在重新提交…", "progress");
        const s = await api.submit(caseId, pin);
        queued = queued || Boolean(s && s.queued);
      }
      state.form = null;
      state.editing = null;
      showMessage(queued ? OFFLINE_SAVED : resubmitting ? "已重新提交" : "已保存修改", "success");
      refreshStatus();
      await openCase(caseId, { keepMessage: true });
    } catch (err) {
      const text = errorText(err);
      if (updated) {
        // update() records only differences: pressing the button again does not repeat them.
        showMessage(`修改已保存，但${step}未成功：${text}。请处理后再点“${buttonText}”继续。`, "error");
      } else {
        showMessage(text, "error");
      }
    }
  });
}

// ============================================================== 4. 案件详情

async function openCase(caseId, { keepMessage = false } = {}) {
  if (!caseId) return;
  if (!keepMessage) clearMessage();
  if (caseId !== state.caseId) {
    state.caseId = caseId;
    state.detail = null;
    $("opinion").value = state.opinions.get(caseId) || "";
    $("act-note").value = "";
    $("inform-channel").selectedIndex = 0;
    $("case-no").textContent = "";
    $("case-status").textContent = "";
    $("case-step").textContent = "";
    $("case-summary").textContent = "正在读取案件…";
    $("case-values").replaceChildren();
    $("case-attachments").replaceChildren();
    $("trail").replaceChildren();
    $("decide-panel").hidden = true;
    $("act-panel").hidden = true;
  }
  showScreen("case");
  await loadCase();
}

async function loadCase() {
  const caseId = state.caseId;
  let detail;
  let template = null;
  try {
    detail = await api.caseDetail(caseId);
  } catch (err) {
    showMessage(errorText(err), "error");
    return;
  }
  try {
    template = await loadTemplate();
  } catch {
    template = null; // values are then shown under their keys
  }
  if (caseId !== state.caseId || state.screen !== "case") return;
  state.detail = detail;
  renderCase(detail, template);
}

function renderCase(d, template) {
  $("case-no").textContent = d.case_no || "（未编号）";
  $("case-status").textContent = statusLabel(d.status);
  $("case-status").dataset.status = statusCode(d.status);
  $("case-step").textContent = d.step || "—";
  $("case-summary").textContent = d.summary || "";

  $("case-values").replaceChildren(renderValues(template, d.values || {}));

  const atts = Array.isArray(d.attachments) ? d.attachments : [];
  $("case-attachments").replaceChildren(...atts.map((att, i) => attachmentItem(att, i, d.can_attach === true ? atts : null)));
  $("case-attachments-empty").hidden = atts.length > 0;

  const trail = Array.isArray(d.trail) ? d.trail : [];
  $("trail").replaceChildren(...trail.map(trailEntry));
  $("trail-empty").hidden = trail.length > 0;

  $("decide-panel").hidden = !d.can_decide;
  const canEdit = d.can_edit === true;
  $("edit-box").hidden = !canEdit;
  // Every flag is the core's answer (CaseState::allowed_actions). 提交审批
  // also shows when submitting is this user's to do but the form still
  // needs fixing (submit_errors): pressing it says what.
  const canSubmit = d.can_submit === true || (Array.isArray(d.submit_errors) && d.submit_errors.length > 0);
  $("submit-box").hidden = !canSubmit;
  $("withdraw-box").hidden = !d.can_withdraw;
  $("implement-box").hidden = !d.can_implement;
  const canInform = d.can_inform === true;
  $("inform-box").hidden = !canInform;
  $("act-note-box").hidden = !(d.can_withdraw || d.can_implement || canInform);
  $("act-panel").hidden = !(canEdit || canSubmit || d.can_withdraw || d.can_implement || canInform);
  $("slip-panel").hidden = !["approved", "rejected"].includes(statusCode(d.status));
}

function trailEntry(t) {
  const ok = t.verified === true;
  const decision = decisionLabel(t.decision || t.action);
  const decisionKey = decisionCode(t.decision || t.action);
  return h(
    "li",
    { class: "trail-entry", "data-testid": "trail-entry", "data-decision": decisionKey },
    h(
      "div",
      { class: "trail-head" },
      h("span", { class: "trail-step", "data-testid": "trail-step" }, t.step === "draft" ? "承办" : t.step || ""),
      decision ? h("span", { class: "trail-decision", "data-testid": "trail-decision", "data-decision": decisionKey }, decision) : null,
      ok
        ? h("span", { class: "sig sig-ok", "data-testid": "sig-ok" }, "✔ 签名已验证")
        : h("span", { class: "sig sig-bad", "data-testid": "sig-bad" }, "✘ 签名无效"),
    ),
    h(
      "div",
      { class: "trail-who" },
      h("span", { class: "trail-name", "data-testid": "trail-name" }, t.name || t.person || ""),
      t.person && t.name ? h("span", { class: "trail-person mono", "data-testid": "trail-person" }, t.person) : null,
      t.role ? h("span", { class: "trail-role", "data-testid": "trail-role" }, t.role) : null,
      h("span", { class: "trail-time mono", "data-testid": "trail-time" }, fmtTime(t.time)),
    ),
    t.opinion ? h("p", { class: "trail-opinion", "data-testid": "trail-opinion" }, t.opinion) : null,
  );
}

// --- attachments on the case page

const attachmentCache = new Map(); // sm3 → data URL

async function attachmentUrl(att) {
  if (attachmentCache.has(att.sm3)) return attachmentCache.get(att.sm3);
  const r = await api.attachmentData(att.sm3);
  const url = `data:${r.mime || att.mime};base64,${r.dataB64 ?? r.data_b64 ?? ""}`;
  attachmentCache.set(att.sm3, url);
  return url;
}

/**
 * A scanned page on the case page. `pages` (the field's attachments, when
 * the case is editable by this user) adds page tools: turn 90°, move up /
 * down — each a signed change, confirmed with the PIN.
 */
function attachmentItem(att, i, pages = null) {
  const box = h("div", { class: "thumb-box" }, thumbnail(att.mime, null));
  const isImage = String(att.mime || "").startsWith("image/");
  if (isImage) {
    attachmentUrl(att)
      .then((url) => box.replaceChildren(thumbnail(att.mime, url)))
      .catch(() => {});
  }
  return h(
    "li",
    { class: "thumb", "data-testid": "case-attachment", "data-sm3": att.sm3, "data-name": att.name || "" },
    h(
      "button",
      { type: "button", class: "thumb-open", id: `attachment-open-${i + 1}`, "data-testid": `attachment-open-${i + 1}`, title: `查看 ${att.name || ""}`, onclick: () => openViewer(att) },
      box,
    ),
    h("div", { class: "thumb-name", title: att.name || "" }, att.name || ""),
    h("div", { class: "thumb-meta" }, fmtSize(att.size)),
    pages && String(att.mime || "").startsWith("image/")
      ? h(
          "div",
          { class: "page-tools" },
          h("button", { type: "button", class: "btn btn-small", id: `page-rotate-${i + 1}`, "data-testid": "page-rotate", title: "顺时针旋转 90°", onclick: () => pageTool("rotate", i, pages) }, "⟳ 旋转"),
          h("button", { type: "button", class: "btn btn-small", id: `page-up-${i + 1}`, "data-testid": "page-up", title: "前移一页", disabled: i === 0 ? true : null, onclick: () => pageTool("up", i, pages) }, "↑"),
          h("button", { type: "button", class: "btn btn-small", id: `page-down-${i + 1}`, "data-testid": "page-down", title: "后移一页", disabled: i === pages.length - 1 ? true : null, onclick: () => pageTool("down", i, pages) }, "↓"),
        )
      : null,
  );
}

/** Attaches a hot-folder scan of a blank form to the draft its QR names. */
async function attachHotFile(p) {
  const pin = await askPin(`附加到草稿 ${p.draft.case_no}：请输入签名 PIN`);
  if (pin === null) return;
  await busy([], async () => {
    showMessage(`正在附加“${p.file}”…`, "progress");
    try {
      const r = await call("attach_hot_file", { path: p.moved_to, pin });
      const pages = r.attached.reduce((n, a) => n + a.pages, 0);
      showMessage(`已将 ${pages} 页扫描件附加到草稿 ${p.draft.case_no}`, "success");
      await openCase(p.draft.case_id, { keepMessage: true });
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

/** The scanner and hot-folder sources under the form's attachments (desktop only). */
function addScanSources(form) {
  const list = document.getElementById("attach-list");
  if (!list || !isDesktop()) return;
  list.before(scanSources(form, { call, showMessage, clearMessage, busy }));
}

/** Turns a page 90° clockwise, or moves it one place up or down. */
async function pageTool(kind, i, pages) {
  const caseId = state.caseId;
  const pin = await askPin(kind === "rotate" ? "旋转页面：请输入签名 PIN" : "调整页序：请输入签名 PIN");
  if (pin === null) return;
  await busy([...document.querySelectorAll(".page-tools button")], async () => {
    try {
      if (kind === "rotate") {
        await api.rotatePage(caseId, pages[i].sm3, 1, pin);
      } else {
        const order = pages.map((a) => a.sm3);
        const j = kind === "up" ? i - 1 : i + 1;
        [order[i], order[j]] = [order[j], order[i]];
        await api.arrangePages(caseId, order, pin);
      }
      showMessage(kind === "rotate" ? "页面已旋转" : "页序已调整", "success");
      if (state.caseId === caseId) await loadCase();
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

// --- decisions and actions

async function decide(decision) {
  const labels = { agree: "同意", disagree: "不同意", return: "退回补正" };
  const label = labels[decision];
  // The core's opinion rule, asked before the PIN: the opinion as it
  // will be signed (trimmed), or why not (e.g. 不同意 must say why).
  let opinion;
  try {
    opinion = (await api.checkOpinion(decision, $("opinion").value)).opinion;
  } catch (err) {
    showMessage(errorText(err), "error");
    $("opinion").focus();
    return;
  }
  const caseId = state.caseId;
  const pin = await askPin(`审批：${label} — 请输入签名 PIN`);
  if (pin === null) return;
  clearMessage();
  await busy(decisionButtons(), async () => {
    try {
      const r = await api.decide(caseId, decision, opinion, pin);
      state.opinions.delete(caseId);
      if (state.caseId === caseId) $("opinion").value = "";
      showMessage(r && r.queued ? OFFLINE_SAVED : `已办理：${label}`, "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
  refreshStatus();
  if (state.caseId === caseId && state.screen === "case") await loadCase();
}

async function act(action) {
  const titles = { withdraw: "撤回", implement: "落实", inform: "告知申请人" };
  const caseId = state.caseId;
  const note = $("act-note").value.trim();
  const channel = action === "inform" ? $("inform-channel").value : null;
  const pin = await askPin(`${titles[action]} — 请输入签名 PIN`);
  if (pin === null) return;
  clearMessage();
  await busy(decisionButtons(), async () => {
    try {
      const r = await api.act(caseId, action, note, channel, pin);
      if (state.caseId === caseId) $("act-note").value = "";
      showMessage(r && r.queued ? OFFLINE_SAVED : ACTION_DONE[action], "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
  refreshStatus();
  if (state.caseId === caseId && state.screen === "case") await loadCase();
}

/** 提交审批 of a saved draft (or of a returned/withdrawn case). */
async function submitSaved() {
  const caseId = state.caseId;
  const pin = await askPin("提交审批 — 请输入签名 PIN");
  if (pin === null) return;
  clearMessage();
  await busy(decisionButtons(), async () => {
    try {
      const r = await api.submit(caseId, pin);
      showMessage(r && r.queued ? OFFLINE_SAVED : "已提交", "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
  refreshStatus();
  if (state.caseId === caseId && state.screen === "case") await loadCase();
}

function decisionButtons() {
  return ["decide-agree", "decide-disagree", "decide-return", "edit-case", "withdraw", "implement", "inform", "detail-submit", "back"].map($);
}

function addPhrase(phrase) {
  const box = $("opinion");
  box.value = box.value.trim() ? `${box.value.trimEnd()}${phrase}` : phrase;
  state.opinions.set(state.caseId, box.value);
  box.focus();
}

// ============================================================== attachment viewer

const viewer = { scale: 1, natural: { w: 0, h: 0 }, drag: null, returnFocus: null };

async function openViewer(att) {
  viewer.returnFocus = document.activeElement;
  $("viewer-name").textContent = `${att.name || ""}${att.size ? `（${fmtSize(att.size)}）` : ""}`;
  $("viewer-img").hidden = true;
  $("viewer-img").removeAttribute("src");
  $("viewer-note").hidden = false;
  $("viewer").hidden = false;
  $("viewer-close").focus();
  const isImage = String(att.mime || "").startsWith("image/");
  if (!isImage) {
    $("viewer-note").textContent = "PDF 文件不能在本界面预览。";
    setZoomControls(false);
    return;
  }
  $("viewer-note").textContent = "正在读取附件…";
  setZoomControls(false);
  try {
    const url = await attachmentUrl(att);
    const img = $("viewer-img");
    img.onload = () => {
      viewer.natural = { w: img.naturalWidth, h: img.naturalHeight };
      $("viewer-note").hidden = true;
      img.hidden = false;
      setZoomControls(true);
      zoomFit();
    };
    img.onerror = () => {
      $("viewer-note").textContent = "此图片格式（如 TIFF）不能在本界面显示。";
    };
    img.src = url;
  } catch (err) {
    $("viewer-note").textContent = errorText(err);
  }
}

function setZoomControls(enabled) {
  for (const id of ["zoom-in", "zoom-out", "zoom-fit", "zoom-actual"]) $(id).disabled = !enabled;
  if (!enabled) $("zoom-level").textContent = "";
}

function closeViewer() {
  $("viewer").hidden = true;
  $("viewer-img").removeAttribute("src");
  if (viewer.returnFocus && typeof viewer.returnFocus.focus === "function") viewer.returnFocus.focus();
}

function setZoom(scale) {
  if (!viewer.natural.w) return;
  viewer.scale = Math.min(8, Math.max(0.05, scale));
  const img = $("viewer-img");
  // CSSOM sizes are allowed by the CSP (style-src 'self'); style attributes are not used.
  img.style.width = `${Math.round(viewer.natural.w * viewer.scale)}px`;
  img.style.height = `${Math.round(viewer.natural.h * viewer.scale)}px`;
  $("zoom-level").textContent = `${Math.round(viewer.scale * 100)}%`;
}

function zoomFit() {
  const stage = $("viewer-stage");
  if (!viewer.natural.w) return;
  const s = Math.min((stage.clientWidth - 24) / viewer.natural.w, (stage.clientHeight - 24) / viewer.natural.h, 1);
  setZoom(s > 0 ? s : 1);
}

/** Zooms keeping the stage point (x, y) under the cursor. */
function zoomAt(factor, x, y) {
  const stage = $("viewer-stage");
  const old = viewer.scale;
  const cx = stage.scrollLeft + x;
  const cy = stage.scrollTop + y;
  setZoom(old * factor);
  const ratio = viewer.scale / old;
  stage.scrollLeft = cx * ratio - x;
  stage.scrollTop = cy * ratio - y;
}

function wireViewer() {
  const stage = $("viewer-stage");
  $("zoom-in").addEventListener("click", () => zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2));
  $("zoom-out").addEventListener("click", () => zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2));
  $("zoom-fit").addEventListener("click", zoomFit);
  $("zoom-actual").addEventListener("click", () => setZoom(1));
  $("viewer-close").addEventListener("click", closeViewer);
  $("viewer").addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeViewer();
    if (e.key === "+" || e.key === "=") zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2);
    if (e.key === "-") zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2);
  });
  stage.addEventListener(
    "wheel",
    (e) => {
      if ($("viewer-img").hidden) return;
      e.preventDefault();
      const rect = stage.getBoundingClientRect();
      zoomAt(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - rect.left, e.clientY - rect.top);
    },
    { passive: false },
  );
  // Drag to move a zoomed picture.
  stage.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    viewer.drag = { x: e.clientX, y: e.clientY, left: stage.scrollLeft, top: stage.scrollTop };
    stage.classList.add("dragging");
  });
  stage.addEventListener("pointermove", (e) => {
    if (!viewer.drag) return;
    stage.scrollLeft = viewer.drag.left - (e.clientX - viewer.drag.x);
    stage.scrollTop = viewer.drag.top - (e.clientY - viewer.drag.y);
  });
  const endDrag = () => {
    viewer.drag = null;
    stage.classList.remove("dragging");
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointerleave", endDrag);
}

// ============================================================== refresh and events

let refreshTimer = null;
let refreshing = false;

/** Refreshes the current screen soon (several events in a burst give one refresh). */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshCurrent, 250);
}

async function refreshCurrent() {
  if (refreshing) {
    scheduleRefresh();
    return;
  }
  refreshing = true;
  try {
    if (state.screen === "work") await loadLists();
    else if (state.screen === "case" && state.caseId && busyCount === 0) await loadCase();
  } finally {
    refreshing = false;
  }
}

async function listenEvents() {
  const ev = window.__TAURI__ && window.__TAURI__.event;
  if (!ev || typeof ev.listen !== "function") return;
  try {
    await ev.listen("jingwu://changed", () => {
      refreshStatus();
      scheduleRefresh();
    });
    await ev.listen("jingwu://sync", (e) => {
      // The payload is the status, or nothing: then it is read.
      if (e && e.payload && typeof e.payload === "object") renderStatus(e.payload);
      else refreshStatus();
      scheduleRefresh();
    });
    await ev.listen("jingwu://notified", (e) => {
      const p = (e && e.payload) || {};
      const id = p.case_id || p.caseId;
      const text = [p.title, p.body].filter(Boolean).join("：");
      if (text && state.status && state.status.enrolled && state.screen !== "enrol") {
        showMessage(text, "info", id ? { label: "查看", run: () => openCase(id) } : null);
      }
    });
    await ev.listen("jingwu://scanned", (e) => {
      refreshHotFolder();
      // A scanned blank form whose QR names a draft: offer to attach it.
      const p = (e && e.payload) || {};
      if (p.imported && p.draft && p.moved_to && state.status && state.status.enrolled) {
        showMessage(`扫描文件夹收到“${p.file}”，对应草稿 ${p.draft.case_no}`, "info", {
          label: "附加到草稿",
          run: () => attachHotFile(p),
        });
      }
    });
    await ev.listen("jingwu://open-case", (e) => {
      const p = (e && e.payload) || {};
      const id = p.case_id || p.caseId;
      if (id && state.status && state.status.enrolled) openCase(id);
    });
  } catch (err) {
    showMessage(`无法接收后台通知：${errorText(err)}`, "error");
  }
}

// ============================================================== wiring

function wire() {
  $("message-close").addEventListener("click", clearMessage);
  $("message-action").addEventListener("click", () => {
    const action = messageAction;
    clearMessage();
    if (action) action.run();
  });
  $("sync-now").addEventListener("click", syncNow);
  $("enrol-form").addEventListener("submit", enrol);

  for (const t of TABS) $(`tab-${t}`).addEventListener("click", () => selectTab(t));
  $("search").addEventListener("input", () => {
    state.search = $("search").value;
    renderLists();
  });
  $("new-case").addEventListener("click", openNewCase);

  $("new-cancel").addEventListener("click", () => {
    const editing = state.editing;
    state.form = null;
    state.created = null;
    state.editing = null;
    clearMessage();
    if (editing) openCase(editing.case_id);
    else openWork();
  });
  $("save-draft").addEventListener("click", () => saveCase(false));
  $("submit-case").addEventListener("click", () => saveCase(true));
  $("save-edit").addEventListener("click", () => saveEdit(false));
  $("resubmit").addEventListener("click", () => saveEdit(true));

  $("back").addEventListener("click", () => {
    clearMessage();
    openWork();
  });
  $("decide-agree").addEventListener("click", () => decide("agree"));
  $("decide-disagree").addEventListener("click", () => decide("disagree"));
  $("decide-return").addEventListener("click", () => decide("return"));
  $("opinion").addEventListener("input", () => state.opinions.set(state.caseId, $("opinion").value));
  for (const chip of document.querySelectorAll("[data-phrase]")) {
    chip.addEventListener("click", () => addPhrase(chip.dataset.phrase));
  }
  $("withdraw").addEventListener("click", () => act("withdraw"));
  $("implement").addEventListener("click", () => act("implement"));
  $("inform").addEventListener("click", () => act("inform"));
  $("detail-submit").addEventListener("click", submitSaved);
  $("edit-case").addEventListener("click", openEdit);

  wirePinModal();
  wireViewer();
  wireSlip({ call, showScreen, showMessage, clearMessage, busy, openCase, openWork, caseId: () => state.caseId });
  wireUsers({
    call,
    showScreen,
    showMessage,
    clearMessage,
    busy,
    askPin,
    openWork,
    status: () => state.status,
    // Adding a user: the enrolment screen, with the hub of this PC filled in.
    addUser: () => {
      state.addingUser = true;
      for (const id of ["person", "password", "pin", "pin2"]) $(id).value = "";
      $("hub-url").value = (state.status && state.status.hub_url) || "";
      $("hub-fingerprint").value = (state.status && state.status.hub_fingerprint) || "";
      showScreen("enrol");
    },
    cancelAdd: () => {
      state.addingUser = false;
      clearMessage();
      openWork();
    },
    // Another user: nothing of the previous one stays on screen.
    switched: async () => {
      state.caseId = null;
      state.detail = null;
      state.form = null;
      state.created = null;
      state.editing = null;
      state.opinions = new Map();
      state.lists = { todo: [], done: [], sent: [], drafts: [] };
      state.status = null;
      await refreshStatus();
      await openWork();
    },
  });
}

async function start() {
  wire();
  if (!isDesktop()) {
    // Served by the county hub to a browser: web.js signs in, then these screens.
    await startWeb({ showScreen, showMessage, clearMessage, refreshStatus, scheduleRefresh, state });
    return;
  }
  const core = window.__TAURI__ && window.__TAURI__.core;
  if (!core) {
    showScreen("enrol");
    showMessage("未在桌面应用中运行（无 Tauri 接口）", "error");
    return;
  }
  await listenEvents();
  const s = await refreshStatus();
  // When status() fails the start-up screen stays and the poll keeps trying.
  if (!s) showMessage($("sync-error").textContent, "error");
  // The first interactive screen is up (the start-up benchmark waits for it).
  else core.invoke("ui_ready").catch(() => {});
  setInterval(refreshStatus, POLL_MS);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
