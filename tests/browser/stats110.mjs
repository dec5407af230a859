// stats110.mjs — the leaders' 110 查询统计 in real headless Chromium, on the
// UI the hub serves, over ~1,500 imported historical records:
//   the 局长 queries with conditions (纠纷, 丹江派出所, a loss range), sees the
//   total and the pages, sorts by loss, saves the query and reopens it,
//   downloads the xlsx export; 统计分析 draws a chart and a table; the
//   monthly 警情通报 shows its figures and downloads as a PDF;
//   丹江派出所's 所长 sees only 丹江's records; a 民警 has no 查询统计 and the
//   hub refuses the command called by hand; the 110 desk imports a 20-row
//   CSV with 3 bad rows: exactly 3 errors and nothing imported, then 只导入
//   正确的行 imports 17.
// Every expected figure is computed here from the CSV files themselves.
// Run by crates/jingwu-hub/tests/browser.rs (stats_110_in_a_browser), which
// starts the hub and answers on stdin:
//   prints "KEY_PENDING <person>" → waits for "APPROVED" (an admin approved the hosted key)
//   prints "IMPORT_NONE"          → waits for "CHECKED"  (the hub holds no new record)
//   prints "IMPORT_DONE 17"       → waits for "CHECKED"  (the hub holds 17 more)
//   prints "DONE"                 at the end; exit code 0 only if every check passed.
// Environment: HUB_URL, SPKI, PASSWORD, PIN, SHOTS, HISTORY (the imported CSV),
// SMALL (the 20-row CSV), CHIEF (局长), DJ_LEADER (丹江 所长), DJ_OFFICER (丹江 民警),
// DESK (接警员), DANJIANG (unit code), PERIOD (a month, e.g. 2026-10).

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { closeInput, env, say, waitFor } from "./kit.mjs";

const HUB = env("HUB_URL");
const SPKI = env("SPKI");
const PASSWORD = env("PASSWORD");
const PIN = env("PIN");
const SHOTS = env("SHOTS");
const HISTORY = env("HISTORY");
const SMALL = env("SMALL");
const CHIEF = env("CHIEF");
const DJ_LEADER = env("DJ_LEADER");
const DJ_OFFICER = env("DJ_OFFICER");
const DESK = env("DESK");
const DANJIANG = env("DANJIANG");
const PERIOD = env("PERIOD");
const TIMEOUT = 30000;


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

// ------------------------------------------------------------ the CSV, read here

/** RFC 4180 CSV → rows of cells. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
function records(path) {
  const [head, ...rows] = parseCsv(readFileSync(path, "utf8").replace(/^\uFEFF/, ""));
  return rows.filter((r) => r.length === head.length).map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}
/** "1234.5" yuan → 123450 fen, by text (no float). */
function fen(yuan) {
  const t = (yuan || "0").trim() || "0";
  const [i, d = ""] = t.split(".");
  return Number(i) * 100 + Number((d + "00").slice(0, 2));
}
const fenText = (f) => `${Math.floor(f / 100)}.${String(f % 100).padStart(2, "0")}`;

const history = records(HISTORY);
const LOSS_MIN = "0";
const LOSS_MAX = "2000";
const matching = history.filter(
  (r) => (r["报警内容"].includes("纠纷") || r["案发地点"].includes("纠纷")) && r["管辖单位代码"] === DANJIANG && fen(r["损失金额"]) >= fen(LOSS_MIN) && fen(r["损失金额"]) <= fen(LOSS_MAX),
);
const maxLoss = Math.max(...matching.map((r) => fen(r["损失金额"])));
const danjiangTotal = history.filter((r) => r["管辖单位代码"] === DANJIANG).length;
const inPeriod = history.filter((r) => r["报警时间"].startsWith(PERIOD)).length;
check(history.length >= 1000 && matching.length > 20 && inPeriod > 0, `the test data is too thin: ${history.length} records, ${matching.length} matching, ${inPeriod} in ${PERIOD}`);

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
async function attrIs(page, selector, attr, value) {
  await page.waitForFunction(
    ([sel, a, want]) => {
      const el = document.querySelector(sel);
      return Boolean(el && el.getAttribute(a) === want);
    },
    [selector, attr, value],
    { timeout: TIMEOUT },
  );
}
const screen = (page, name) => page.waitForSelector(`body[data-screen="${name}"]`, { timeout: TIMEOUT });

// ------------------------------------------------------------ browser

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--ignore-certificate-errors-spki-list=${SPKI}`],
});

async function openPage(person) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, locale: "zh-CN", timezoneId: "Asia/Shanghai", acceptDownloads: true });
  const page = await context.newPage();
  page.person = person;
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => problems.push(`${person} page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/401|403|404|422|429|Failed to load resource/.test(m.text())) problems.push(`${person} console: ${m.text()}`);
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`${person} CSP: ${m.text()}`);
  });
  pages.push(page);
  return page;
}

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
  await page.waitForSelector("body[data-stats]");
}

async function openStats(page) {
  await page.waitForSelector("#open-stats:not([hidden])");
  await page.click("#open-stats");
  await screen(page, "stats");
  await page.waitForSelector("#panel-query:not([hidden])");
}

/** Runs the query and waits for the hub's answer. */
async function query(page) {
  const answered = page.waitForResponse((r) => r.url().endsWith("/api/ui/incident_query"));
  await page.press("#q-text", "Enter");
  const res = await answered;
  check(res.status() === 200, `${page.person}: incident_query answered ${res.status()}`);
  await page.waitForSelector("body:not([aria-busy])");
}

const total = async (page) => Number(await page.getAttribute("#q-total", "data-total"));
const column = (page, cell) => page.$$eval(`#q-rows [data-testid="q-row"] [data-testid="${cell}"]`, (els) => els.map((e) => e.textContent.trim()));

/** Clicks `selector` and returns the download's bytes. */
async function download(page, selector) {
  const [d] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  const path = join(SHOTS, `${page.person}-${d.suggestedFilename()}`);
  await d.saveAs(path);
  return { name: d.suggestedFilename(), bytes: readFileSync(path) };
}

/** Whether a canvas has anything drawn on it (not one plain colour). */
const drawn = (page, sel) =>
  page.evaluate((s) => {
    const c = document.querySelector(s);
    if (!c || !c.width || !c.height) return false;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    for (let i = 0; i < d.length; i += 64) colours.add(`${d[i]},${d[i + 1]},${d[i + 2]},${d[i + 3]}`);
    return colours.size > 3;
  }, sel);

// ------------------------------------------------------------ the run

try {
  // ===== 1. The 局长: the whole bureau.
  const chief = await openPage(CHIEF);
  await signIn(chief);
  await openStats(chief);
  await textIncludes(chief, "#stats-scope", "雷山县公安局");
  check(await chief.isHidden("#stab-import"), "the 局长 is offered 历史导入");
  // Everything first: all the records, 30 pages of 50.
  await query(chief);
  check((await total(chief)) === history.length, `no conditions: ${await total(chief)} records, want ${history.length}`);
  await shot(chief, "query-all");

  // Conditions: 纠纷, 丹江派出所 (by pinyin initials), 0–2000 元.
  await chief.fill("#q-text", "纠纷");
  await chief.focus("#q-unit");
  await chief.keyboard.type("djpcs");
  await chief.waitForSelector(`#q-unit-list:not([hidden]) li[data-code="${DANJIANG}"]`);
  await chief.click(`#q-unit-list li[data-code="${DANJIANG}"]`);
  await chief.fill("#q-loss-min", LOSS_MIN);
  await chief.fill("#q-loss-max", LOSS_MAX);
  await chief.selectOption("#q-per-page", "20");
  await chief.waitForSelector("body:not([aria-busy])");
  await query(chief);
  check((await total(chief)) === matching.length, `纠纷 + 丹江 + 0–2000: ${await total(chief)} records, want ${matching.length}`);
  await textIncludes(chief, "#q-total", `共 ${matching.length} 条`);
  const pagesWant = Math.ceil(matching.length / 20);
  await textIncludes(chief, "#q-page", `第 1 / ${pagesWant} 页`);
  check((await column(chief, "q-case-no")).length === 20, "the first page does not hold 20 rows");
  check((await column(chief, "q-unit-cell")).every((u) => u === "丹江派出所"), "a row outside 丹江派出所");
  check((await column(chief, "q-summary")).every((s) => s.includes("纠纷")), "a row without 纠纷");
  // The next page, by the keyboard.
  await chief.focus("#q-table");
  const next = chief.waitForResponse((r) => r.url().endsWith("/api/ui/incident_query"));
  await chief.keyboard.press("PageDown");
  await next;
  await textIncludes(chief, "#q-page", `第 2 / ${pagesWant} 页`);
  // Sorted by loss, the largest first.
  const sorted = chief.waitForResponse((r) => r.url().endsWith("/api/ui/incident_query"));
  await chief.click('#q-table button[data-sort="loss"]');
  await sorted;
  await attrIs(chief, '#q-table th[data-col="loss"]', "aria-sort", "descending");
  const losses = await chief.$$eval('#q-rows [data-testid="q-loss"]', (els) => els.map((e) => Number(e.dataset.fen)));
  check(losses[0] === maxLoss, `sorted by loss, the first is ${losses[0]} fen, want ${maxLoss}`);
  check(
    losses.every((x, i) => i === 0 || losses[i - 1] >= x),
    `losses not in descending order: ${losses.join(",")}`,
  );
  const firstLoss = (await column(chief, "q-loss"))[0];
  check(firstLoss === fenText(maxLoss), `the largest loss shows as ${firstLoss}, want ${fenText(maxLoss)}`);
  await textIncludes(chief, "#q-page", `第 1 / ${pagesWant} 页`);
  await shot(chief, "query-sorted-by-loss");

  // Saved, cleared, reopened.
  await chief.fill("#q-save-name", "丹江纠纷");
  await chief.click("#q-save");
  await chief.waitForSelector('#q-saved li[data-name="丹江纠纷"]');
  await chief.click("#q-reset");
  check((await chief.inputValue("#q-text")) === "", "清空条件 left the keyword");
  const reopened = chief.waitForResponse((r) => r.url().endsWith("/api/ui/incident_query"));
  await chief.click('#q-saved li[data-name="丹江纠纷"] [data-testid="saved-open"]');
  await reopened;
  await chief.waitForSelector("body:not([aria-busy])");
  check((await chief.inputValue("#q-text")) === "纠纷", "the saved query did not bring its keyword back");
  check((await chief.inputValue("#q-unit")).includes("丹江派出所"), "the saved query did not bring its unit back");
  check((await chief.inputValue("#q-loss-max")) === LOSS_MAX, "the saved query did not bring its loss range back");
  check((await total(chief)) === matching.length, `the reopened query found ${await total(chief)}, want ${matching.length}`);
  await shot(chief, "saved-query");

  // The xlsx export: a workbook (zip).
  const xlsx = await download(chief, "#q-export-xlsx");
  check(xlsx.name.endsWith(".xlsx") && xlsx.bytes.subarray(0, 2).toString("latin1") === "PK", `the export is not an xlsx workbook: ${xlsx.name}`);
  await textIncludes(chief, "#message-text", "已下载");

  // 统计分析: by month and unit, a stacked chart and the table.
  await chief.click("#stab-group");
  await chief.waitForSelector("#panel-group:not([hidden])");
  await chief.selectOption("#g-period", "month");
  await chief.selectOption("#g-dim", "unit");
  await chief.fill("#g-from", "2026-01-01");
  await chief.fill("#g-to", "2026-11-30");
  await chief.click("#g-submit");
  await chief.waitForSelector('#g-chart[data-drawn="true"]');
  await chief.waitForSelector('#g-rows [data-testid="g-row"]');
  check(await drawn(chief, "#g-chart"), "the statistics chart is blank");
  const groupSum = await chief.$$eval('#g-rows [data-testid="g-row"]', (rows) => rows.reduce((n, r) => n + Number(r.children[2].textContent), 0));
  const in2026 = history.filter((r) => r["报警时间"] >= "2026-01-01" && r["报警时间"] < "2026-12-01").length;
  check(groupSum === in2026, `统计分析 counts ${groupSum} records in 2026-01..11, want ${in2026}`);
  await shot(chief, "stats-by-month-and-unit");

  // 处警速度: stacked bars per unit.
  await chief.click("#stab-speed");
  await chief.selectOption("#s-kind", "ack");
  await chief.click("#s-submit");
  await chief.waitForSelector('#s-chart[data-drawn="true"]');
  await chief.waitForSelector('#s-rows [data-testid="s-row"]');
  check(await drawn(chief, "#s-chart"), "the speed chart is blank");
  await shot(chief, "speed");

  // 警情通报 of the month: its figures, and the PDF.
  await chief.click("#stab-report");
  await chief.selectOption("#r-kind", "month");
  await chief.selectOption("#r-year", PERIOD.slice(0, 4));
  await chief.selectOption("#r-number", String(Number(PERIOD.slice(5, 7))));
  await chief.click("#r-submit");
  await chief.waitForSelector("#r-out:not([hidden])");
  await textIncludes(chief, "#r-title", `${PERIOD.slice(0, 4)}年${Number(PERIOD.slice(5, 7))}月`);
  const firstRow = await chief.$$eval("#r-table-0 tbody tr:first-child td", (tds) => tds.map((t) => t.textContent.trim()));
  check(firstRow[0] === "警情数" && Number(firstRow[1]) === inPeriod, `the report counts ${firstRow.join(" | ")}, want 警情数 ${inPeriod}`);
  check(await drawn(chief, "#r-chart-category"), "the report's category chart is blank");
  const dashes = await chief.$$eval("#r-out td", (tds) => tds.filter((t) => t.textContent.trim() === "—").length);
  check(dashes > 0, "no — for a change without a base in the report");
  await shot(chief, "report");
  const pdf = await download(chief, "#r-pdf");
  check(pdf.bytes.subarray(0, 4).toString("latin1") === "%PDF", `the report download is not a PDF: ${pdf.name}`);
  check(pdf.name === `jingqing-${PERIOD}.pdf`, `the PDF is named ${pdf.name}`);

  // ===== 2. 丹江派出所's 所长: 丹江 only.
  const leader = await openPage(DJ_LEADER);
  await signIn(leader);
  await openStats(leader);
  await textIncludes(leader, "#stats-scope", "丹江派出所");
  await leader.selectOption("#q-per-page", "200");
  await leader.waitForSelector("body:not([aria-busy])");
  await query(leader);
  check((await total(leader)) === danjiangTotal, `丹江's 所长 sees ${await total(leader)} records, want ${danjiangTotal}`);
  for (let p = 1; p <= Math.ceil(danjiangTotal / 200); p += 1) {
    if (p > 1) {
      const turned = leader.waitForResponse((r) => r.url().endsWith("/api/ui/incident_query"));
      await leader.click("#q-next");
      await turned;
      await textIncludes(leader, "#q-page", `第 ${p} /`);
    }
    const units = await leader.$$eval('#q-rows [data-testid="q-row"]', (rows) => rows.map((r) => r.dataset.unit));
    const names = await column(leader, "q-unit-cell");
    check(units.length > 0 && units.every((u) => u === DANJIANG) && names.every((n) => n === "丹江派出所"), `丹江's 所长, page ${p}: a record of another unit`);
  }
  await shot(leader, "danjiang-only");

  // ===== 3. A 民警: no 查询统计; the hub refuses the command anyway.
  const officer = await openPage(DJ_OFFICER);
  await signIn(officer);
  await attrIs(officer, "body", "data-stats", "denied");
  check(await officer.isHidden("#open-stats"), "a 民警 is offered 查询统计");
  const refused = await officer.evaluate(async () => {
    const r = await fetch("/api/ui/incident_query", { method: "POST", headers: { "Content-Type": "application/json", "X-Jingwu-UI": "1" }, body: "{}" });
    return { status: r.status, body: await r.json() };
  });
  check(refused.status === 403 && /没有查询警情和统计的权限/.test(refused.body.error), `a 民警's incident_query: ${JSON.stringify(refused)}`);
  await shot(officer, "no-stats");

  // ===== 4. The 110 desk imports 20 rows, 3 of them bad.
  const desk = await openPage(DESK);
  await signIn(desk);
  await openStats(desk);
  await desk.waitForSelector("#stab-import:not([hidden])");
  await desk.click("#stab-import");
  await desk.setInputFiles("#imp-file", SMALL);
  await textIncludes(desk, "#imp-name", ".csv");
  await desk.click("#imp-check");
  await desk.waitForSelector("#imp-summary:not([hidden])");
  await attrIs(desk, "#imp-summary", "data-refused", "3");
  const errors = await desk.$$eval('#imp-error-rows [data-testid="imp-error"]', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
  check(errors.length === 3, `the check lists ${errors.length} errors, want 3: ${JSON.stringify(errors)}`);
  check(
    errors.every(([row, col, , msg]) => Number(row) > 0 && col !== "" && msg !== ""),
    `an error without its row, column or message: ${JSON.stringify(errors)}`,
  );
  await shot(desk, "import-check");
  // 导入 without 只导入正确的行: nothing.
  await desk.click("#imp-run");
  await desk.waitForSelector("#pin-modal:not([hidden])");
  await desk.keyboard.type(PIN);
  await desk.keyboard.press("Enter");
  await textIncludes(desk, "#message-text", "未导入任何记录");
  await attrIs(desk, "#imp-summary", "data-imported", "0");
  say("IMPORT_NONE");
  await waitFor("CHECKED");
  // Then the valid rows only.
  await desk.check("#imp-only-valid");
  await desk.click("#imp-run");
  await desk.waitForSelector("#pin-modal:not([hidden])");
  await desk.keyboard.type(PIN);
  await desk.keyboard.press("Enter");
  await attrIs(desk, "#imp-summary", "data-imported", "17");
  await textIncludes(desk, "#message-text", "已导入 17 条");
  await shot(desk, "import-valid-rows");
  say("IMPORT_DONE 17");
  await waitFor("CHECKED");

  for (const page of [chief, leader, officer, desk]) {
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
