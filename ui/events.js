// events.js — refreshing the current screen, and the backend's events
// (jingwu://changed, sync, notified, scanned, open-case).

import { loadCase, attachHotFile } from "./case.js";
import { $, state, showMessage, busyCount } from "./shell.js";
import { renderStatus, refreshStatus } from "./status.js";
import { loadLists } from "./work.js";
import { errorText } from "./api.js";
import { refreshHotFolder } from "./scan.js";
import { loadIncidentLists, openAnyCase, refreshIncidentEntry } from "./incident.js";
import { loadIncident } from "./incident-case.js";

// ============================================================== refresh and events

let refreshTimer = null;
let refreshing = false;

/** Refreshes the current screen soon (several events in a burst give one refresh). */
export function scheduleRefresh() {
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
    if (state.screen === "work") await Promise.all([loadLists(), refreshIncidentEntry()]);
    else if (state.screen === "case" && state.caseId && busyCount === 0) await loadCase();
    else if (state.screen === "incidents") await loadIncidentLists();
    else if (state.screen === "incident" && state.incident.caseId && busyCount === 0) await loadIncident();
  } finally {
    refreshing = false;
  }
}

export async function listenEvents() {
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
        showMessage(text, p.dispatch ? "error" : "info", id ? { label: "查看", run: () => openAnyCase(id, p.kind) } : null);
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
      if (id && state.status && state.status.enrolled) openAnyCase(id, p.kind);
    });
  } catch (err) {
    showMessage(`无法接收后台通知：${errorText(err)}`, "error");
  }
}
