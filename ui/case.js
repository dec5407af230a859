// case.js — 案件详情 (screen-case): values, attachments and page tools,
// the approval trail, decisions and the initiator's actions — each button
// shown by the backend's flags (the core's CaseState::allowed_actions).

import { loadTemplate } from "./edit.js";
import { $, OFFLINE_SAVED, api, statusLabel, statusCode, decisionLabel, decisionCode, ACTION_DONE, state, showScreen, showMessage, clearMessage, busy, askPin } from "./shell.js";
import { refreshStatus } from "./status.js";
import { openViewer } from "./viewer.js";
import { call, errorText, isDesktop } from "./api.js";
import { h, renderValues, thumbnail, fmtTime, fmtSize } from "./form.js";
import { scanSources } from "./scan.js";

// ============================================================== 4. 案件详情

export async function openCase(caseId, { keepMessage = false } = {}) {
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

export async function loadCase() {
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

export function renderCase(d, template) {
  $("case-no").textContent = d.case_no || "（未编号）";
  $("case-status").textContent = statusLabel(d.status);
  $("case-status").dataset.status = statusCode(d.status);
  $("case-step").textContent = d.step || "—";
  $("case-due-box").hidden = !d.due;
  $("case-due").replaceChildren(...dueParts(d, true));
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

/**
 * The current step's time limit (the core's step_due: due, overdue,
 * due_in_days, time_limit_working_days, due_estimated) as the due time
 * and a mark: 已超期, 今日到期 or 明日到期. `long` adds the limit in
 * working days (the case page). Nothing outside review.
 */
export function dueParts(r, long = false) {
  if (!r || !r.due) return [];
  const days = Number(r.due_in_days);
  const mark = r.overdue === true ? ["overdue", "已超期"] : days === 0 ? ["today", "今日到期"] : days === 1 ? ["tomorrow", "明日到期"] : null;
  const limit = long && r.time_limit_working_days != null ? `（${r.time_limit_working_days} 个工作日）` : "";
  return [
    h(
      "span",
      { class: "mono due-time", "data-testid": "due-time", title: r.due_estimated ? "该年度的法定节假日安排尚未导入，期限按周末推算" : null },
      `${fmtTime(r.due)}${r.due_estimated ? "*" : ""}`,
    ),
    limit ? h("span", { class: "due-limit" }, limit) : null,
    mark ? h("span", { class: `due-mark due-${mark[0]}`, "data-testid": "due-mark", "data-due": mark[0] }, mark[1]) : null,
  ].filter(Boolean);
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

export async function attachmentUrl(att) {
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
export async function attachHotFile(p) {
  const pin = await askPin(`附加到草稿 ${p.draft.case_no}：请输入签名 PIN`);
  if (pin === null) return;
  await busy([], async () => {
    showMessage(`正在附加“${p.file}”…`, "progress");
    try {
      const r = await call("attach_hot_file", { path: p.moved_to, pin });
      const pages = r.attached.reduce((n, a) => n + a.pages, 0);
      // The draft is shown with the new pages before the message says so.
      await openCase(p.draft.case_id, { keepMessage: true });
      showMessage(`已将 ${pages} 页扫描件附加到草稿 ${p.draft.case_no}`, "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

/** The scanner and hot-folder sources under the form's attachments (desktop only). */
export function addScanSources(form) {
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

export async function decide(decision) {
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

export async function act(action) {
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
export async function submitSaved() {
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

export function decisionButtons() {
  return ["decide-agree", "decide-disagree", "decide-return", "edit-case", "withdraw", "implement", "inform", "detail-submit", "back"].map($);
}

export function addPhrase(phrase) {
  const box = $("opinion");
  box.value = box.value.trim() ? `${box.value.trimEnd()}${phrase}` : phrase;
  state.opinions.set(state.caseId, box.value);
  box.focus();
}
