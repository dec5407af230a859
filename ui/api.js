// api.js — the one way the UI calls its backend.
//
// In the desktop app (window.__TAURI__ present) a call is a Tauri command;
// in a browser it is `POST /api/ui/<command>` on the county hub that served
// the page, with the same command names, arguments and results. Errors are
// thrown as the backend's Chinese message (a string) either way.

/** Whether the UI runs inside the desktop app. */
export const isDesktop = () => Boolean(window.__TAURI__ && window.__TAURI__.core && typeof window.__TAURI__.core.invoke === "function");

/** Error → the backend's own words. */
export function errorText(err) {
  if (typeof err === "string") return err;
  if (err && typeof err.message === "string") return err.message;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

// Tauri converts argument keys (caseId → case_id) but not command names: the
// shell registers its Rust function names (case_detail, attachment_data,
// sync_now), so those are invoked. Should a command answer "command … not
// found", the call is retried once under the other spelling (caseDetail ↔
// case_detail), which is then remembered.
const commandNames = new Map();
const otherSpelling = (name) =>
  name.includes("_")
    ? name.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
    : name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

async function invokeDesktop(command, args) {
  const core = window.__TAURI__.core;
  const name = commandNames.get(command) || command;
  try {
    return await core.invoke(name, args);
  } catch (err) {
    const text = errorText(err);
    const alt = otherSpelling(command);
    if (alt !== name && /not found/i.test(text) && !commandNames.has(command)) {
      try {
        const result = await core.invoke(alt, args);
        commandNames.set(command, alt);
        return result;
      } catch (err2) {
        throw errorText(err2);
      }
    }
    throw text;
  }
}

/** Fired on window when the hub says the browser session is over. */
export const SIGNED_OUT_EVENT = "jingwu:signed-out";

// Calls made while no one has touched the page for a minute (the screens'
// background refresh) are marked idle: the hub does not count them as
// activity, so an unattended browser is signed out after the idle timeout.
const IDLE_AFTER_MS = 60 * 1000;
let lastInput = Date.now();
for (const type of ["pointerdown", "keydown", "wheel", "touchstart"]) {
  window.addEventListener(type, () => (lastInput = Date.now()), { capture: true, passive: true });
}

async function fetchHub(command, args) {
  let res;
  const headers = { "Content-Type": "application/json", "X-Jingwu-UI": "1" };
  if (Date.now() - lastInput > IDLE_AFTER_MS) headers["X-Jingwu-Idle"] = "1";
  try {
    res = await fetch(`/api/ui/${encodeURIComponent(command)}`, {
      method: "POST",
      credentials: "same-origin",
      headers,
      body: JSON.stringify(args || {}),
    });
  } catch {
    throw "无法连接县局服务器，请检查网络";
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.ok) return body;
  if (res.status === 401 && command !== "login") window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: body && body.error }));
  throw (body && body.error) || `县局服务器错误（${res.status}）`;
}

/** Calls a backend command: `call("case_detail", { caseId })`. */
export function call(command, args) {
  return isDesktop() ? invokeDesktop(command, args) : fetchHub(command, args);
}
