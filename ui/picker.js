// picker.js — a keyboard-first search box over a list of options
// ({code, label, initials, parent}): typing filters by label, by pinyin
// initials or by code; ↑/↓ move, Enter or Tab takes the highlighted
// option, Esc closes the list. Used by the 110 category picker (three
// levels: each option is shown with its parents' labels).

import { h } from "./form.js";

/** Whether an option matches a search text (label, pinyin initials, code). */
export function optionMatches(o, q) {
  const t = String(q || "").trim().toLowerCase();
  if (!t) return true;
  return (
    String(o.label || "").toLowerCase().includes(t) ||
    String(o.initials || "").toLowerCase().startsWith(t) ||
    String(o.code || "").startsWith(t) ||
    String(o.path || "").toLowerCase().includes(t)
  );
}

/** "刑事 › 盗窃 › 入室盗窃": an option's label with its parents'. */
export function optionPath(options, code) {
  const byCode = new Map(options.map((o) => [String(o.code), o]));
  const parts = [];
  let o = byCode.get(String(code));
  for (let guard = 0; o && guard < 5; guard += 1) {
    parts.unshift(o.label);
    o = o.parent ? byCode.get(String(o.parent)) : null;
  }
  return parts.join(" › ");
}

/**
 * The picker. `id`: the search input's id; `onPick(option)` after a choice.
 * Returns {element, input, value(), set(code), clear()}.
 */
export function picker(id, options, { onPick = () => {}, placeholder = "输入名称或拼音首字母查找" } = {}) {
  const opts = options.map((o) => ({ ...o, path: optionPath(options, o.code) }));
  let chosen = null;
  let shown = [];
  let active = 0;
  const input = h("input", { type: "text", id, "data-testid": id, placeholder, autocomplete: "off", spellcheck: "false", role: "combobox", "aria-expanded": "false", "aria-controls": `${id}-list` });
  const list = h("ul", { class: "picker-list", id: `${id}-list`, "data-testid": `${id}-list`, role: "listbox", hidden: true });
  const render = () => {
    list.replaceChildren(
      ...shown.map((o, i) =>
        h(
          "li",
          {
            role: "option",
            class: i === active ? "active" : null,
            "aria-selected": i === active ? "true" : "false",
            "data-testid": "picker-option",
            "data-code": o.code,
            onmousedown: (e) => {
              e.preventDefault();
              take(o);
            },
          },
          h("span", { class: "picker-label" }, o.path),
          o.initials ? h("span", { class: "picker-initials mono" }, o.initials) : null,
        ),
      ),
    );
    list.hidden = shown.length === 0;
    input.setAttribute("aria-expanded", list.hidden ? "false" : "true");
  };
  const open = () => {
    const q = chosen && input.value === chosen.path ? "" : input.value;
    shown = opts.filter((o) => optionMatches(o, q)).slice(0, 30);
    active = 0;
    render();
  };
  const close = () => {
    shown = [];
    render();
  };
  const take = (o) => {
    chosen = o;
    input.value = o.path;
    close();
    onPick(o);
  };
  input.addEventListener("input", () => {
    chosen = null;
    open();
  });
  input.addEventListener("focus", open);
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (e) => {
    if (list.hidden) {
      if (e.key === "ArrowDown") {
        open();
        e.preventDefault();
      }
      return;
    }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      active = (active + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
      e.preventDefault();
    } else if ((e.key === "Enter" && !e.ctrlKey) || e.key === "Tab") {
      if (shown[active] && !(chosen && input.value === chosen.path)) {
        take(shown[active]);
        if (e.key === "Enter") {
          e.preventDefault();
          e.stopPropagation();
        }
      }
    } else if (e.key === "Escape") {
      close();
      e.stopPropagation();
    }
  });
  return {
    element: h("div", { class: "picker" }, input, list),
    input,
    value: () => (chosen && input.value === chosen.path ? chosen.code : input.value.trim() || undefined),
    set: (code) => {
      const o = opts.find((x) => String(x.code) === String(code));
      chosen = o || null;
      input.value = o ? o.path : String(code || "");
    },
    clear: () => {
      chosen = null;
      input.value = "";
    },
  };
}
