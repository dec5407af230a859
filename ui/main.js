// main.js — the station desktop UI of 警务协同 (Tauri 2, no build step).
//
// Screens: 首次使用/登记本机 → 工作台 → 新建申请 / 案件详情 → 修改申请. All data comes
// from the Rust commands through window.__TAURI__.core.invoke; their errors
// are Chinese strings and are shown as they are.
//
// This entry module wires the screens and starts; each screen is a module
// of its own: shell.js (shared: commands, labels, state, messages, the PIN
// dialog), status.js, enrol.js, work.js, edit.js (新建申请 / 修改申请),
// case.js (案件详情), viewer.js, events.js (refreshes, backend events).
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
//   upload-progress (<progress>, shown while uploading), upload-label, sync-now,
//   sync-redo (N 个接处警操作需重新签名; hidden when none — signs set-aside 110 steps again)
//   update-check (检查更新)
// 软件更新 (update-banner, update.js; shown when the hub offers a newer version)
//   update-version, update-current, update-date, update-notes, update-status, update-error,
//   update-install (安装更新并重启: download, signature check, install, restart), update-later
// 首次使用 (screen-enrol)
//   hub-url, hub-fingerprint, person, password, pin, pin2, device-name, enrol-submit
// 工作台 (screen-work)
//   tab-todo, tab-done, tab-sent, tab-drafts (aria-selected="true" on the active one)
//   count-todo, count-done, count-sent, count-drafts
//   search, new-case, case-table, case-rows, list-empty
//   rows: tr[data-testid="case-row"][data-case-id][data-overdue] with cells
//         row-case-no, row-subject, row-summary, row-status, row-step, row-due, row-updated (data-testid);
//         row-due (办理期限, "—" outside review) holds due-time and, when it applies,
//         span[data-testid="due-mark"][data-due="overdue"|"today"|"tomorrow"] 已超期 / 今日到期 / 明日到期
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
//   back, case-no, case-status, case-step, case-due-box (hidden outside review) with case-due
//     (due-time, the limit in working days, due-mark as in the lists), case-summary
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
// 110 接处警 (incident.js, intake.js, incident-case.js, picker.js)
//   open-110 (workbench button), count-110 (what waits for this user)
//   screen-incidents: incidents-back, incident-banner (a dispatch waits for 签收), incident-banner-text,
//     incident-banner-open, itab-<list> (aria-selected) with icount-<list>
//     (desk: to_dispatch unacked handling to_close archived; unit: to_ack in_progress fed_back),
//     incident-search (已归档), new-incident, incident-rows,
//     tr[data-testid="incident-row"][data-case-id][data-case-no][data-overdue] with irow-case-no,
//     irow-category, irow-summary, irow-units, irow-wait; incident-empty
//   screen-intake (接警登记): intake-form with field-<key> / error-<key> as in the case form;
//     field-alarm_category is the picker's search box, field-alarm_category-list its options
//     (li[data-testid="picker-option"][data-code]); no-phone-<key> (「无」);
//     repeat-hint with repeat-item and repeat-link (关联 → field-related_no); intake-save, intake-cancel
//   screen-incident: incident-back, incident-no, incident-status, incident-archive, incident-dispatch (派警),
//     incident-conclude (终结), div[data-testid="dispatch-card"][data-unit][data-status] with dispatch-unit,
//     dispatch-status, dispatch-acked, dispatch-departed, dispatch-arrived, dispatch-returned, dispatch-loss
//     and buttons step-ack, step-depart, step-arrive, step-feedback, step-return (data-testid, data-unit);
//     incident-loss, incident-loss-upper, incident-values, incident-trail (trail-entry, sig-ok as above)
//   step-modal: step-title, step-officers, step-vehicles, step-at, step-reason; the 反馈单 as a case form
//     (field-<key>, error-<key>, loss table field-loss_items-<row>-item / -amount, add-row-loss_items),
//     loss-total, loss-upper, loss-error; step-error, step-ok, step-cancel
//   dispatch-modal: dispatch-search, input[data-testid="dispatch-target"][value=<unit code>],
//     dispatch-opinion, dispatch-error, dispatch-ok, dispatch-cancel
// 110 查询统计 (stats.js, query.js, import.js; ids listed at the top of each)
//   open-stats (workbench button, shown only when the hub's stats_access allows), screen-stats
// 签名 PIN 对话框
//   pin-modal, pin-title, pin-input, pin-error, pin-ok, pin-cancel
// 附件查看
//   viewer, viewer-name, viewer-img, viewer-note, viewer-stage,
//   zoom-in, zoom-out, zoom-level, zoom-fit, zoom-actual, viewer-close
// ---------------------------------------------------------------------------

import { openCase, decide, act, submitSaved, addPhrase } from "./case.js";
import { openNewCase, saveCase, openEdit, saveEdit } from "./edit.js";
import { enrol } from "./enrol.js";
import { scheduleRefresh, listenEvents } from "./events.js";
import { $, state, TABS, showScreen, messageAction, showMessage, clearMessage, busy, askPin, wirePinModal } from "./shell.js";
import { refreshStatus, syncNow, redoSteps } from "./status.js";
import { wireViewer } from "./viewer.js";
import { openWork, renderLists, selectTab } from "./work.js";
import { call, isDesktop } from "./api.js";
import { wireSlip } from "./slip.js";
import { wireUsers } from "./users.js";
import { startWeb } from "./web.js";
import { wireIncidents } from "./incident.js";
import { wireStats } from "./stats.js";
import { wireSupervise } from "./supervise.js";
import { wireAdmin } from "./admin.js";
import { wireUpdates, checkUpdates } from "./update.js";

const POLL_MS = 5000;

// ============================================================== wiring

function wire() {
  $("message-close").addEventListener("click", clearMessage);
  $("message-action").addEventListener("click", () => {
    const action = messageAction;
    clearMessage();
    if (action) action.run();
  });
  $("sync-now").addEventListener("click", syncNow);
  $("sync-redo").addEventListener("click", redoSteps);
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
  wireIncidents();
  wireStats();
  wireSupervise();
  wireAdmin();
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
  // Updates from the county hub: now, then once a day.
  wireUpdates();
  checkUpdates(false);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
