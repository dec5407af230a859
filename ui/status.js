// status.js — the header: the user, the sync indicator (online, pending,
// last sync, upload progress) and 同步.

import { scheduleRefresh } from "./events.js";
import { $, api, state, showScreen, showMessage, clearMessage, busy } from "./shell.js";
import { openWork } from "./work.js";
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
