// update.js — updates from the county hub (desktop only; docs/updates.md).
//
// The app asks the hub it is enrolled with for a newer version at start and
// once a day (and when the user clicks 检查更新). A newer version is shown
// with its notes; nothing is downloaded or installed until the user clicks
// 安装更新并重启. The backend then downloads the package, checks its signature
// against the county's update key built into the app, installs it and
// restarts; a package whose signature does not match, or a version not
// above the installed one, is refused with the backend's message.

import { $, showMessage } from "./shell.js";
import { call, errorText } from "./api.js";

const DAY_MS = 24 * 60 * 60 * 1000;

function show(info) {
  $("update-version").textContent = info.version;
  $("update-current").textContent = info.current;
  $("update-date").textContent = info.date ? `，发布于 ${info.date.slice(0, 10)}` : "";
  $("update-notes").textContent = info.notes || "（无更新说明）";
  $("update-status").hidden = true;
  $("update-error").textContent = "";
  $("update-error").hidden = true;
  $("update-install").disabled = false;
  $("update-banner").hidden = false;
}

/** Asks the hub; `manual` (the user clicked) also reports "up to date" and errors. */
export async function checkUpdates(manual) {
  let info;
  try {
    info = await call("update_check");
  } catch (err) {
    if (manual) showMessage(`检查更新失败：${errorText(err)}`, "error");
    return;
  }
  if (info.version) {
    show(info);
    return;
  }
  $("update-banner").hidden = true;
  if (manual) showMessage(info.idle || `已是最新版本（${info.current}）`, info.idle ? "info" : "success");
}

async function install() {
  $("update-install").disabled = true;
  $("update-later").disabled = true;
  $("update-error").hidden = true;
  $("update-status").textContent = "正在下载更新包并验证签名…";
  $("update-status").hidden = false;
  try {
    await call("update_install");
    $("update-status").textContent = "更新已安装，正在重启…";
  } catch (err) {
    $("update-status").hidden = true;
    $("update-error").textContent = errorText(err);
    $("update-error").hidden = false;
    $("update-install").disabled = false;
  } finally {
    $("update-later").disabled = false;
  }
}

export function wireUpdates() {
  $("update-check").hidden = false;
  $("update-check").addEventListener("click", () => checkUpdates(true));
  $("update-install").addEventListener("click", install);
  $("update-later").addEventListener("click", () => {
    $("update-banner").hidden = true;
  });
  setInterval(() => checkUpdates(false), DAY_MS);
}
