// incident-case.js — a 110 record (screen-incident): the intake, every
// dispatch with its steps and report, the losses in 大写, the trail with
// "签名已验证"; and the buttons the core's flags allow (the page's can_*
// and each dispatch's own): 派警, 签收, 出警, 到达现场, 退单, 反馈, 终结.

import { CaseForm, h, renderValues, fmtTime } from "./form.js";
import { $, api, state, OFFLINE_SAVED, statusCode, statusLabel, showScreen, showMessage, clearMessage, busy, askPin } from "./shell.js";
import { errorText } from "./api.js";
import { optionMatches } from "./picker.js";
import { nowText } from "./intake.js";
import { refreshStatus } from "./status.js";

let hooks = null;

export function incidentScreen() {
  return h(
    "section",
    { class: "screen", id: "screen-incident", "data-testid": "screen-incident", hidden: true },
    h(
      "div",
      { class: "page-head" },
      h("button", { type: "button", class: "btn", id: "incident-back", "data-testid": "incident-back" }, "← 返回 110 列表"),
      h("h2", {}, h("span", { class: "mono", id: "incident-no", "data-testid": "incident-no" })),
      h("span", { class: "status-badge", id: "incident-status", "data-testid": "incident-status" }),
      h("span", { class: "help", id: "incident-archive", "data-testid": "incident-archive" }),
    ),
    h(
      "div",
      { class: "actions", id: "incident-actions", "data-testid": "incident-actions" },
      h("button", { type: "button", class: "btn btn-primary", id: "incident-dispatch", "data-testid": "incident-dispatch", hidden: true }, "派警"),
      h("button", { type: "button", class: "btn btn-primary", id: "incident-conclude", "data-testid": "incident-conclude", hidden: true }, "终结（归档）"),
    ),
    h(
      "div",
      { class: "case-body" },
      h(
        "div",
        { class: "case-main" },
        h("h3", {}, "处警"),
        h("div", { id: "incident-dispatches", "data-testid": "incident-dispatches" }),
        h(
          "p",
          { class: "loss-line" },
          "财产损失合计：",
          h("span", { class: "mono", id: "incident-loss", "data-testid": "incident-loss" }),
          " 元（",
          h("span", { id: "incident-loss-upper", "data-testid": "incident-loss-upper" }),
          "）",
        ),
        h("h3", {}, "接警信息"),
        h("div", { id: "incident-values", "data-testid": "incident-values" }),
      ),
      h("aside", { class: "case-side" }, h("h3", {}, "办理记录"), h("ol", { class: "trail", id: "incident-trail", "data-testid": "incident-trail" })),
    ),
    stepModal(),
    dispatchModal(),
  );
}

export function wireIncidentPage(h0) {
  hooks = h0;
  $("incident-back").addEventListener("click", () => {
    clearMessage();
    hooks.openIncidents();
  });
  $("incident-dispatch").addEventListener("click", openDispatch);
  $("incident-conclude").addEventListener("click", () => runStep({ step: "conclude" }, "终结", []));
  $("step-cancel").addEventListener("click", closeStep);
  $("dispatch-cancel").addEventListener("click", closeDispatch);
  $("step-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submitStep();
  });
  $("dispatch-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submitDispatch();
  });
  for (const id of ["step-modal", "dispatch-modal"]) {
    $(id).addEventListener("keydown", (e) => {
      if (e.key === "Escape") (id === "step-modal" ? closeStep : closeDispatch)();
      if (e.key === "Enter" && e.ctrlKey) {
        e.preventDefault();
        (id === "step-modal" ? submitStep : submitDispatch)();
      }
    });
  }
  $("dispatch-search").addEventListener("input", filterTargets);
  // Enter in the search box picks the first unit it finds (keyboard first),
  // then clears the box for the next one; Ctrl+Enter sends.
  $("dispatch-search").addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.ctrlKey) return;
    e.preventDefault();
    e.stopPropagation();
    const first = [...$("dispatch-targets").children].find((li) => !li.hidden);
    const box = first && first.querySelector("input[type=checkbox]");
    if (!box) {
      $("dispatch-error").textContent = "没有找到该单位";
      return;
    }
    box.checked = !box.checked;
    $("dispatch-error").textContent = "";
    $("dispatch-search").value = "";
    filterTargets();
  });
}

export async function openIncident(caseId, { keepMessage = false } = {}) {
  if (!caseId) return;
  if (!keepMessage) clearMessage();
  if (caseId !== state.incident.caseId) {
    state.incident.caseId = caseId;
    state.incident.detail = null;
    for (const id of ["incident-no", "incident-status", "incident-archive", "incident-loss", "incident-loss-upper"]) $(id).textContent = "";
    for (const id of ["incident-dispatches", "incident-values", "incident-trail"]) $(id).replaceChildren();
  }
  showScreen("incident");
  await loadIncident();
}

export async function loadIncident() {
  const caseId = state.incident.caseId;
  let d;
  try {
    d = await api.incidentDetail(caseId);
  } catch (err) {
    showMessage(errorText(err), "error");
    return;
  }
  if (caseId !== state.incident.caseId || state.screen !== "incident") return;
  state.incident.detail = d;
  renderIncident(d);
}

function renderIncident(d) {
  const t = state.incident.template || {};
  $("incident-no").textContent = d.case_no;
  $("incident-status").textContent = statusLabel(d.status);
  $("incident-status").dataset.status = statusCode(d.status);
  $("incident-archive").textContent = d.archive_unit ? `已归档于 ${d.archive_unit}${d.concluded_by ? `（${d.concluded_by} 终结）` : ""}` : `接警单位：${d.unit_name || ""}`;
  $("incident-dispatch").hidden = d.can_dispatch !== true;
  $("incident-conclude").hidden = d.can_conclude !== true;
  $("incident-actions").hidden = !(d.can_dispatch || d.can_conclude);
  const ds = Array.isArray(d.dispatches) ? d.dispatches : [];
  $("incident-dispatches").replaceChildren(...(ds.length ? ds.map((x, i) => dispatchCard(x, i, t)) : [h("p", { class: "empty" }, "尚未派警")]));
  $("incident-loss").textContent = d.loss || "0.00";
  $("incident-loss-upper").textContent = d.loss_upper || "";
  $("incident-values").replaceChildren(renderValues({ fields: t.intake || [] }, d.values || {}));
  const trail = Array.isArray(d.trail) ? d.trail : [];
  $("incident-trail").replaceChildren(...trail.map(trailEntry));
}

const STEP_NAMES = { create: "接警", dispatch: "派警", ack: "签收", acknowledge: "签收", depart: "出警", arrive: "到达现场", reject_dispatch: "退单", return: "退单", feedback: "反馈", conclude: "终结", archive: "归档" };

function trailEntry(x) {
  const ok = x.verified === true;
  return h(
    "li",
    { class: "trail-entry", "data-testid": "trail-entry" },
    h(
      "div",
      { class: "trail-head" },
      h("span", { class: "trail-step", "data-testid": "trail-step" }, STEP_NAMES[x.step] || x.step || ""),
      ok ? h("span", { class: "sig sig-ok", "data-testid": "sig-ok" }, "✔ 签名已验证") : h("span", { class: "sig sig-bad", "data-testid": "sig-bad" }, "✘ 签名无效"),
    ),
    h(
      "div",
      { class: "trail-who" },
      h("span", { class: "trail-name", "data-testid": "trail-name" }, x.name || x.person || ""),
      x.name ? h("span", { class: "trail-person mono", "data-testid": "trail-person" }, x.person) : null,
      x.role ? h("span", { class: "trail-role", "data-testid": "trail-role" }, x.role) : null,
      h("span", { class: "trail-time mono", "data-testid": "trail-time" }, fmtTime(x.time)),
    ),
    x.opinion ? h("p", { class: "trail-opinion", "data-testid": "trail-opinion" }, x.opinion) : null,
  );
}

function dispatchCard(x, i, t) {
  const limit = Number(t.ack_overdue_secs) || 180;
  const row = (label, value, testid) => (value ? h("tr", {}, h("th", { scope: "row" }, label), h("td", { "data-testid": testid || null }, value)) : null);
  const button = (step, label, cls = "btn") => h("button", { type: "button", class: cls, id: `${step}-${i + 1}`, "data-testid": `step-${step}`, "data-unit": x.unit, onclick: () => openStep(step, x) }, label);
  const report = x.feedback && Object.keys(x.feedback).length > 0 ? renderValues({ fields: t.feedback || [] }, x.feedback) : null;
  return h(
    "div",
    { class: `dispatch-card${x.return_reason ? " returned" : ""}${x.waiting_secs >= limit ? " overdue" : ""}`, "data-testid": "dispatch-card", "data-unit": x.unit, "data-status": statusCode(x.status) },
    h(
      "div",
      { class: "dispatch-head" },
      h("strong", { "data-testid": "dispatch-unit" }, x.unit_name || x.unit),
      h("span", { class: "mono" }, x.no),
      h("span", { class: "status-badge", "data-testid": "dispatch-status", "data-status": statusCode(x.status) }, x.return_reason ? "已退单" : statusLabel(x.status)),
      x.own ? h("span", { class: "help" }, "自接警") : null,
      x.waiting_secs !== null && x.waiting_secs !== undefined ? h("span", { class: "wait", "data-testid": "dispatch-wait" }, `已等待签收 ${Math.floor(x.waiting_secs / 60)} 分 ${x.waiting_secs % 60} 秒`) : null,
    ),
    h(
      "table",
      { class: "values-table" },
      h(
        "tbody",
        {},
        row("派警", `${fmtTime(x.at)} ${x.by || ""}`),
        row("派警意见", x.opinion),
        row("签收", x.acknowledged_at ? `${fmtTime(x.acknowledged_at)} ${x.acknowledged_by || ""}` : null, "dispatch-acked"),
        row("出警", x.departed_at ? `${fmtTime(x.departed_at)} ${(x.officers || []).join("、")}${x.vehicles && x.vehicles.length ? `（${x.vehicles.join("、")}）` : ""}` : null, "dispatch-departed"),
        row("到达现场", x.arrived_at ? fmtTime(x.arrived_at) : null, "dispatch-arrived"),
        row("反馈", x.feedback_at ? `${fmtTime(x.feedback_at)} ${x.feedback_by || ""}` : null),
        row("退单", x.return_reason ? `${fmtTime(x.returned_at)} ${x.returned_by || ""}：${x.return_reason}` : null, "dispatch-returned"),
        row("损失", x.feedback_at ? `${x.loss} 元（${x.loss_upper}）` : null, "dispatch-loss"),
      ),
    ),
    report,
    h(
      "div",
      { class: "actions" },
      x.can_acknowledge ? button("ack", "签收", "btn btn-primary") : null,
      x.can_depart ? button("depart", "出警") : null,
      x.can_arrive ? button("arrive", "到达现场") : null,
      x.can_feedback ? button("feedback", x.feedback_at ? "修改反馈" : "反馈", "btn btn-primary") : null,
      x.can_reject_dispatch ? button("return", "退单", "btn btn-warn") : null,
    ),
  );
}

// ============================================================== steps

function stepModal() {
  return h(
    "div",
    { class: "overlay", id: "step-modal", "data-testid": "step-modal", hidden: true },
    h(
      "form",
      { class: "dialog dialog-wide", id: "step-form", role: "dialog", "aria-modal": "true", "aria-labelledby": "step-title", novalidate: true, autocomplete: "off" },
      h("h3", { id: "step-title", "data-testid": "step-title" }),
      h("div", { id: "step-body", "data-testid": "step-body" }),
      h("p", { class: "field-error", id: "step-error", "data-testid": "step-error" }),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "btn", id: "step-cancel", "data-testid": "step-cancel" }, "取消"),
        h("button", { type: "submit", class: "btn btn-primary", id: "step-ok", "data-testid": "step-ok" }, "确定"),
      ),
    ),
  );
}

let step = null; // {kind, dispatch, form?, fields}

const field = (id, label, input, help = null) =>
  h(
    "div",
    { class: "field", "data-testid": `field-row-${id}` },
    h("label", { class: "field-label", for: id }, label),
    h("div", { class: "field-control" }, input, help ? h("p", { class: "help" }, help) : null, h("div", { class: "field-error", id: `${id}-error`, "data-testid": `${id}-error` })),
  );
const textInput = (id, value = "", placeholder = "") => h("input", { type: "text", id, "data-testid": id, value, placeholder, spellcheck: "false" });

function openStep(kind, x) {
  const t = state.incident.template || {};
  const titles = { ack: "签收", depart: "出警", arrive: "到达现场", return: "退单", feedback: "反馈" };
  if (kind === "ack") {
    runStep({ step: "ack", unit: x.unit }, `签收（${x.unit_name}）`, []);
    return;
  }
  step = { kind, dispatch: x };
  $("step-title").textContent = `${titles[kind]} · ${x.unit_name}`;
  $("step-error").textContent = "";
  const body = [];
  const timeHelp = "可不填：不填即为现在；补录时填写实际时间，如 2026-12-03 08:30";
  if (kind === "depart") {
    const me = (state.status && state.status.person) || "";
    body.push(field("step-officers", "出警民警（警号）", textInput("step-officers", me, "多人用逗号或顿号分开"), "本人须在出警民警中"));
    body.push(field("step-vehicles", "出动车辆", textInput("step-vehicles", "", "车牌号，多辆用逗号分开（可不填）")));
    body.push(field("step-at", "出警时间", textInput("step-at", "", nowText()), timeHelp));
  } else if (kind === "arrive") {
    body.push(field("step-at", "到达现场时间", textInput("step-at", "", nowText()), timeHelp));
  } else if (kind === "return") {
    body.push(field("step-reason", "退单原因", h("textarea", { id: "step-reason", "data-testid": "step-reason", rows: 3, placeholder: "请说明退单原因（必填）" })));
  } else if (kind === "feedback") {
    step.form = new CaseForm({ fields: t.feedback || [] }, { onChange: () => lossTotal() });
    if (x.feedback && Object.keys(x.feedback).length > 0) step.form.setValues(x.feedback);
    body.push(step.form.element);
    body.push(
      h(
        "p",
        { class: "loss-line" },
        "损失明细合计：",
        h("span", { class: "mono", id: "loss-total", "data-testid": "loss-total" }, "0.00"),
        " 元　大写：",
        h("span", { id: "loss-upper", "data-testid": "loss-upper" }, "零元整"),
        h("span", { class: "field-error", id: "loss-error", "data-testid": "loss-error" }),
      ),
    );
  }
  $("step-body").replaceChildren(...body);
  $("step-modal").hidden = false;
  const first = $("step-body").querySelector("input, select, textarea");
  if (first) first.focus();
  if (kind === "feedback") lossTotal();
}

function closeStep() {
  $("step-modal").hidden = true;
  $("step-body").replaceChildren();
  step = null;
}

/** The loss items' amounts, as typed. */
function lossAmounts() {
  const rows = document.querySelectorAll("#step-body [data-testid=table-row-loss_items]");
  const out = [];
  for (const tr of rows) {
    const amount = tr.querySelector("[data-key=amount]");
    const item = tr.querySelector("[data-key=item]");
    if ((amount && amount.value.trim()) || (item && item.value.trim())) out.push(amount ? amount.value.trim() : "");
  }
  return out;
}

let lossSeq = 0;
/** The total of the loss items and its 大写 (the core's money_total); it fills 财产损失金额. */
async function lossTotal() {
  if (!step || step.kind !== "feedback") return;
  const amounts = lossAmounts();
  const seq = ++lossSeq;
  let r = null;
  let error = "";
  try {
    r = await api.moneyTotal(amounts);
  } catch (err) {
    error = errorText(err);
  }
  if (seq !== lossSeq || !step) return;
  $("loss-error").textContent = error;
  if (r) {
    $("loss-total").textContent = r.total;
    $("loss-upper").textContent = r.upper;
    const input = document.getElementById("field-loss_amount");
    if (input && amounts.length > 0) {
      input.value = r.total;
      input.readOnly = true;
    } else if (input) {
      input.readOnly = false;
    }
  }
}

const list = (text) =>
  String(text || "")
    .split(/[,，、;；\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);

async function submitStep() {
  if (!step) return;
  const x = step.dispatch;
  const caseId = state.incident.caseId;
  let body;
  let title;
  if (step.kind === "depart") {
    body = { step: "depart", unit: x.unit, officers: list($("step-officers").value), vehicles: list($("step-vehicles").value), at: $("step-at").value.trim() || null };
    title = "出警";
    if (body.officers.length === 0) {
      $("step-officers-error").textContent = "请填写出警民警的警号";
      $("step-officers").focus();
      return;
    }
  } else if (step.kind === "arrive") {
    body = { step: "arrive", unit: x.unit, at: $("step-at").value.trim() || null };
    title = "到达现场";
  } else if (step.kind === "return") {
    body = { step: "return", unit: x.unit, reason: $("step-reason").value.trim() };
    title = "退单";
  } else {
    const changes = step.form.values();
    let errs;
    try {
      errs = await api.incidentValidate("feedback", changes, caseId, x.unit);
    } catch (err) {
      $("step-error").textContent = errorText(err);
      return;
    }
    const shown = step.form.showErrors(errs, "submit");
    if (shown.length > 0) {
      const other = step.form.otherErrors || [];
      $("step-error").textContent = other.length ? other.map((e) => e.message).join("；") : `反馈单有 ${shown.length} 处需要修改，请看标红的项目`;
      step.form.focusFirstError();
      return;
    }
    body = { step: "feedback", unit: x.unit, changes };
    title = "反馈";
  }
  const ok = await runStep(body, `${title}（${x.unit_name}）`, [$("step-ok"), $("step-cancel")]);
  if (ok) closeStep();
}

/** Asks for the PIN and signs one step; the core's refusal is shown in the dialog (or the message bar). */
async function runStep(body, title, buttons) {
  const caseId = state.incident.caseId;
  const pin = await askPin(`${title} — 请输入签名 PIN`);
  if (pin === null) return false;
  let ok = false;
  await busy([...buttons, $("incident-back")], async () => {
    try {
      const r = await api.incidentStep(caseId, body, pin);
      showMessage(r && r.queued ? `${title}：${OFFLINE_SAVED}` : `已${title}`, "success");
      ok = true;
    } catch (err) {
      const text = errorText(err);
      if (!$("step-modal").hidden) $("step-error").textContent = text;
      showMessage(text, "error");
    }
  });
  refreshStatus();
  if (state.incident.caseId === caseId && state.screen === "incident") await loadIncident();
  return ok;
}

// ============================================================== 派警

function dispatchModal() {
  return h(
    "div",
    { class: "overlay", id: "dispatch-modal", "data-testid": "dispatch-modal", hidden: true },
    h(
      "form",
      { class: "dialog", id: "dispatch-form", role: "dialog", "aria-modal": "true", "aria-labelledby": "dispatch-title", novalidate: true, autocomplete: "off" },
      h("h3", { id: "dispatch-title" }, "派警"),
      h("input", { type: "search", id: "dispatch-search", "data-testid": "dispatch-search", placeholder: "输入单位名称或拼音首字母查找", "aria-label": "查找处警单位" }),
      h("ul", { class: "target-list", id: "dispatch-targets", "data-testid": "dispatch-targets" }),
      h("label", { for: "dispatch-opinion" }, "派警意见"),
      h("textarea", { id: "dispatch-opinion", "data-testid": "dispatch-opinion", rows: 3, placeholder: "如：请立即出警处置，及时反馈" }),
      h("p", { class: "field-error", id: "dispatch-error", "data-testid": "dispatch-error" }),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "btn", id: "dispatch-cancel", "data-testid": "dispatch-cancel" }, "取消"),
        h("button", { type: "submit", class: "btn btn-primary", id: "dispatch-ok", "data-testid": "dispatch-ok" }, "派警（Ctrl+Enter）"),
      ),
    ),
  );
}

function openDispatch() {
  const targets = (state.incident.template && state.incident.template.targets) || [];
  const kinds = { station: "派出所", external: "县局外单位", internal: "" };
  $("dispatch-targets").replaceChildren(
    ...targets.map((u) =>
      h(
        "li",
        { "data-code": u.code, "data-name": u.name, "data-initials": u.initials || "" },
        h(
          "label",
          {},
          h("input", { type: "checkbox", value: u.code, "data-testid": "dispatch-target", id: `target-${u.code}` }),
          ` ${u.name} `,
          kinds[u.kind] ? h("span", { class: "help" }, kinds[u.kind]) : null,
        ),
      ),
    ),
  );
  $("dispatch-search").value = "";
  $("dispatch-opinion").value = "";
  $("dispatch-error").textContent = "";
  $("dispatch-modal").hidden = false;
  $("dispatch-search").focus();
}

function filterTargets() {
  const q = $("dispatch-search").value;
  for (const li of $("dispatch-targets").children) {
    li.hidden = !optionMatches({ label: li.dataset.name, initials: li.dataset.initials, code: li.dataset.code }, q);
  }
}

function closeDispatch() {
  $("dispatch-modal").hidden = true;
}

async function submitDispatch() {
  const units = [...document.querySelectorAll("#dispatch-targets input:checked")].map((c) => c.value);
  if (units.length === 0) {
    $("dispatch-error").textContent = "请选择至少一个处警单位";
    return;
  }
  const caseId = state.incident.caseId;
  const opinion = $("dispatch-opinion").value.trim();
  const pin = await askPin("派警 — 请输入签名 PIN");
  if (pin === null) return;
  await busy([$("dispatch-ok"), $("dispatch-cancel")], async () => {
    try {
      const r = await api.incidentDispatch(caseId, units, opinion, pin);
      closeDispatch();
      showMessage(r && r.queued ? `派警：${OFFLINE_SAVED}` : `已派警（${units.length} 个单位）`, "success");
    } catch (err) {
      $("dispatch-error").textContent = errorText(err);
    }
  });
  refreshStatus();
  if (state.incident.caseId === caseId && state.screen === "incident") await loadIncident();
}
