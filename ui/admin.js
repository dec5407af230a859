// admin.js — 系统管理 (screen-admin), in the hub-served browser UI, for
// system administrators only (status.is_admin; the hub checks again on
// every call: the admin_* commands go through one gate, crate::admin).
// Four parts: 账号 (list, create, disable/enable, reset password, end
// sessions), 设备 (enrolments with the key fingerprint the station shows:
// approve, reject, revoke), 人员导入 (an xlsx of 警号/姓名/单位代码/职务
// rows: checked first, every row error listed, imported only when clean,
// as a new registry version signed with the administrator's PIN) and
// 规则数据 (the published versions; a new workflow or template version,
// or a whole org or code tables, published from a JSON file).
//
// Stable ids (id == data-testid): open-admin (workbench button),
// screen-admin, admin-back, admin-tab-{users,devices,import,registry},
// admin-pane-{users,devices,import,registry};
// 账号: adm-new-person, adm-new-password, adm-new-admin, adm-create,
//   adm-users with tr[data-testid=adm-user][data-person][data-disabled]
//   holding buttons adm-disable | adm-enable, adm-reset, adm-end;
// 设备: adm-device-status (select), adm-devices with
//   tr[data-testid=adm-device][data-id][data-status] (cell adm-fp) holding
//   buttons adm-approve, adm-reject | adm-revoke;
// 人员导入: adm-imp-file, adm-imp-name, adm-imp-password, adm-imp-check,
//   adm-imp-run, adm-imp-summary, adm-imp-errors with
//   tr[data-testid=adm-imp-error];
// 规则数据: adm-pub-kind (select), adm-pub-file, adm-pub-name, adm-pub-note,
//   adm-publish; adm-versions with tr[data-testid=adm-version][data-version].

import { h, fmtTime } from "./form.js";
import { call, errorText } from "./api.js";
import { $, state, showScreen, showMessage, clearMessage, busy, askPin } from "./shell.js";
import { openWork } from "./work.js";

const PANES = [
  ["users", "账号"],
  ["devices", "设备"],
  ["import", "人员导入"],
  ["registry", "规则数据"],
];

const STATUS_TEXT = { pending: "待批准", approved: "已批准", rejected: "已拒绝", revoked: "已吊销" };

let pane = "users";
let chosen = null;
let publishing = null;

/** Adds the workbench's way in, shown to system administrators. */
export function wireAdmin() {
  const entry = h("button", { type: "button", class: "btn", id: "open-admin", "data-testid": "open-admin", hidden: true, onclick: () => openAdmin() }, "系统管理");
  $("new-case").before(entry);
}

/** Shows or hides the way in by what the last status said. */
export function refreshAdminEntry() {
  if ($("open-admin")) $("open-admin").hidden = !(state.status && state.status.is_admin === true);
}

export async function openAdmin(which = pane) {
  clearMessage();
  if (!$("screen-admin")) build();
  showScreen("admin");
  await select(which);
}

function build() {
  const main = $("screen-work").parentElement;
  main.append(
    h(
      "section",
      { class: "screen", id: "screen-admin", "data-testid": "screen-admin", hidden: true },
      h(
        "div",
        { class: "page-head" },
        h("button", { type: "button", class: "btn", id: "admin-back", "data-testid": "admin-back", onclick: () => openWork() }, "← 返回工作台"),
        h("h2", {}, "系统管理"),
      ),
      h(
        "div",
        { class: "tabs", role: "tablist" },
        PANES.map(([k, label]) =>
          h("button", { type: "button", class: "tab", role: "tab", id: `admin-tab-${k}`, "data-testid": `admin-tab-${k}`, onclick: () => select(k) }, label),
        ),
      ),
      usersPane(),
      devicesPane(),
      importPane(),
      registryPane(),
    ),
  );
}

async function select(which) {
  if (which !== pane) clearMessage();
  pane = which;
  for (const [k] of PANES) {
    $(`admin-pane-${k}`).hidden = k !== which;
    $(`admin-tab-${k}`).setAttribute("aria-selected", k === which ? "true" : "false");
  }
  if (which === "users") await loadUsers();
  else if (which === "devices") await loadDevices();
  else if (which === "registry") await loadRegistry();
}

/** Runs an admin call; a refusal is shown in the hub's words. */
async function attempt(buttons, fn) {
  return busy(buttons, async () => {
    try {
      return await fn();
    } catch (err) {
      showMessage(errorText(err), "error");
      return undefined;
    }
  });
}

function table(id, heads) {
  return h(
    "table",
    { class: "case-table", id, "data-testid": id },
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", { id: `${id}-rows` }),
  );
}

// ============================================================== 账号

function usersPane() {
  return h(
    "div",
    { id: "admin-pane-users", "data-testid": "admin-pane-users", hidden: true },
    h(
      "form",
      { class: "card actions", id: "adm-create-form", onsubmit: (e) => { e.preventDefault(); createUser(); } },
      h("label", {}, "账号（警号）", h("input", { id: "adm-new-person", "data-testid": "adm-new-person", autocomplete: "off" })),
      h("label", {}, "初始密码", h("input", { id: "adm-new-password", "data-testid": "adm-new-password", type: "password", autocomplete: "new-password" })),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "adm-new-admin", "data-testid": "adm-new-admin" }), " 系统管理员"),
      h("button", { type: "submit", class: "btn btn-primary", id: "adm-create", "data-testid": "adm-create" }, "创建账号"),
    ),
    table("adm-users", ["账号", "姓名", "类别", "状态", "创建时间", "操作"]),
  );
}

async function loadUsers() {
  const users = await attempt([], () => call("admin_users"));
  if (!Array.isArray(users)) return;
  $("adm-users-rows").replaceChildren(...users.map(userRow));
}

function userRow(u) {
  const act = (label, testid, fn) => h("button", { type: "button", class: "btn btn-small", "data-testid": testid, onclick: fn }, label);
  return h(
    "tr",
    { "data-testid": "adm-user", "data-person": u.person, "data-disabled": u.disabled ? "true" : "false" },
    h("td", { class: "mono" }, u.person),
    h("td", {}, u.name || "—"),
    h("td", {}, u.is_admin ? "系统管理员" : "用户"),
    h("td", {}, u.disabled ? "已停用" : "正常"),
    h("td", {}, fmtTime(u.created_at)),
    h(
      "td",
      { class: "actions" },
      u.disabled
        ? act("启用", "adm-enable", () => userAction("admin_user_enable", u.person, `已启用账号 ${u.person}`))
        : act("停用", "adm-disable", () => {
            if (window.confirm(`停用账号 ${u.person}？其登录将立即结束。`)) userAction("admin_user_disable", u.person, `已停用账号 ${u.person}`);
          }),
      act("重设密码", "adm-reset", () => resetPassword(u.person)),
      act("结束登录", "adm-end", () => userAction("admin_end_sessions", u.person, `已结束 ${u.person} 的登录`)),
    ),
  );
}

async function createUser() {
  const person = $("adm-new-person").value.trim();
  const password = $("adm-new-password").value;
  if (!person || !password) {
    showMessage("请填写账号和初始密码", "error");
    return;
  }
  const r = await attempt([$("adm-create")], () => call("admin_user_create", { person, password, isAdmin: $("adm-new-admin").checked }));
  if (!r) return;
  $("adm-new-person").value = "";
  $("adm-new-password").value = "";
  $("adm-new-admin").checked = false;
  showMessage(`已创建账号 ${r.person}`, "success");
  await loadUsers();
}

async function userAction(command, person, done) {
  const r = await attempt([], () => call(command, { person }));
  if (!r) return;
  showMessage(typeof r.ended === "number" && r.ended > 0 ? `${done}（结束登录 ${r.ended} 个）` : done, "success");
  await loadUsers();
}

async function resetPassword(person) {
  const password = window.prompt(`账号 ${person} 的新密码（至少 10 个字符）：`);
  if (!password) return;
  const r = await attempt([], () => call("admin_reset_password", { person, password }));
  if (r) showMessage(`已重设 ${person} 的密码，其登录已结束`, "success");
}

// ============================================================== 设备

function devicesPane() {
  return h(
    "div",
    { id: "admin-pane-devices", "data-testid": "admin-pane-devices", hidden: true },
    h(
      "div",
      { class: "actions" },
      h("label", {}, "显示 ",
        h(
          "select",
          { id: "adm-device-status", "data-testid": "adm-device-status", onchange: () => loadDevices() },
          h("option", { value: "pending" }, "待批准"),
          h("option", { value: "approved" }, "已批准"),
          h("option", { value: "" }, "全部"),
        ),
      ),
      h("span", { class: "help" }, "批准前请与登记人核对工作站上显示的密钥指纹"),
    ),
    table("adm-devices", ["账号", "设备", "密钥指纹", "状态", "登记时间", "操作"]),
    h("p", { class: "empty", id: "adm-devices-empty", "data-testid": "adm-devices-empty", hidden: true }, "没有设备登记"),
  );
}

async function loadDevices() {
  const status = $("adm-device-status").value || null;
  const rows = await attempt([], () => call("admin_devices", { status }));
  if (!Array.isArray(rows)) return;
  $("adm-devices-rows").replaceChildren(...rows.map(deviceRow));
  $("adm-devices-empty").hidden = rows.length > 0;
}

function deviceRow(e) {
  const act = (label, testid, decision) =>
    h("button", { type: "button", class: "btn btn-small", "data-testid": testid, onclick: () => decideDevice(e, decision) }, label);
  return h(
    "tr",
    { "data-testid": "adm-device", "data-id": e.id, "data-status": e.status, "data-person": e.person },
    h("td", { class: "mono" }, e.person),
    h("td", {}, `${e.device_name || ""}（${e.device}）`),
    h("td", { class: "mono", "data-testid": "adm-fp" }, e.fingerprint),
    h("td", {}, STATUS_TEXT[e.status] || e.status),
    h("td", {}, fmtTime(e.created_at)),
    h(
      "td",
      { class: "actions" },
      e.status === "pending" ? [act("批准", "adm-approve", "approve"), act("拒绝", "adm-reject", "reject")] : null,
      e.status === "approved" ? act("吊销", "adm-revoke", "revoke") : null,
    ),
  );
}

async function decideDevice(e, decision) {
  if (decision === "revoke" && !window.confirm(`吊销 ${e.person} 在 ${e.device_name || e.device} 上的签名密钥？该设备将不能再签名。`)) return;
  const r = await attempt([], () => call("admin_device_decide", { id: e.id, decision }));
  if (!r) return;
  showMessage(`${STATUS_TEXT[r.status] || r.status}：${r.person} 的设备 ${r.device_name || r.device}（指纹 ${r.fingerprint}）`, "success");
  await loadDevices();
}

// ============================================================== 人员导入

function importPane() {
  const input = h("input", { type: "file", id: "adm-imp-file", "data-testid": "adm-imp-file", accept: ".xlsx", hidden: true, onchange: pick });
  return h(
    "div",
    { id: "admin-pane-import", "data-testid": "admin-pane-import", hidden: true },
    h(
      "div",
      { class: "card" },
      h(
        "p",
        { class: "lead" },
        "从 Excel（.xlsx）导入人员：第一行为表头 警号、姓名、单位代码、职务（可加 分管单位代码，多个用分号隔开），每行一个任职，一人多职写多行。先检查文件，列出每一处错误；有错误时不导入任何人员。导入后发布新版规则数据（需您的签名 PIN），各派出所下次同步时取得；文件中尚无账号的人员以初始密码新建账号。",
      ),
      input,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "btn", id: "adm-imp-choose", "data-testid": "adm-imp-choose", onclick: () => input.click() }, "选择文件…"),
        h("span", { class: "mono", id: "adm-imp-name", "data-testid": "adm-imp-name" }, "未选择文件"),
      ),
      h(
        "div",
        { class: "actions" },
        h("label", {}, "新账号初始密码 ", h("input", { type: "password", id: "adm-imp-password", "data-testid": "adm-imp-password", autocomplete: "new-password" })),
        h("button", { type: "button", class: "btn", id: "adm-imp-check", "data-testid": "adm-imp-check", disabled: true, onclick: () => runImport(true) }, "检查文件"),
        h("button", { type: "button", class: "btn btn-primary", id: "adm-imp-run", "data-testid": "adm-imp-run", disabled: true, onclick: () => runImport(false) }, "导入"),
      ),
    ),
    h("p", { class: "result-head", id: "adm-imp-summary", "data-testid": "adm-imp-summary", hidden: true }),
    h(
      "table",
      { class: "case-table", id: "adm-imp-errors", "data-testid": "adm-imp-errors", hidden: true },
      h("thead", {}, h("tr", {}, ["行", "列", "值", "错误"].map((t) => h("th", {}, t)))),
      h("tbody", { id: "adm-imp-error-rows" }),
    ),
  );
}

function pick() {
  const f = $("adm-imp-file").files && $("adm-imp-file").files[0];
  $("adm-imp-file").value = "";
  if (!f) return;
  const reader = new FileReader();
  reader.onload = () => {
    const url = String(reader.result || "");
    chosen = { name: f.name, dataB64: url.slice(url.indexOf(",") + 1) };
    $("adm-imp-name").textContent = f.name;
    $("adm-imp-check").disabled = false;
    $("adm-imp-run").disabled = false;
    $("adm-imp-summary").hidden = true;
    $("adm-imp-errors").hidden = true;
    clearMessage();
  };
  reader.onerror = () => showMessage("无法读取所选文件", "error");
  reader.readAsDataURL(f);
}

function showImport(r) {
  const errors = Array.isArray(r.errors) ? r.errors : [];
  $("adm-imp-error-rows").replaceChildren(
    ...errors.map((e) =>
      h(
        "tr",
        { "data-testid": "adm-imp-error", "data-row": String(e.row) },
        h("td", {}, e.row ? String(e.row) : "—"),
        h("td", {}, e.column || "—"),
        h("td", { class: "mono" }, e.value || ""),
        h("td", {}, e.message),
      ),
    ),
  );
  $("adm-imp-errors").hidden = errors.length === 0;
  const summary = $("adm-imp-summary");
  summary.hidden = false;
  summary.dataset.errors = String(errors.length);
  if (errors.length > 0) {
    summary.textContent = `文件有 ${errors.length} 处错误，未导入任何人员：请改正后重新选择文件`;
  } else if (r.version) {
    summary.textContent = `已导入 ${r.people} 人（新增 ${r.added.length}，更新 ${r.updated.length}），已发布规则数据第 ${r.version} 版；新建账号 ${r.accounts_created.length} 个`;
  } else {
    summary.textContent = `检查通过：${r.rows} 行，${r.people} 人（新增 ${r.added.length}，更新 ${r.updated.length}），可以导入`;
  }
}

async function runImport(dryRun) {
  if (!chosen) return;
  let pin = "";
  if (!dryRun) {
    // Checked first: no PIN is asked for a file with errors.
    const check = await attempt([$("adm-imp-check"), $("adm-imp-run")], () => call("admin_import_people", { dataB64: chosen.dataB64, dryRun: true }));
    if (!check) return;
    if (check.errors && check.errors.length > 0) {
      showImport(check);
      return;
    }
    pin = await askPin("导入人员并发布规则数据：请输入您的签名 PIN");
    if (!pin) return;
  }
  const r = await attempt([$("adm-imp-check"), $("adm-imp-run")], () =>
    call("admin_import_people", { dataB64: chosen.dataB64, dryRun, pin: dryRun ? null : pin, password: $("adm-imp-password").value }),
  );
  if (!r) return;
  showImport(r);
  if (r.version) showMessage(`已导入并发布规则数据第 ${r.version} 版`, "success");
}

// ============================================================== 规则数据

function registryPane() {
  return h(
    "div",
    { id: "admin-pane-registry", "data-testid": "admin-pane-registry", hidden: true },
    h("p", { class: "help" }, "每一版规则数据（组织机构、代码表、表单模板、审批流程）都由系统管理员签名发布；办理中的案件沿用创建时的版本，新案件用最新版。"),
    h(
      "div",
      { class: "card actions" },
      h("input", { type: "file", id: "adm-pub-file", "data-testid": "adm-pub-file", accept: ".json,application/json", hidden: true, onchange: pickPublish }),
      h("label", {}, "发布 ",
        h(
          "select",
          { id: "adm-pub-kind", "data-testid": "adm-pub-kind" },
          h("option", { value: "workflows" }, "审批流程新版本"),
          h("option", { value: "templates" }, "表单模板新版本"),
          h("option", { value: "org" }, "组织机构（整份）"),
          h("option", { value: "dictionaries" }, "代码表（整份）"),
        ),
      ),
      h("button", { type: "button", class: "btn", id: "adm-pub-choose", "data-testid": "adm-pub-choose", onclick: () => $("adm-pub-file").click() }, "选择 JSON 文件…"),
      h("span", { class: "mono", id: "adm-pub-name", "data-testid": "adm-pub-name" }, "未选择文件"),
      h("label", {}, "说明 ", h("input", { id: "adm-pub-note", "data-testid": "adm-pub-note", placeholder: "如：户政股股长调整" })),
      h("button", { type: "button", class: "btn btn-primary", id: "adm-publish", "data-testid": "adm-publish", disabled: true, onclick: publish }, "签名发布"),
    ),
    table("adm-versions", ["版本", "发布时间", "发布人", "人员数", "签名密钥指纹", "说明"]),
  );
}

function pickPublish() {
  const f = $("adm-pub-file").files && $("adm-pub-file").files[0];
  $("adm-pub-file").value = "";
  if (!f) return;
  const reader = new FileReader();
  reader.onload = () => {
    publishing = { name: f.name, text: String(reader.result || "") };
    $("adm-pub-name").textContent = f.name;
    $("adm-publish").disabled = false;
    clearMessage();
  };
  reader.onerror = () => showMessage("无法读取所选文件", "error");
  reader.readAsText(f);
}

async function publish() {
  if (!publishing) return;
  const pin = await askPin("发布新版规则数据：请输入您的签名 PIN");
  if (!pin) return;
  const v = await attempt([$("adm-publish")], () =>
    call("admin_publish", { kind: $("adm-pub-kind").value, json: publishing.text, note: $("adm-pub-note").value, pin }),
  );
  if (!v) return;
  showMessage(`已发布规则数据第 ${v.version} 版，各派出所下次同步时取得`, "success");
  publishing = null;
  $("adm-pub-name").textContent = "未选择文件";
  $("adm-pub-note").value = "";
  $("adm-publish").disabled = true;
  await loadRegistry();
}

async function loadRegistry() {
  const rows = await attempt([], () => call("admin_registry"));
  if (!Array.isArray(rows)) return;
  $("adm-versions-rows").replaceChildren(
    ...rows.map((v) =>
      h(
        "tr",
        { "data-testid": "adm-version", "data-version": String(v.version) },
        h("td", {}, `第 ${v.version} 版`),
        h("td", {}, fmtTime(v.published_at)),
        h("td", { class: "mono" }, v.publisher),
        h("td", {}, String(v.people)),
        h("td", { class: "mono" }, v.fingerprint),
        h("td", {}, v.note || ""),
      ),
    ),
  );
}
