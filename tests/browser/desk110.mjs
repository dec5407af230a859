// desk110.mjs — the 110 desk (接警台) in real headless Chromium, on the UI the
// hub serves: the 接警员 registers a call with the keyboard (a bad phone is
// refused at its field before any PIN), picks the category by pinyin
// initials, links a repeat call, dispatches two units; the units act on
// their stations; the 值班长 concludes in his own browser; the record is
// found in 已归档 and every step's signature verifies. Run by
// crates/jingwu-hub/tests/browser.rs (desk_110_in_a_browser), which starts
// the hub and answers on stdin:
//   prints "KEY_PENDING <person>"  → waits for "APPROVED"   (an admin approved the hosted key)
//   prints "NOTHING_SAVED?"        → waits for "CHECKED"    (the hub holds no case, no event)
//   prints "DISPATCHED <case id>"  → waits for "UNITS_DONE" (丹江 reported, 消防 returned)
//   prints "DONE"                  at the end; exit code 0 only if every check passed.
// Environment: HUB_URL, SPKI (base64 SHA-256 of the hub's public key), PASSWORD,
// PIN, DESK (接警员), CHIEF (值班长), DANJIANG and FIRE (unit codes), SHOTS.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { closeInput, env, say, waitFor } from "./kit.mjs";

const HUB = env("HUB_URL");
const SPKI = env("SPKI");
const PASSWORD = env("PASSWORD");
const PIN = env("PIN");
const DESK = env("DESK");
const CHIEF = env("CHIEF");
const DANJIANG = env("DANJIANG");
const FIRE = env("FIRE");
const SHOTS = env("SHOTS");
const TIMEOUT = 30000;

const BAD_PHONE = "1398550012";
const PHONE = "13985506666";
const SUMMARY = "报警人称家中被盗，保险柜被撬开，丢失现金约两千元";
const WORD = "保险柜";


mkdirSync(SHOTS, { recursive: true });
const problems = [];
const pages = [];
let shotNo = 0;
const shot = async (page, name) => {
  shotNo += 1;
  await page.screenshot({ path: join(SHOTS, `${String(shotNo).padStart(2, "0")}-${page.person}-${name}.png`), fullPage: true });
};
const check = (ok, text) => {
  if (!ok) problems.push(text);
};

// ------------------------------------------------------------ waiting on the page

async function textIncludes(page, selector, text) {
  await page.waitForFunction(
    ([sel, want]) => {
      const el = document.querySelector(sel);
      return Boolean(el && el.textContent.includes(want));
    },
    [selector, text],
    { timeout: TIMEOUT },
  );
}
async function textIs(page, selector, text) {
  await page.waitForFunction(
    ([sel, want]) => {
      const el = document.querySelector(sel);
      return Boolean(el && el.textContent.trim() === want);
    },
    [selector, text],
    { timeout: TIMEOUT },
  );
}
async function valueIs(page, selector, value) {
  await page.waitForFunction(
    ([sel, want]) => {
      const el = document.querySelector(sel);
      return Boolean(el && el.value === want);
    },
    [selector, value],
    { timeout: TIMEOUT },
  );
}
const screen = (page, name) => page.waitForSelector(`body[data-screen="${name}"]`, { timeout: TIMEOUT });
const focusedId = (page) => page.evaluate(() => (document.activeElement ? document.activeElement.id : ""));
const row = (no) => `#incident-rows tr[data-testid="incident-row"][data-case-no="${no}"]`;

// ------------------------------------------------------------ browser

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
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

/** "2026-12-03 17:21": Beijing time at `ms`, as the UI shows and types every time. */
const beijing = (ms) => new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ");
const aroundNow = () => [-60000, 0, 60000].map((d) => beijing(Date.now() + d));

/** A page in its own browser context (its own cookies, its machine's time zone): one person's browser. */
async function openPage(person, timezoneId) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN", timezoneId });
  const page = await context.newPage();
  page.person = person;
  page.setDefaultTimeout(TIMEOUT);
  // Any script error or CSP refusal fails the run.
  page.on("pageerror", (e) => problems.push(`${person} page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401|403|404|422|429|Failed to load resource/.test(m.text())) problems.push(`${person} console: ${m.text()}`);
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`${person} CSP: ${m.text()}`);
  });
  pages.push(page);
  return page;
}

/** Signs in; at the first sign-in sets the signing PIN and waits for the administrator. */
async function signIn(page) {
  await page.goto(`${HUB}/`);
  await screen(page, "login");
  await page.fill("#login-person", page.person);
  await page.fill("#login-password", PASSWORD);
  await page.press("#login-password", "Enter");
  await screen(page, "hostkey");
  await page.fill("#hostkey-pin", PIN);
  await page.fill("#hostkey-pin2", PIN);
  await page.press("#hostkey-pin2", "Enter");
  await page.waitForSelector("#hostkey-pending:not([hidden])");
  say(`KEY_PENDING ${page.person}`);
  await waitFor("APPROVED");
  await page.click("#hostkey-refresh");
  await screen(page, "work");
  await textIncludes(page, "#user-box", page.person);
}

/** Opens the 110 screen from the workbench. */
async function open110(page) {
  await page.waitForSelector("#open-110:not([hidden])");
  await page.click("#open-110");
  await screen(page, "incidents");
  await page.waitForSelector("#itab-to_dispatch");
}

/** Types the PIN into the signing dialog and confirms with Enter. */
async function pin(page) {
  await page.waitForSelector("#pin-modal:not([hidden])");
  check((await focusedId(page)) === "pin-input", `${page.person}: the PIN dialog does not take the focus`);
  await page.keyboard.type(PIN);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#pin-modal", { state: "hidden" });
}

/** Types into a field (focused, as with Tab), replacing what it held. */
async function typeInto(page, selector, text) {
  await page.focus(selector);
  await page.keyboard.press("Control+A");
  await page.keyboard.type(text);
}

/** 报警类别 by pinyin initials: the picker offers 刑事 › 盗窃 › 入室盗窃 first; Enter takes it. */
async function pickBurglary(page, shotName = null) {
  await page.focus("#field-alarm_category");
  await page.keyboard.type("rsdq");
  await page.waitForSelector('#field-alarm_category-list:not([hidden]) li[data-code="010101"]');
  const first = await page.getAttribute('#field-alarm_category-list li[aria-selected="true"]', "data-code");
  check(first === "010101", `rsdq: the highlighted category is ${first}, not 010101 入室盗窃`);
  if (shotName) await shot(page, shotName);
  await page.keyboard.press("Enter");
  await valueIs(page, "#field-alarm_category", "刑事 › 盗窃 › 入室盗窃");
  await page.waitForSelector("#field-alarm_category-list", { state: "hidden" });
  check((await page.inputValue("#field-alarm_type")) === "盗窃", "报警类型 is not filled from the category");
  check((await page.inputValue("#field-alarm_subtype")) === "入室盗窃", "报警细类 is not filled from the category");
}

/** The intake form opens with 报警时间 prefilled and the focus on 报警方式. */
async function newIntake(page) {
  await page.click("#new-incident");
  await screen(page, "intake");
  await page.waitForSelector("#field-report_time");
  const reportTime = await page.inputValue("#field-report_time");
  // Beijing time, whatever the machine's zone (as every time is shown).
  check(aroundNow().includes(reportTime), `报警时间 is not prefilled with the Beijing time now (${beijing(Date.now())}): "${reportTime}"`);
  check((await focusedId(page)) === "field-alarm_method", `the intake form starts at ${await focusedId(page)}, not 报警方式`);
  // 报警方式 电话; Enter moves on to 报警电话.
  await page.selectOption("#field-alarm_method", "1");
  await page.keyboard.press("Enter");
  check((await focusedId(page)) === "field-alarm_phone", `Enter after 报警方式 went to ${await focusedId(page)}`);
  return reportTime;
}

/** 案发地点, 乡镇 (丹江镇), 报警内容. */
async function placeAndText(page, location, summary) {
  await typeInto(page, "#field-location", location);
  await page.focus("#field-township");
  await page.selectOption("#field-township", "522634100");
  await typeInto(page, "#field-summary", summary);
}

// ------------------------------------------------------------ the run

try {
  // ===== 1. The 接警员 registers a call.
  // The desk PC's clock zone is UTC; the 值班长's is Beijing.
  const desk = await openPage(DESK, "UTC");
  await signIn(desk);
  await open110(desk);
  await textIs(desk, "#icount-to_dispatch", "0");
  await shot(desk, "110-lists");

  const reportTime = await newIntake(desk);
  await desk.keyboard.type(BAD_PHONE);
  // The core's error shows at the phone field while typing, before any PIN.
  await desk.waitForFunction(() => document.querySelector("#error-alarm_phone").textContent.trim() !== "");
  const phoneError = (await desk.textContent("#error-alarm_phone")).trim();
  check(/手机号应为 11 位/.test(phoneError), `the phone error is not clear: "${phoneError}"`);
  await typeInto(desk, "#field-caller_name", "王建国");
  await placeAndText(desk, "丹江镇营上村三组 12 号", SUMMARY);
  await pickBurglary(desk, "picker-rsdq");
  // Ctrl+Enter saves: refused at the phone field, no PIN asked.
  await desk.keyboard.press("Control+Enter");
  await textIncludes(desk, "#message-text", "接警单有 1 处需要修改");
  check(await desk.isHidden("#pin-modal"), "the PIN was asked for an intake with a bad phone");
  check((await desk.getAttribute("#field-alarm_phone", "aria-invalid")) === "true", "the phone field is not marked invalid");
  check((await focusedId(desk)) === "field-alarm_phone", `after the refusal the focus is on ${await focusedId(desk)}, not the phone`);
  await textIncludes(desk, "#error-alarm_phone", "手机号应为 11 位");
  await shot(desk, "intake-bad-phone");
  say("NOTHING_SAVED?");
  await waitFor("CHECKED");

  // Fixed; saved with the PIN.
  await desk.keyboard.press("Control+A");
  await desk.keyboard.type(PHONE);
  await textIs(desk, "#error-alarm_phone", "");
  await desk.keyboard.press("Control+Enter");
  await shot(desk, "intake-pin");
  await pin(desk);
  await screen(desk, "incident");
  await textIncludes(desk, "#message-text", "已保存");
  const no = (await desk.textContent("#incident-no")).trim();
  check(no !== "", "the saved record shows no 接警单编号");
  await textIncludes(desk, "#message-text", no);
  await desk.waitForSelector("#incident-dispatch:not([hidden])");
  // 报警时间 is shown as it was prefilled; 接警 was signed about then (both Beijing time).
  const created = (await desk.textContent('#incident-trail [data-testid="trail-entry"] [data-testid="trail-time"]')).trim();
  check(aroundNow().includes(created), `接警 was signed at ${created}, not about now in Beijing`);
  await textIncludes(desk, "#incident-values", `报警时间${reportTime}`);
  await shot(desk, "record-saved");

  // 待派警 lists it, with its count.
  await desk.click("#incident-back");
  await screen(desk, "incidents");
  await textIs(desk, "#icount-to_dispatch", "1");
  await desk.waitForSelector(row(no));
  const caseId = await desk.getAttribute(row(no), "data-case-id");
  await textIncludes(desk, `${row(no)} [data-testid="irow-category"]`, "入室盗窃");
  await shot(desk, "to-dispatch");

  // ===== 2. The same phone again: the repeat-call hint; 关联.
  await newIntake(desk);
  await desk.keyboard.type(PHONE);
  const hint = `#repeat-hint [data-testid="repeat-item"][data-case-no="${no}"]`;
  await desk.waitForSelector("#repeat-hint:not([hidden])");
  await desk.waitForSelector(hint);
  await textIncludes(desk, hint, "同一电话");
  await shot(desk, "repeat-hint");
  await desk.click(`${hint} [data-testid="repeat-link"]`);
  await valueIs(desk, "#field-related_no", no);
  await desk.waitForSelector(`${hint} [data-testid="repeat-linked"]`);
  await placeAndText(desk, "丹江镇营上村三组 12 号", "报警人再次来电，称发现后窗也被撬");
  await pickBurglary(desk);
  await desk.keyboard.press("Control+Enter");
  await pin(desk);
  await screen(desk, "incident");
  await textIncludes(desk, "#message-text", "已保存");
  await textIncludes(desk, "#incident-values", no);
  await shot(desk, "repeat-saved");
  await desk.click("#incident-back");
  await screen(desk, "incidents");
  await textIs(desk, "#icount-to_dispatch", "2");

  // ===== 3. 派警 to 丹江派出所 and 消防大队, found by search in the dialog.
  await desk.focus(row(no));
  await desk.keyboard.press("Enter");
  await screen(desk, "incident");
  await textIs(desk, "#incident-no", no);
  await desk.click("#incident-dispatch");
  await desk.waitForSelector("#dispatch-modal:not([hidden])");
  check((await focusedId(desk)) === "dispatch-search", "the 派警 dialog does not start at its search box");
  const target = (code) => `#dispatch-targets li[data-code="${code}"]`;
  await desk.keyboard.type("丹江");
  await desk.waitForSelector(`${target(FIRE)}`, { state: "hidden" });
  check(await desk.isVisible(target(DANJIANG)), "丹江派出所 is not found by 丹江");
  await desk.keyboard.press("Tab");
  await desk.keyboard.press("Space");
  check(await desk.isChecked(`#target-${DANJIANG}`), "Tab, Space after 丹江 did not choose 丹江派出所");
  // By pinyin initials, Enter picks the first unit found and clears the box.
  await typeInto(desk, "#dispatch-search", "xfdd");
  await desk.waitForSelector(`${target(DANJIANG)}`, { state: "hidden" });
  await desk.keyboard.press("Enter");
  check(await desk.isChecked(`#target-${FIRE}`), "xfdd, Enter did not choose 消防大队");
  check((await desk.inputValue("#dispatch-search")) === "", "Enter did not clear the search box");
  check(await desk.isVisible("#dispatch-modal"), "Enter in the search box sent the dialog");
  check(await desk.isChecked(`#target-${DANJIANG}`), "searching again lost 丹江派出所");
  await typeInto(desk, "#dispatch-opinion", "请丹江派出所、消防大队立即出警，及时反馈");
  await shot(desk, "dispatch-dialog");
  await desk.keyboard.press("Control+Enter");
  await pin(desk);
  await textIncludes(desk, "#message-text", "已派警（2 个单位）");
  await desk.waitForSelector("#dispatch-modal", { state: "hidden" });
  await desk.waitForSelector(`[data-testid="dispatch-card"][data-unit="${DANJIANG}"] [data-testid="dispatch-wait"]`);
  await desk.waitForSelector(`[data-testid="dispatch-card"][data-unit="${FIRE}"] [data-testid="dispatch-wait"]`);
  await shot(desk, "dispatched");

  // 已派未签收, with the time since dispatch.
  await desk.click("#incident-back");
  await screen(desk, "incidents");
  await textIs(desk, "#icount-unacked", "1");
  await textIs(desk, "#icount-to_dispatch", "1");
  await desk.click("#itab-unacked");
  await desk.waitForSelector(row(no));
  await textIncludes(desk, `${row(no)} [data-testid="irow-units"]`, "丹江派出所（已下达）");
  await textIncludes(desk, `${row(no)} [data-testid="irow-units"]`, "消防大队（已下达）");
  const wait = (await desk.textContent(`${row(no)} [data-testid="irow-wait"]`)).trim();
  check(/^\d+ 秒$|^\d+ 分 \d\d 秒$/.test(wait), `已派未签收 shows no time since dispatch: "${wait}"`);
  await shot(desk, "unacked");

  // ===== 4. The units act on their stations; the desk's page follows.
  say(`DISPATCHED ${caseId}`);
  await waitFor("UNITS_DONE");
  await textIs(desk, "#icount-to_close", "1");
  await textIs(desk, "#icount-unacked", "0");
  await desk.click("#itab-to_close");
  await desk.waitForSelector(row(no));
  await textIncludes(desk, `${row(no)} [data-testid="irow-units"]`, "丹江派出所（已反馈）");
  await shot(desk, "to-close");
  // Only the 值班长 concludes: the 接警员's page offers no 终结.
  await desk.focus(row(no));
  await desk.keyboard.press("Enter");
  await screen(desk, "incident");
  await desk.waitForSelector(`[data-testid="dispatch-card"][data-unit="${FIRE}"] [data-testid="dispatch-returned"]`);
  check(await desk.isHidden("#incident-conclude"), "the 接警员 is offered 终结");

  // The 值班长, in his own browser.
  const chief = await openPage(CHIEF, "Asia/Shanghai");
  await signIn(chief);
  await open110(chief);
  await chief.click("#itab-to_close");
  await chief.waitForSelector(row(no));
  await chief.focus(row(no));
  await chief.keyboard.press("Enter");
  await screen(chief, "incident");
  await textIs(chief, "#incident-no", no);
  await textIncludes(chief, '[data-testid="dispatch-card"][data-unit="' + FIRE + '"] [data-testid="dispatch-returned"]', "无需消防出动");
  await chief.waitForSelector("#incident-conclude:not([hidden])");
  await shot(chief, "to-conclude");
  await chief.click("#incident-conclude");
  await pin(chief);
  await textIncludes(chief, "#message-text", "已终结");
  await textIs(chief, "#incident-status", "已归档");
  await textIncludes(chief, "#incident-archive", "已归档于 110巡警大队");
  await chief.waitForSelector("#incident-conclude", { state: "hidden" });
  await shot(chief, "archived");

  // 已归档: the search finds it by a word of 报警内容 (and not by a word it lacks).
  await chief.click("#incident-back");
  await screen(chief, "incidents");
  await textIs(chief, "#icount-archived", "1");
  await chief.click("#itab-archived");
  await chief.waitForSelector("#incident-search:not([hidden])");
  await typeInto(chief, "#incident-search", "摩托车");
  await textIs(chief, "#incident-empty", "没有符合条件的警情");
  await chief.waitForSelector(row(no), { state: "detached" });
  await typeInto(chief, "#incident-search", WORD);
  await chief.waitForSelector(row(no));
  await textIs(chief, "#icount-archived", "1");
  await shot(chief, "archived-search");

  // The record page: every step of the trail "签名已验证".
  await chief.focus(row(no));
  await chief.keyboard.press("Enter");
  await screen(chief, "incident");
  await chief.waitForFunction(() => document.querySelectorAll('#incident-trail [data-testid="trail-entry"]').length === 9);
  const entries = await chief.$$eval('#incident-trail [data-testid="trail-entry"]', (els) =>
    els.map((el) => ({
      step: el.querySelector('[data-testid="trail-step"]').textContent.trim(),
      ok: Boolean(el.querySelector('[data-testid="sig-ok"]')) && el.querySelector('[data-testid="sig-ok"]').textContent.includes("签名已验证"),
      bad: Boolean(el.querySelector('[data-testid="sig-bad"]')),
    })),
  );
  check(
    entries.every((e) => e.ok && !e.bad),
    `not every trail step is 签名已验证: ${JSON.stringify(entries)}`,
  );
  const steps = entries.map((e) => e.step).sort().join(" ");
  const want = ["接警", "派警", "派警", "签收", "出警", "到达现场", "反馈", "退单", "终结"].sort().join(" ");
  check(steps === want, `the trail's steps: ${steps}; want ${want}`);
  await shot(chief, "trail");

  // The desk's page follows the record to 已归档 too.
  await textIs(desk, "#incident-status", "已归档");
  await shot(desk, "archived");

  for (const page of [desk, chief]) {
    await page.click("#web-logout");
    await screen(page, "login");
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  say("DONE");
} catch (err) {
  for (const page of pages) await page.screenshot({ path: join(SHOTS, `${page.person}-failed.png`), fullPage: true }).catch(() => {});
  console.error(`browser test failed: ${err && err.stack ? err.stack : err}`);
  if (problems.length > 0) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
  closeInput();
  process.stdin.destroy();
}
