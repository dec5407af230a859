// Start-up page of the station app. Shows what the `app_info` Tauri command
// returns. Outside the desktop app (a plain browser) there is no Tauri IPC.
"use strict";

async function showAppInfo() {
  const target = document.getElementById("app-info");
  const tauri = window.__TAURI__;
  if (!tauri || !tauri.core) {
    target.textContent = "未在桌面应用中运行（无 Tauri 接口）";
    target.classList.add("error");
    return;
  }
  try {
    const info = await tauri.core.invoke("app_info");
    target.textContent = `${info.name} 版本 ${info.version}`;
    target.dataset.name = info.name;
    target.dataset.version = info.version;
  } catch (error) {
    target.textContent = `读取版本信息失败：${error}`;
    target.classList.add("error");
  }
}

document.addEventListener("DOMContentLoaded", showAppInfo);
