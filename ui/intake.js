// intake.js — 接警登记 (screen-intake): the keyboard-first intake form of the
// 接处警登记表 (template `intake` fields from incident_template), the
// three-level category picker, 「无」 for phones, the repeat-call hint
// (关联), field errors from the core (incident_validate) before the PIN.
//
// Keys: Enter moves to the next field (not in 报警内容), Tab as usual,
// Ctrl+Enter saves, Esc leaves.

import { CaseForm, h } from "./form.js";
import { picker } from "./picker.js";
import { $, api, state, OFFLINE_SAVED, showScreen, showMessage, clearMessage, busy, askPin } from "./shell.js";
import { errorText } from "./api.js";

let form = null;
let repeatTimer = null;
let checkTimer = null;

/** "2026-12-03 08:30": now in Beijing time, as the form's date-time fields are typed (whatever the machine's zone). */
export function nowText() {
  const d = new Date(Date.now() + 8 * 3600 * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

/** The intake form: a CaseForm whose category is a picker and whose phones take 「无」. */
class IntakeForm extends CaseForm {
  renderField(field) {
    const wrapper = super.renderField(field);
    const b = this.bindings.get(field.key);
    if (field.key === "alarm_category" && Array.isArray(field.options)) {
      const options = field.options;
      const p = picker(`field-${field.key}`, options, {
        onPick: (o) => {
          // 报警类型 / 细类: the labels of the chosen levels, unless typed.
          const levels = [];
          for (let x = o; x; x = options.find((y) => String(y.code) === String(x.parent))) levels.unshift(x.label);
          for (const [i, key] of [
            [1, "alarm_type"],
            [2, "alarm_subtype"],
          ]) {
            const input = document.getElementById(`field-${key}`);
            if (input && (!input.value || input.dataset.auto === "1")) {
              input.value = levels[i] || "";
              input.dataset.auto = "1";
            }
          }
          this.onChange();
        },
      });
      b.control.replaceWith(p.element);
      b.control = p.element;
      b.get = p.value;
      b.set = p.set;
      b.inputs = () => [p.input];
    }
    if (b && b.kind === "phone") {
      const input = b.control;
      const none = h(
        "button",
        {
          type: "button",
          class: "btn btn-small",
          id: `no-phone-${field.key}`,
          "data-testid": `no-phone-${field.key}`,
          title: "报警人没有或不愿提供电话",
          onclick: () => {
            input.value = (state.incident.template && state.incident.template.no_phone) || "无";
            input.dispatchEvent(new Event("input", { bubbles: true }));
            input.focus();
          },
        },
        "无",
      );
      const box = h("div", { class: "inline-control" });
      input.replaceWith(box);
      box.append(input, none);
    }
    return wrapper;
  }
}

export function intakeScreen() {
  return h(
    "section",
    { class: "screen", id: "screen-intake", "data-testid": "screen-intake", hidden: true },
    h(
      "div",
      { class: "page-head" },
      h("button", { type: "button", class: "btn", id: "intake-cancel", "data-testid": "intake-cancel" }, "← 返回 110 列表"),
      h("h2", { id: "intake-title" }, "接警登记"),
      h("span", { class: "help" }, "Enter 下一项 · Ctrl+Enter 保存"),
    ),
    h("div", { class: "repeat-hint", id: "repeat-hint", "data-testid": "repeat-hint", hidden: true }),
    h("div", { id: "intake-form", "data-testid": "intake-form" }),
    h("div", { class: "form-errors", id: "intake-errors", "data-testid": "intake-errors", hidden: true }),
    h(
      "div",
      { class: "actions sticky-actions" },
      h("button", { type: "button", class: "btn btn-primary", id: "intake-save", "data-testid": "intake-save" }, "保存接警（Ctrl+Enter）"),
    ),
  );
}

/** Opens an empty intake form; `done(caseId)` runs after it was saved. */
export function openIntake(template, done) {
  clearMessage();
  form = new IntakeForm(
    { fields: template.intake || [] },
    {
      onChange: () => {
        clearTimeout(repeatTimer);
        repeatTimer = setTimeout(checkRepeats, 400);
        clearTimeout(checkTimer);
        checkTimer = setTimeout(checkTyped, 400);
      },
    },
  );
  form.done = done;
  form.setValues({});
  $("intake-form").replaceChildren(form.element);
  for (const key of ["report_time", "receive_time"]) {
    const input = document.getElementById(`field-${key}`);
    if (input) input.value = nowText();
  }
  $("repeat-hint").hidden = true;
  $("intake-errors").hidden = true;
  form.element.addEventListener("keydown", onKey);
  showScreen("intake");
  const first = document.getElementById("field-alarm_method") || form.element.querySelector("input, select");
  if (first) first.focus();
}

/** Enter → next field; Ctrl+Enter → save. */
function onKey(e) {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    saveIntake();
    return;
  }
  const t = e.target;
  if (e.key !== "Enter" || e.defaultPrevented || t.tagName === "TEXTAREA" || t.tagName === "BUTTON") return;
  e.preventDefault();
  const all = [...form.element.querySelectorAll("input:not([type=file]):not([disabled]), select, textarea")];
  const next = all[all.indexOf(t) + 1];
  if (next) next.focus();
  else $("intake-save").focus();
}

/** While typing: the core's errors for the fields already filled in. */
async function checkTyped() {
  if (!form || state.screen !== "intake") return;
  try {
    const errs = await api.incidentValidate("intake", form.values());
    const filled = (errs || []).filter((e) => !form.isEmpty(String(e.field).split(/[[.]/)[0]));
    form.showErrors(filled, "draft");
  } catch {
    // The save says what is wrong.
  }
}

async function checkRepeats() {
  if (!form || state.screen !== "intake") return;
  let hits = [];
  try {
    hits = await api.incidentRepeats(form.values());
  } catch {
    hits = [];
  }
  const box = $("repeat-hint");
  box.hidden = !Array.isArray(hits) || hits.length === 0;
  if (box.hidden) return;
  const related = document.getElementById("field-related_no");
  box.replaceChildren(
    h("strong", {}, "可能是重复报警："),
    ...hits.map((r, i) =>
      h(
        "div",
        { class: "repeat-item", "data-testid": "repeat-item", "data-case-no": r.case_no },
        h("span", { class: "mono" }, r.case_no),
        ` ${r.reason}，${r.report_time ? r.report_time.replace("T", " ").slice(0, 16) : ""}：${r.summary || ""} `,
        related && related.value === r.case_no
          ? h("span", { class: "linked", "data-testid": "repeat-linked" }, "已关联")
          : h(
              "button",
              {
                type: "button",
                class: "btn btn-small",
                id: `repeat-link-${i + 1}`,
                "data-testid": "repeat-link",
                onclick: () => {
                  if (related) {
                    related.value = r.case_no;
                    related.dispatchEvent(new Event("input", { bubbles: true }));
                  }
                  checkRepeats();
                },
              },
              "关联",
            ),
      ),
    ),
  );
}

/** Checks the form with the core, then asks for the PIN and saves. */
export async function saveIntake() {
  if (!form) return;
  const values = form.values();
  let errs;
  try {
    errs = await api.incidentValidate("intake", values);
  } catch (err) {
    showMessage(errorText(err), "error");
    return;
  }
  const shown = form.showErrors(errs, "submit");
  if (shown.length > 0) {
    const other = form.otherErrors || [];
    $("intake-errors").hidden = other.length === 0;
    $("intake-errors").replaceChildren(...other.map((e) => h("div", {}, e.message)));
    showMessage(`接警单有 ${shown.length} 处需要修改，请看标红的项目`, "error");
    form.focusFirstError();
    return;
  }
  const pin = await askPin("保存接警 — 请输入签名 PIN");
  if (pin === null) return;
  await busy([$("intake-save"), $("intake-cancel")], async () => {
    try {
      const r = await api.incidentCreate(values, pin);
      const id = r.caseId || r.case_id;
      const no = r.caseNo || r.case_no;
      const done = form.done;
      form = null;
      showMessage(r.queued ? `接警单 ${no} ${OFFLINE_SAVED}` : `接警单 ${no} 已保存`, "success");
      if (done) await done(id);
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}

export function leaveIntake() {
  form = null;
}
