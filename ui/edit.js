// edit.js — 新建申请 and 修改申请 (screen-new): the form, live validation,
// saving, attaching and submitting.

import { openCase, renderCase, attachmentUrl, addScanSources, decisionButtons } from "./case.js";
import { $, OFFLINE_SAVED, api, state, showScreen, showMessage, clearMessage, busyCount, busy, pinResolve, askPin } from "./shell.js";
import { refreshStatus } from "./status.js";
import { errorText } from "./api.js";
import { h, CaseForm } from "./form.js";

const VALIDATE_DELAY_MS = 300;

// ============================================================== 3. 新建申请

export async function loadTemplate() {
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

export async function openNewCase() {
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
export async function saveCase(submitting) {
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
      await saveAttachments(form, caseId, pin, (name) => {
        step = `保存附件“${name}”`;
      });
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
export async function openEdit() {
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
export async function saveEdit(resubmitting) {
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
      await saveAttachments(form, caseId, pin, (name) => {
        step = `保存附件“${name}”`;
      });
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

// Saves the form's attachments not saved yet, one by one with progress;
// each one saved is marked at once, so a retry after a failure resumes.
async function saveAttachments(form, caseId, pin, onFile) {
  const files = form.pending.filter((p) => !p.saved);
  for (let i = 0; i < files.length; i += 1) {
    const p = files[i];
    onFile(p.name);
    showMessage(`正在保存附件 ${i + 1}/${files.length}：${p.name}`, "progress");
    await api.attach(caseId, p.name, p.dataB64, pin, p.scanId);
    p.saved = true;
    form.renderPending();
  }
}
