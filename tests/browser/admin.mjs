// admin.mjs — the system administrator's console (系统管理) in real headless
// Chromium, on the UI the hub serves: the administrator signs in, creates an
// account, approves a station's pending device (checking the key
// fingerprint the station shows), uploads an xlsx of 30 people with 2 bad
// rows (exactly 2 errors shown, nothing imported), then the fixed file
// (imported: registry version 2), sees version 2 in 规则数据 and publishes
// a new workflow version from its JSON file (version 3).
// Run by crates/jingwu-hub/tests/browser.rs (admin_console_in_a_browser),
// which starts the hub and answers on stdin:
//   prints "ACCOUNT_CREATED <person>" → waits for "CHECKED" (the account exists)
//   prints "DEVICE_APPROVED <id>"     → waits for "CHECKED" (the enrolment is approved)
//   prints "IMPORT_NONE"              → waits for "CHECKED" (nothing published, no account)
//   prints "IMPORT_DONE"              → waits for "CHECKED" (version 2 with the 30)
//   prints "PUBLISHED"                → waits for "CHECKED" (version 3 with the new workflow)
//   prints "DONE"                     at the end; exit code 0 only if every check passed.
// Environment: HUB_URL, SPKI, PASSWORD, SHOTS, ADMIN (account), ADMIN_PIN (its
// registry signing PIN), NEW_PERSON (the account to create), DEVICE_PERSON and
// DEVICE_FP (the pending enrolment and its key's fingerprint), BAD_XLSX,
// GOOD_XLSX, INITIAL_PASSWORD, WORKFLOW_JSON (a new workflow version).

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { closeInput, env, say, waitFor } from "./kit.mjs";

const HUB = env("HUB_URL");
const SPKI = env("SPKI");
const PASSWORD = env("PASSWORD");
const SHOTS = env("SHOTS");
const ADMIN = env("ADMIN");
const ADMIN_PIN = env("ADMIN_PIN");
const NEW_PERSON = env("NEW_PERSON");
const DEVICE_PERSON = env("DEVICE_PERSON");
const DEVICE_FP = env("DEVICE_FP");
const BAD_XLSX = env("BAD_XLSX");
const GOOD_XLSX = env("GOOD_XLSX");
const INITIAL_PASSWORD = env("INITIAL_PASSWORD");
const WORKFLOW_JSON = env("WORKFLOW_JSON");
const TIMEOUT = 30000;


mkdirSync(SHOTS, { recursive: true });
const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
};
let shotNo = 0;
let page;
const shot = async (name) => {
  shotNo += 1;
  await page.screenshot({ path: join(SHOTS, `${String(shotNo).padStart(2, "0")}-${name}.png`), fullPage: true });
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

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--ignore-certificate-errors-spki-list=${SPKI}`],
});

try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401|403|404|409|422|429|Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });

  // Sign in: the administrator (not in the org) goes to the workbench,
  // where 系统管理 is offered.
  await page.goto(`${HUB}/`);
  await screen("login");
  await page.fill("#login-person", ADMIN);
  await page.fill("#login-password", PASSWORD);
  await page.press("#login-password", "Enter");
  await screen("work");
  await page.waitForSelector("#open-admin:not([hidden])");
  await page.click("#open-admin");
  await screen("admin");
  await page.waitForSelector("#admin-pane-users:not([hidden])");
  await page.waitForSelector(`tr[data-testid="adm-user"][data-person="${ADMIN}"]`);

  // 账号: create one.
  await page.fill("#adm-new-person", NEW_PERSON);
  await page.fill("#adm-new-password", INITIAL_PASSWORD);
  await page.click("#adm-create");
  await textIncludes("#message-text", `已创建账号 ${NEW_PERSON}`);
  await page.waitForSelector(`tr[data-testid="adm-user"][data-person="${NEW_PERSON}"][data-disabled="false"]`);
  await shot("account-created");
  say(`ACCOUNT_CREATED ${NEW_PERSON}`);
  await waitFor("CHECKED");

  // 设备: the pending enrolment shows the station's fingerprint; approve it.
  await page.click("#admin-tab-devices");
  const row = `tr[data-testid="adm-device"][data-person="${DEVICE_PERSON}"][data-status="pending"]`;
  await page.waitForSelector(row);
  const fp = (await page.textContent(`${row} [data-testid="adm-fp"]`)).trim();
  check(fp === DEVICE_FP, `fingerprint shown ${fp}, the station's is ${DEVICE_FP}`);
  const id = await page.getAttribute(row, "data-id");
  await shot("device-pending");
  await page.click(`${row} [data-testid="adm-approve"]`);
  await textIncludes("#message-text", "已批准");
  await textIncludes("#message-text", DEVICE_FP);
  await page.waitForSelector(row, { state: "detached" });
  await page.selectOption("#adm-device-status", "approved");
  await page.waitForSelector(`tr[data-testid="adm-device"][data-id="${id}"][data-status="approved"]`);
  await shot("device-approved");
  say(`DEVICE_APPROVED ${id}`);
  await waitFor("CHECKED");

  // 人员导入: 2 bad rows → 2 errors, nothing imported (no PIN asked).
  await page.click("#admin-tab-import");
  await page.setInputFiles("#adm-imp-file", BAD_XLSX);
  await textIncludes("#adm-imp-name", ".xlsx");
  await page.fill("#adm-imp-password", INITIAL_PASSWORD);
  await page.click("#adm-imp-run");
  await page.waitForSelector('#adm-imp-summary[data-errors="2"]');
  await textIncludes("#adm-imp-summary", "未导入任何人员");
  const errors = await page.$$eval('tr[data-testid="adm-imp-error"]', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  check(errors.length === 2, `expected 2 row errors, got ${JSON.stringify(errors)}`);
  check(errors.some((e) => e[0] === "6" && e[1] === "单位代码" && e[2] === "522634999999" && e[3].length > 0), `the unknown unit's error: ${JSON.stringify(errors)}`);
  check(errors.some((e) => e[0] === "10" && e[1] === "警号" && e[2] === "05270A" && e[3].length > 0), `the bad 警号's error: ${JSON.stringify(errors)}`);
  check(await page.isHidden("#pin-modal"), "a PIN was asked for a file with errors");
  await shot("import-errors");
  say("IMPORT_NONE");
  await waitFor("CHECKED");

  // The fixed file: checked, then imported with the administrator's PIN.
  await page.setInputFiles("#adm-imp-file", GOOD_XLSX);
  await page.waitForSelector("#adm-imp-errors", { state: "hidden" });
  await page.click("#adm-imp-check");
  await page.waitForSelector('#adm-imp-summary[data-errors="0"]');
  await textIncludes("#adm-imp-summary", "检查通过");
  await textIncludes("#adm-imp-summary", "30 人");
  await page.click("#adm-imp-run");
  await page.waitForSelector("#pin-modal:not([hidden])");
  await page.fill("#pin-input", ADMIN_PIN);
  await page.press("#pin-input", "Enter");
  await textIncludes("#adm-imp-summary", "已发布规则数据第 2 版");
  await textIncludes("#adm-imp-summary", "新建账号 30 个");
  await shot("imported");
  say("IMPORT_DONE");
  await waitFor("CHECKED");

  // 规则数据: version 2 listed, newest first.
  await page.click("#admin-tab-registry");
  await page.waitForSelector('tr[data-testid="adm-version"][data-version="2"]');
  await textIncludes('tr[data-testid="adm-version"][data-version="2"]', "导入人员 30 人");
  await shot("registry");
  // A new workflow version from its JSON file, signed with the PIN.
  await page.selectOption("#adm-pub-kind", "workflows");
  await page.setInputFiles("#adm-pub-file", WORKFLOW_JSON);
  await page.waitForSelector("#adm-publish:not([disabled])");
  await page.fill("#adm-pub-note", "审批流程调整");
  await page.click("#adm-publish");
  await page.waitForSelector("#pin-modal:not([hidden])");
  await page.fill("#pin-input", ADMIN_PIN);
  await page.press("#pin-input", "Enter");
  await textIncludes("#message-text", "已发布规则数据第 3 版");
  await textIncludes('tr[data-testid="adm-version"][data-version="3"]', "审批流程调整");
  await shot("published");
  say("PUBLISHED");
  await waitFor("CHECKED");

  await page.click("#web-logout");
  await screen("login");
  if (problems.length > 0) throw new Error(problems.join("\n"));
  say("DONE");
} catch (err) {
  if (page) await page.screenshot({ path: join(SHOTS, "failed.png"), fullPage: true }).catch(() => {});
  console.error(`browser test failed: ${err && err.stack ? err.stack : err}`);
  if (problems.length > 0) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
  closeInput();
  process.stdin.destroy();
}
