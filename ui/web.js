// web.js — what only the browser needs, when the county hub serves the UI
// (ui/api.js then calls the hub's /api/ui/<command>): sign-in with the hub
// password, creating the hosted signing key at the first sign-in (an
// administrator approves it like a device), waiting for that approval,
// signing out. Desktop-only actions (新建申请, attachments import, the sync
// indicator) are hidden by web.css. Everything else is main.js's screens.
//
// Stable ids (id == data-testid):
//   body[data-platform="web"]; body[data-screen] adds login | hostkey
//   登录 (screen-login): login-form, login-person, login-password, login-submit
//   签名密钥 (screen-hostkey): hostkey-create (form) with hostkey-pin, hostkey-pin2,
//     hostkey-submit; hostkey-pending (box) with hostkey-fingerprint, hostkey-refresh
//   header: web-logout

import { h } from "./form.js";
import { call, errorText, SIGNED_OUT_EVENT } from "./api.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 5000;

let app = null;

function loginScreen() {
  return h(
    "section",
    { class: "screen web-screen", id: "screen-login", "data-testid": "screen-login" },
    h(
      "form",
      { class: "card enrol-card", id: "login-form", "data-testid": "login-form", novalidate: true, onsubmit: login },
      h("h1", {}, "县局审批 · 登录"),
      h("p", { class: "lead" }, "请使用县局系统账号（警号）和登录密码登录。审批时需输入您的签名 PIN。"),
      h(
        "div",
        { class: "grid-form" },
        h("label", { for: "login-person" }, "警号"),
        h("div", {}, h("input", { type: "text", id: "login-person", "data-testid": "login-person", autocomplete: "username", spellcheck: "false" })),
        h("label", { for: "login-password" }, "登录密码"),
        h("div", {}, h("input", { type: "password", id: "login-password", "data-testid": "login-password", autocomplete: "current-password" })),
      ),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary", id: "login-submit", "data-testid": "login-submit" }, "登录")),
    ),
  );
}

function hostkeyScreen() {
  return h(
    "section",
    { class: "screen web-screen", id: "screen-hostkey", "data-testid": "screen-hostkey" },
    h(
      "form",
      { class: "card enrol-card", id: "hostkey-create", "data-testid": "hostkey-create", novalidate: true, autocomplete: "off", onsubmit: createKey },
      h("h1", {}, "首次使用 · 设置签名 PIN"),
      h(
        "p",
        { class: "lead" },
        "每一次审批都以您的签名密钥签名。浏览器中使用的签名密钥保存在县局服务器上，由您的签名 PIN 加密，只有输入 PIN 才能使用。请设置签名 PIN 并牢记，不要告诉他人；连续输错将暂时锁定。",
      ),
      h(
        "div",
        { class: "grid-form" },
        h("label", { for: "hostkey-pin" }, "签名 PIN"),
        h("div", {}, h("input", { type: "password", id: "hostkey-pin", "data-testid": "hostkey-pin", inputmode: "numeric", autocomplete: "new-password" })),
        h("label", { for: "hostkey-pin2" }, "确认 PIN"),
        h("div", {}, h("input", { type: "password", id: "hostkey-pin2", "data-testid": "hostkey-pin2", inputmode: "numeric", autocomplete: "new-password" })),
      ),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary", id: "hostkey-submit", "data-testid": "hostkey-submit" }, "创建签名密钥")),
    ),
    h(
      "div",
      { class: "card enrol-card", id: "hostkey-pending", "data-testid": "hostkey-pending", hidden: true },
      h("h1", {}, "签名密钥等待批准"),
      h("p", { class: "lead" }, "签名密钥已创建，正在等待县局系统管理员批准。批准后即可查看和审批案件。"),
      h("p", {}, "密钥指纹：", h("span", { class: "mono", id: "hostkey-fingerprint", "data-testid": "hostkey-fingerprint" })),
      h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-primary", id: "hostkey-refresh", "data-testid": "hostkey-refresh", onclick: () => begin() }, "刷新状态")),
    ),
  );
}

function showLogin(text) {
  app.state.status = null;
  app.showScreen("login");
  if (text) app.showMessage(text, "error");
  $("login-password").value = "";
  $("login-person").focus();
}

async function login(e) {
  e.preventDefault();
  const person = $("login-person").value.trim();
  const password = $("login-password").value;
  if (!person) return fail("请填写警号", "login-person");
  if (!password) return fail("请填写登录密码", "login-password");
  $("login-submit").disabled = true;
  try {
    await call("login", { person, password });
    $("login-password").value = "";
    app.clearMessage();
    await begin();
  } catch (err) {
    $("login-password").value = "";
    fail(errorText(err), "login-password");
  } finally {
    $("login-submit").disabled = false;
  }
}

function fail(text, id) {
  app.showMessage(text, "error");
  $(id).focus();
}

async function createKey(e) {
  e.preventDefault();
  const pin = $("hostkey-pin").value;
  const pin2 = $("hostkey-pin2").value;
  if (!pin) return fail("请设置签名 PIN", "hostkey-pin");
  if (pin !== pin2) return fail("两次输入的签名 PIN 不一致", "hostkey-pin2");
  $("hostkey-submit").disabled = true;
  try {
    const r = await call("enrol_hosted_key", { pin });
    $("hostkey-pin").value = "";
    $("hostkey-pin2").value = "";
    app.showMessage((r && r.message) || "签名密钥已创建", "success");
    await begin(true);
  } catch (err) {
    fail(errorText(err), "hostkey-pin");
  } finally {
    $("hostkey-submit").disabled = false;
  }
}

/** Reads the session and the hosted key; goes to the screen that fits. */
async function begin(keepMessage = false) {
  let s;
  try {
    s = await call("status");
  } catch {
    showLogin();
    return;
  }
  const key = (s && s.hosted_key) || { status: "none" };
  if (s.in_org && key.status !== "approved") {
    app.state.status = null;
    app.showScreen("hostkey");
    const pending = key.status === "pending";
    $("hostkey-create").hidden = pending;
    $("hostkey-pending").hidden = !pending;
    $("hostkey-fingerprint").textContent = key.fingerprint || "";
    if (!keepMessage && ["rejected", "revoked"].includes(key.status)) {
      app.showMessage(key.status === "rejected" ? "签名密钥未获批准，请重新设置签名 PIN 创建密钥" : "签名密钥已被撤销，请重新设置签名 PIN 创建密钥", "error");
    } else if (!keepMessage && pending) {
      app.clearMessage();
    }
    if (!pending) $("hostkey-pin").focus();
    return;
  }
  if (!keepMessage) app.clearMessage();
  app.showScreen("loading");
  await app.refreshStatus();
}

async function logout() {
  try {
    await call("logout");
  } catch {
    // The session is over either way.
  }
  showLogin();
  app.showMessage("已退出登录", "info");
}

/**
 * Takes over start-up in a browser. `hooks`: main.js's showScreen,
 * showMessage, clearMessage, refreshStatus, scheduleRefresh and state.
 */
export async function startWeb(hooks) {
  app = hooks;
  document.body.dataset.platform = "web";
  document.head.append(h("link", { rel: "stylesheet", href: "web.css" }));
  document.title = "警务协同 · 县局审批";
  const sub = document.querySelector(".brand-sub");
  if (sub) sub.textContent = "县局审批";
  const loadingText = document.querySelector("#screen-loading .loading-text");
  if (loadingText) loadingText.textContent = "正在连接县局服务器…";
  const main = $("screen-work").parentElement;
  main.append(loginScreen(), hostkeyScreen());
  $("user-box").append(h("button", { type: "button", class: "btn btn-small", id: "web-logout", "data-testid": "web-logout", onclick: logout }, "退出登录"));
  window.addEventListener(SIGNED_OUT_EVENT, (e) => {
    if (app.state.screen !== "login") showLogin(errorText(e.detail || "登录已失效，请重新登录"));
  });
  await begin();
  // No live channel in the browser: the lists and the open case (110 lists
  // and records too) are re-read.
  setInterval(() => {
    if (["work", "case", "incidents", "incident"].includes(app.state.screen)) {
      app.refreshStatus();
      app.scheduleRefresh();
    }
  }, POLL_MS);
}
