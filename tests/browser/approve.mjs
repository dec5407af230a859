// approve.mjs — one county approver in real headless Chromium, on the UI the
// hub serves. Run by crates/jingwu-hub/tests/browser.rs, which starts the hub
// and answers on stdin:
//   prints "KEY_PENDING"      → waits for "APPROVED" (an admin approved the hosted key)
//   prints "WRONG_PIN_DONE"   → waits for "CHECKED"  (nothing was committed)
//   prints "DONE"             at the end; exit code 0 only if every check passed.
// Environment: HUB_URL, SPKI (base64 SHA-256 of the hub's public key: the
// only certificate Chromium accepts), PERSON, PASSWORD, PIN, CASE_ID, SHOTS (screenshot dir),
// CHECK_BAD=1 (also try bad input: wrong password, PIN mismatch, no opinion,
// wrong PIN, a call without the UI header), SUPERVISE=1 (the person may
// open 督办清单).

import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeInput, env, say, waitFor } from "./kit.mjs";

const HUB = env("HUB_URL");
const SPKI = env("SPKI");
const PERSON = env("PERSON");
const PASSWORD = env("PASSWORD");
const PIN = env("PIN");
const CASE_ID = env("CASE_ID");
const SHOTS = env("SHOTS");
const CHECK_BAD = process.env.CHECK_BAD === "1";
// Whether this person may open 督办清单 (a bureau or station leader).
const SUPERVISE = process.env.SUPERVISE === "1";
const TIMEOUT = 30000;


mkdirSync(SHOTS, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "jingwu-chromium-"));
const problems = [];
let page;
let shotNo = 0;
const shot = async (name) => {
  shotNo += 1;
  await page.screenshot({ path: join(SHOTS, `${PERSON}-${String(shotNo).padStart(2, "0")}-${name}.png`), fullPage: true });
};

async function textIncludes(selector, text) {
  await page.waitForFunction(
    ([sel, want]) => {
      const el = document.querySelector(sel);
      return Boolean(el && el.textContent.includes(want));
    },
    [selector, text],
    { timeout: TIMEOUT },
  );
}
const screen = (name) => page.waitForSelector(`body[data-screen="${name}"]`, { timeout: TIMEOUT });
const message = () => page.textContent("#message-text");

const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  locale: "zh-CN",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--ignore-certificate-errors-spki-list=${SPKI}`,
  ],
});
try {
  page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  // Any script error or CSP refusal fails the run.
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401|403|429|Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });

  const resp = await page.goto(`${HUB}/`);
  const csp = resp.headers()["content-security-policy"] || "";
  if (!csp.includes("script-src 'self'") || csp.includes("unsafe")) problems.push(`weak CSP: ${csp}`);
  await screen("login");
  await page.waitForSelector('body[data-platform="web"]');
  await shot("login");

  if (CHECK_BAD) {
    // A call without the UI header is refused (cross-site forms cannot add it).
    const status = await page.evaluate(async () => (await fetch("/api/ui/status", { method: "POST", body: "{}" })).status);
    if (status !== 403) problems.push(`call without X-Jingwu-UI answered ${status}`);
    await page.fill("#login-person", PERSON);
    await page.fill("#login-password", "Wrong-Passw0rd!");
    await page.click("#login-submit");
    await textIncludes("#message-text", "账号或密码错误");
    await shot("login-wrong-password");
  }

  await page.fill("#login-person", PERSON);
  await page.fill("#login-password", PASSWORD);
  await page.click("#login-submit");
  await screen("hostkey");
  const cookie = await page.evaluate(() => document.cookie);
  if (cookie.includes("jingwu_ui")) problems.push("the session cookie is readable from script");
  await shot("hostkey-create");

  if (CHECK_BAD) {
    await page.fill("#hostkey-pin", PIN);
    await page.fill("#hostkey-pin2", `${PIN}9`);
    await page.click("#hostkey-submit");
    await textIncludes("#message-text", "两次输入的签名 PIN 不一致");
    await page.fill("#hostkey-pin", "111111");
    await page.fill("#hostkey-pin2", "111111");
    await page.click("#hostkey-submit");
    await textIncludes("#message-text", "签名 PIN 至少 6 位");
  }
  await page.fill("#hostkey-pin", PIN);
  await page.fill("#hostkey-pin2", PIN);
  await page.click("#hostkey-submit");
  await page.waitForSelector("#hostkey-pending:not([hidden])");
  await textIncludes("#message-text", "等待县局系统管理员批准");
  await shot("hostkey-pending");

  say("KEY_PENDING");
  await waitFor("APPROVED");
  await page.click("#hostkey-refresh");
  await screen("work");
  const row = `tr[data-testid="case-row"][data-case-id="${CASE_ID}"]`;
  await page.waitForSelector(row);
  await textIncludes("#tab-todo", "1");
  // 办理期限: the end of a working day, not yet overdue.
  const due = ((await page.textContent(`${row} [data-testid="row-due"]`)) || "").trim();
  if (!/^\d{4}-\d{2}-\d{2} 23:59/.test(due)) problems.push(`row 办理期限: ${due}`);
  if ((await page.getAttribute(row, "data-overdue")) !== "false") problems.push("a fresh case is marked overdue");
  if (await page.isVisible("#new-case")) problems.push("新建申请 is shown in the browser");
  if (await page.isVisible("#sync-indicator")) problems.push("the sync indicator is shown in the browser");
  await textIncludes("#user-box", PERSON);
  await shot("todo");

  // 督办清单: only for leaders; a fresh case is not on it.
  if ((await page.isVisible("#open-supervise")) !== SUPERVISE) problems.push(`督办清单 button shown: ${!SUPERVISE}`);
  if (SUPERVISE) {
    await page.click("#open-supervise");
    await screen("supervise");
    await textIncludes("#supervise-scope", "范围：");
    await page.waitForSelector("#supervise-empty:not([hidden])");
    if ((await page.$$('[data-testid="supervise-row"]')).length !== 0) problems.push("a fresh case is on the 督办 list");
    await shot("supervise");
    await page.click("#supervise-back");
    await screen("work");
    await page.waitForSelector(row);
  }

  await page.click(row);
  await screen("case");
  await page.waitForSelector('[data-testid="trail-entry"]');
  await page.waitForSelector("#decide-panel:not([hidden])");
  await page.waitForSelector("#case-due-box:not([hidden])");
  await textIncludes("#case-due-box", "办理期限：");
  await textIncludes("#case-due", "个工作日");
  const trail = await page.$$('[data-testid="trail-entry"]');
  const ok = await page.$$('[data-testid="trail-entry"] [data-testid="sig-ok"]');
  const bad = await page.$$('[data-testid="sig-bad"]');
  if (trail.length < 2 || ok.length !== trail.length || bad.length !== 0) {
    problems.push(`signature marks: ${trail.length} entries, ${ok.length} verified, ${bad.length} bad`);
  }
  const values = await page.textContent("#case-values");
  if (!/\*{4,}/.test(values)) problems.push(`ID numbers are not masked: ${values}`);
  if (/\d{17}[\dX]/.test(values)) problems.push(`a full ID number is shown: ${values}`);
  await shot("case");

  // The scan opens in the viewer (read through attachment_data).
  await page.click("#attachment-open-1");
  await page.waitForSelector("#viewer-img:not([hidden])");
  await shot("attachment");
  await page.click("#viewer-close");

  if (CHECK_BAD) {
    // 不同意 must say why: the core's rule answers before any PIN.
    await page.fill("#opinion", "  ");
    await page.click("#decide-disagree");
    await textIncludes("#message-text", "不同意时必须填写意见");
    await page.fill("#opinion", "经审核，材料齐全，同意。");
    await page.click("#decide-agree");
    await page.waitForSelector("#pin-modal:not([hidden])");
    await page.fill("#pin-input", "999999");
    await page.click("#pin-ok");
    await textIncludes("#message-text", "签名 PIN 不正确");
    await shot("wrong-pin");
    say("WRONG_PIN_DONE");
    await waitFor("CHECKED");
  }

  const opinion = `${PERSON} 浏览器审批：材料齐全，同意。`;
  await page.fill("#opinion", opinion);
  await page.click("#decide-agree");
  await page.waitForSelector("#pin-modal:not([hidden])");
  await shot("pin");
  await page.fill("#pin-input", PIN);
  await page.click("#pin-ok");
  await textIncludes("#message-text", "已办理：同意");
  await textIncludes("#trail", opinion);
  await page.waitForSelector("#decide-panel", { state: "hidden" });
  await shot("decided");

  // 已办 lists it; 待办 no longer.
  await page.click("#back");
  await screen("work");
  await page.click("#tab-done");
  await page.waitForSelector(row);
  await textIncludes("#count-todo", "0");
  await shot("done");

  await page.click("#web-logout");
  await screen("login");
  await shot("logged-out");
  if (problems.length > 0) throw new Error(problems.join("\n"));
  say("DONE");
} catch (err) {
  if (page) await page.screenshot({ path: join(SHOTS, `${PERSON}-failed.png`), fullPage: true }).catch(() => {});
  console.error(`browser test failed: ${err && err.stack ? err.stack : err}`);
  if (problems.length > 0) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  closeInput();
  process.stdin.destroy();
}
