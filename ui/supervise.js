// supervise.js — 督办清单 (screen-supervise), in the hub-served browser UI:
// every 户口变更 whose current step is past its time limit, for the
// bureau's leaders (the whole bureau) and a station's leaders (their
// station). The hub decides who may see it (status.can_supervise, and
// again on every call: the `overdue` command) and what is overdue (the
// core's time limits, counted with the official holiday calendar).
//
// Stable ids (id == data-testid): open-supervise (workbench button),
// screen-supervise, supervise-back, supervise-scope, supervise-refresh,
// supervise-table with tr[data-testid=supervise-row][data-case-id] (cells
// sv-case-no, sv-step, sv-assignees, sv-unit, sv-due, sv-days),
// supervise-empty.

import { h, fmtTime } from "./form.js";
import { call, errorText } from "./api.js";
import { $, state, showScreen, showMessage, clearMessage, busy } from "./shell.js";
import { openCase } from "./case.js";

/** Adds the workbench's way in, shown when the hub says this user may supervise. */
export function wireSupervise() {
  const entry = h("button", { type: "button", class: "btn", id: "open-supervise", "data-testid": "open-supervise", hidden: true, onclick: () => openSupervise() }, "督办清单");
  $("new-case").before(entry);
}

/** Shows or hides the way in by what the last status said. */
export function refreshSuperviseEntry() {
  if ($("open-supervise")) $("open-supervise").hidden = !(state.status && state.status.can_supervise === true);
}

export async function openSupervise() {
  clearMessage();
  if (!$("screen-supervise")) build();
  showScreen("supervise");
  await load();
}

function build() {
  const main = $("screen-work").parentElement;
  main.append(
    h(
      "section",
      { class: "screen", id: "screen-supervise", "data-testid": "screen-supervise", hidden: true },
      h(
        "div",
        { class: "page-head" },
        h("button", { type: "button", class: "btn", id: "supervise-back", "data-testid": "supervise-back", onclick: back }, "← 返回工作台"),
        h("h2", {}, "督办清单 · 超期未办的户口变更"),
        h("span", { class: "help", id: "supervise-scope", "data-testid": "supervise-scope" }),
        h("button", { type: "button", class: "btn", id: "supervise-refresh", "data-testid": "supervise-refresh", onclick: () => load() }, "刷新"),
      ),
      h(
        "table",
        { class: "list", id: "supervise-table", "data-testid": "supervise-table" },
        h(
          "thead",
          {},
          h("tr", {}, ...["受理编号", "当前环节", "待办人", "发起单位", "办理期限", "超期天数"].map((t) => h("th", { scope: "col" }, t))),
        ),
        h("tbody", { id: "supervise-rows" }),
      ),
      h("p", { class: "empty", id: "supervise-empty", "data-testid": "supervise-empty", hidden: true }, "没有超期未办的案件"),
    ),
  );
}

async function load() {
  await busy([$("supervise-refresh")], async () => {
    let r;
    try {
      r = await call("overdue");
    } catch (err) {
      showMessage(errorText(err), "error");
      return;
    }
    const rows = Array.isArray(r && r.rows) ? r.rows : [];
    $("supervise-scope").textContent = `范围：${(r && r.scope) || ""}，共 ${rows.length} 件`;
    $("supervise-rows").replaceChildren(...rows.map(row));
    $("supervise-empty").hidden = rows.length > 0;
    $("supervise-table").hidden = rows.length === 0;
  });
}

function row(r) {
  const cell = (id, text, cls) => h("td", { "data-testid": id, class: cls || null }, text);
  return h(
    "tr",
    { class: "case-row overdue", "data-testid": "supervise-row", "data-case-id": r.id, tabindex: 0, onclick: () => openCase(r.id), onkeydown: (e) => e.key === "Enter" && openCase(r.id) },
    cell("sv-case-no", r.case_no || "", "mono"),
    cell("sv-step", r.step || ""),
    cell("sv-assignees", (r.assignees || []).join("、")),
    cell("sv-unit", r.unit_name || ""),
    cell("sv-due", fmtTime(r.due), "mono"),
    cell("sv-days", `超期 ${r.overdue_days} 天`, "due-overdue"),
  );
}

function back() {
  clearMessage();
  import("./work.js").then((m) => m.openWork());
}
