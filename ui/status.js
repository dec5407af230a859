// status.js — the header: the user, the sync indicator (online, pending,
// last sync, upload progress) and 同步.

import { scheduleRefresh } from "./events.js";
import { $, api, state, showScreen, showMessage, clearMessage, busy, askPin } from "./shell.js";
import { openWork } from "./work.js";
import { refreshSuperviseEntry } from "./supervise.js";
import { refreshAdminEntry } from "./admin.js";
import { errorText } from "./api.js";
import { fmtTime } from "./form.js";

// ============================================================== status / sync indicator

export function renderStatus(next) {
  if (!next || typeof next !== "object") return;
  // A partial payload (e.g. from jingwu://sync) keeps the fields it leaves out.
  const s = { ...(state.status || {}), ...next };
  state.status = s;
  $("user-name").textContent = s.name || s.person || "";
  $("user-person").textContent = s.person ? `警号 ${s.person}` : "";
  $("user-unit").textContent = s.unit || "";
  refreshSuperviseEntry();
  refreshAdminEntry();

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

  // 110 steps set aside because another unit acted first: signed again
  // with the PIN (the desktop only; the browser signs at the hub).
  const redo = Number(s.redo) || 0;
  $("sync-redo").hidden = redo === 0;
  $("sync-redo").textContent = `${redo} 个接处警操作需重新签名`;
  $("sync-redo").title = "其他单位同时处理了同一警情，您的操作未被县局接受；它们仍然有效，输入 PIN 重新签名后上传（处理时间不变）";

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
export async function refreshStatus() {
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

/** Signs again the set-aside 110 steps (see `redo` in status). */
export async function redoSteps() {
  clearMessage();
  const pin = await askPin("重新签名未被接受的接处警操作 — 请输入签名 PIN");
  if (pin === null || pin === undefined) return;
  await busy([$("sync-redo")], async () => {
    try {
      const r = await api.redo(pin);
      const signed = Array.isArray(r.signed) ? r.signed : [];
      const refused = Array.isArray(r.refused) ? r.refused : [];
      if (refused.length > 0) showMessage(`已重新签名 ${signed.length} 项；不再适用 ${refused.length} 项：${refused.join("；")}`, "error");
      else showMessage(`已重新签名 ${signed.length} 项，将自动上传`, "success");
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
  await refreshStatus();
  scheduleRefresh();
}

export async function syncNow() {
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
