// form.js — a small DOM helper and the template-driven case form.
//
// Nothing here knows a particular template: fields come from `template()`
// ({key, label, type, required, options, help, section?, columns?, min?,
// max?, min_rows?, max_rows?}). Unknown types are rendered as text inputs.
// No innerHTML anywhere: every text goes in through text nodes.

// ---------------------------------------------------------------- DOM helper

/**
 * h("button", {id: "x", class: "btn", onclick: fn, "data-testid": "x"}, "文字")
 * Props: `class`, `on<event>` (function), boolean attributes (true/false),
 * anything else becomes an attribute. Children: nodes, strings, arrays, null.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "value") {
      el.value = value;
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// ---------------------------------------------------------------- formatting

/**
 * "2025-03-12T09:30:00+08:00" → "2025-03-12 09:30": the wall-clock time as
 * the backend wrote it (it writes Beijing time), whatever the machine's zone.
 * A UTC ("Z") time is shown in local time; other text unchanged.
 */
export function fmtTime(value) {
  if (value === null || value === undefined || value === "") return "";
  const text = String(value);
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return text;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2})?$/.exec(text);
  if (m) return `${m[1]} ${m[2]}`;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return text;
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** 1536 → "1.5 KB" */
export function fmtSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------- field kinds

/**
 * A field definition with its type-specific settings at the top level: the
 * backend may nest them under `extra` ({columns, min, max, max_len}).
 */
export function normalizeField(field) {
  if (!field || typeof field !== "object") return field;
  const out = { ...field };
  const extra = field.extra && typeof field.extra === "object" ? field.extra : {};
  for (const [k, v] of Object.entries(extra)) {
    if (out[k] === undefined || out[k] === null) out[k] = v;
  }
  if (Array.isArray(out.columns)) out.columns = out.columns.map(normalizeField);
  return out;
}

/** The input kind used for a field definition. */
export function fieldKind(field) {
  const type = String(field.type || "text").toLowerCase();
  if (Array.isArray(field.options) && field.options.length > 0 && type !== "table" && type !== "list") {
    return "select";
  }
  switch (type) {
    case "textarea":
    case "long_text":
      return "textarea";
    case "date":
      return "date";
    case "date_time":
    case "datetime":
      return "datetime";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "money":
      return "money";
    case "id_number":
      return "id_number";
    case "phone":
      return "phone";
    case "attachments":
      return "attachments";
    case "table":
    case "list":
      return Array.isArray(field.columns) && field.columns.length > 0 ? "table" : "text";
    default:
      return "text"; // text, select without options, dict, person, unit, unknown …
  }
}

const PLACEHOLDERS = {
  date: "YYYY-MM-DD",
  datetime: "YYYY-MM-DD HH:MM",
  money: "0.00",
  id_number: "18 位公民身份号码",
  phone: "手机或带区号的固定电话",
};

/** Builds the bare input for a scalar field (or table column); `id` is its element id. */
function scalarInput(field, id) {
  const kind = fieldKind(field);
  const common = { id, "data-testid": id, "data-key": field.key, "aria-required": field.required ? "true" : null };
  if (kind === "select") {
    return h(
      "select",
      common,
      h("option", { value: "" }, "请选择"),
      field.options.map((o) => h("option", { value: o.code }, optionText(o))),
    );
  }
  if (kind === "textarea") {
    return h("textarea", { ...common, rows: 3 });
  }
  const input = h("input", {
    ...common,
    type: "text",
    placeholder: PLACEHOLDERS[kind] || null,
    inputmode: { integer: "numeric", number: "decimal", money: "decimal", phone: "tel" }[kind] || null,
    spellcheck: "false",
    class: ["date", "datetime", "money", "integer", "number", "id_number", "phone"].includes(kind) ? "mono" : null,
  });
  if (kind === "date" || kind === "datetime") {
    input.addEventListener("blur", () => {
      input.value = kind === "date" ? normalizeDate(input.value) : normalizeDateTime(input.value);
    });
  }
  return input;
}

function optionText(o) {
  return o.label ?? o.code;
}

/** "20250312", "2025.3.12", "2025/03/12" → "2025-03-12"; anything else unchanged. */
export function normalizeDate(text) {
  const s = String(text).trim();
  let m = /^(\d{4})(\d{2})(\d{2})$/.exec(s) || /^(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})日?$/.exec(s);
  if (!m) return s;
  return `${m[1]}-${m[2].padStart(2, "0")}-${m[3].padStart(2, "0")}`;
}

/** "2025-03-12 9:30" → "2025-03-12 09:30"; anything else unchanged. */
function normalizeDateTime(text) {
  const s = String(text).trim();
  const m = /^(\S+)[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  if (!m) return s;
  const time = `${m[2].padStart(2, "0")}:${m[3]}${m[4] ? `:${m[4]}` : ""}`;
  return `${normalizeDate(m[1])} ${time}`;
}

/**
 * "2025-03-12 09:30" → "2025-03-12T09:30:00+08:00": a typed time is Beijing
 * time, as every time is shown (fmtTime) and as the core reads a typed step
 * time, whatever the machine's zone. Other text unchanged (the backend names
 * the error).
 */
function toRfc3339(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return text;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] || "00"}+08:00`;
}

/** The JSON value of a raw input text, or undefined when empty. */
function typedValue(field, raw) {
  const text = String(raw ?? "");
  const kind = fieldKind(field);
  if (text.trim() === "") return undefined;
  switch (kind) {
    case "integer":
      return /^[+-]?\d+$/.test(text.trim()) && Number.isSafeInteger(Number(text.trim())) ? Number(text.trim()) : text.trim();
    case "number":
      return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text.trim()) ? Number(text.trim()) : text.trim();
    case "money":
      return text.trim(); // decimal string, never a float
    case "datetime":
      return toRfc3339(normalizeDateTime(text));
    case "date":
      return normalizeDate(text);
    case "textarea":
      return text;
    case "id_number":
      // The check character is stored as upper-case X (the core refuses x).
      return text.trim().toUpperCase();
    default:
      return text.trim();
  }
}

// Prefilled inputs (editing a saved case) remember the stored value and the
// text shown for it: while the text is untouched the stored value is sent back
// as it was (a datetime keeps its seconds and offset, a number its type), so
// the backend sees no change there.
const prefilled = new WeakMap(); // input → {text, value}

/** The text an input shows for a stored value. */
function inputText(field, value) {
  if (value === null || value === undefined) return "";
  const kind = fieldKind(field);
  if (kind === "datetime") return fmtTime(value);
  if (Array.isArray(value)) return value.every((v) => typeof v !== "object" || v === null) ? value.join("、") : JSON.stringify(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Puts a stored value into an input (a select gets an extra option for a code it does not list). */
function prefillInput(field, input, value) {
  if (value === null || value === undefined || value === "") return;
  const text = inputText(field, value);
  if (input.tagName === "SELECT" && !Array.from(input.options).some((o) => o.value === text)) {
    input.append(h("option", { value: text }, `${text}（原值）`));
  }
  input.value = text;
  prefilled.set(input, { text: input.value, value });
}

/** The value of an input: the stored one while its text is untouched, else typed from the text. */
function readInput(field, input) {
  const p = prefilled.get(input);
  if (p && input.value === p.text) return p.value;
  return typedValue(field, input.value);
}

/** Base field key of an error's `field` ("evidence[0].name" → "evidence"). */
function baseKey(path) {
  return String(path).split(/[[.]/)[0];
}

// ---------------------------------------------------------------- attachments

export const ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/tiff", "application/pdf"];
const EXTENSION_TYPES = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", tif: "image/tiff", tiff: "image/tiff", pdf: "application/pdf" };

function mimeOf(file) {
  if (ACCEPTED_TYPES.includes(file.type)) return file.type;
  const ext = String(file.name).split(".").pop().toLowerCase();
  return EXTENSION_TYPES[ext] || file.type || "";
}

/** The type a file's first bytes say it is (never its name), or "". */
export function sniffType(b64) {
  let head = "";
  try {
    head = atob(String(b64).slice(0, 16));
  } catch {
    return "";
  }
  const starts = (sig) => head.startsWith(sig);
  if (starts("\xFF\xD8\xFF")) return "image/jpeg";
  if (starts("\x89PNG\r\n\x1A\n")) return "image/png";
  if (starts("II*\x00") || starts("MM\x00*")) return "image/tiff";
  if (starts("%PDF-")) return "application/pdf";
  return "";
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** A thumbnail element for a file: the picture for JPEG/PNG (TIFF when the engine can), else a labelled icon. */
export function thumbnail(mime, dataUrl) {
  const label = mime === "application/pdf" ? "PDF" : mime === "image/tiff" ? "TIFF" : "文件";
  const icon = () => h("span", { class: "file-icon", "data-kind": label }, label);
  if (!dataUrl || !String(mime).startsWith("image/")) return icon();
  const img = h("img", { class: "thumb-img", src: dataUrl, alt: "" });
  img.addEventListener("error", () => img.replaceWith(icon()), { once: true });
  return img;
}

// ---------------------------------------------------------------- the form

/**
 * The editable form of a template.
 *   const form = new CaseForm(template, {onChange, onNotice, onOpenFile});
 *   container.append(form.element);
 *   form.values()           → {key: value} without attachment fields
 *   form.pending            → [{id, name, mime, size, dataUrl, dataB64, saved, existing?, sm3?}]
 *   form.showErrors(errors, mode)
 * Editing a saved case:
 *   form.setValues(values)  prefills the fields with the stored values
 *   form.setExisting(atts)  lists the case's attachments as saved (counted, not removable)
 */
/** Size and pages of a processed scan. */
function scanMeta(p) {
  const pages = p.scan && Array.isArray(p.scan.pages) ? p.scan.pages : [];
  if (pages.length === 0) return fmtSize(p.size);
  const out = pages.reduce((n, x) => n + (Number(x.bytes) || 0), 0);
  return `${pages.length} 页，处理后 ${fmtSize(out)}`;
}

/** The pipeline's warnings for a scan (e.g. 未检测到村（居）委会印章), with the page when it has several. */
function scanWarnings(p) {
  const pages = p.scan && Array.isArray(p.scan.pages) ? p.scan.pages : [];
  const out = [];
  for (const x of pages) {
    for (const w of Array.isArray(x.warnings) ? x.warnings : []) out.push(pages.length > 1 ? `第 ${x.page} 页：${w}` : w);
  }
  return out;
}

export class CaseForm {
  constructor(template, { onChange = () => {}, onNotice = () => {}, onCheckFile = null } = {}) {
    this.template = { ...template, fields: (Array.isArray(template.fields) ? template.fields : []).map(normalizeField) };
    this.onChange = onChange;
    this.onNotice = onNotice;
    // Runs the scan pipeline on a chosen file: resolves to {pages: [{warnings, …}]}
    // or rejects with the reason the file is refused.
    this.onCheckFile = onCheckFile;
    this.bindings = new Map(); // key → {field, kind, get(), isEmpty(), errorEl, wrapper, inputs()}
    this.pending = [];
    this.nextPendingId = 1;
    this.attachmentField = null;
    this.submitErrors = [];
    this.element = this.render();
  }

  render() {
    const fields = Array.isArray(this.template.fields) ? this.template.fields : [];
    const root = h("div", { class: "case-form", id: "case-form", "data-testid": "case-form" });
    let section = null;
    let sectionBody = root;
    for (const field of fields) {
      if (!field || !field.key) continue;
      const name = field.section || "";
      if (name !== section) {
        section = name;
        if (name) {
          sectionBody = h("div", { class: "section-body" });
          root.append(h("fieldset", { class: "form-section" }, h("legend", {}, name), sectionBody));
        } else {
          sectionBody = root;
        }
      }
      sectionBody.append(this.renderField(field));
    }
    root.addEventListener("input", () => this.onChange());
    root.addEventListener("change", () => this.onChange());
    root.addEventListener("focusout", () => this.onChange());
    return root;
  }

  renderField(field) {
    const kind = fieldKind(field);
    const key = field.key;
    const errorEl = h("div", { class: "field-error", id: `error-${key}`, "data-testid": `error-${key}`, "aria-live": "polite" });
    const label = h(
      kind === "table" || kind === "attachments" ? "span" : "label",
      { class: "field-label", for: kind === "table" || kind === "attachments" ? null : `field-${key}`, id: `label-${key}` },
      field.label || key,
      field.required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null,
    );
    const help = field.help ? h("p", { class: "help", id: `help-${key}` }, field.help) : null;
    const wrapper = h("div", { class: `field field-${kind}`, "data-field": key, "data-testid": `field-row-${key}` });

    let binding;
    if (kind === "attachments") {
      binding = this.attachmentsBinding(field);
    } else if (kind === "table") {
      binding = this.tableBinding(field);
    } else {
      const input = scalarInput(field, `field-${key}`);
      if (help) input.setAttribute("aria-describedby", `help-${key} error-${key}`);
      binding = {
        control: input,
        get: () => readInput(field, input),
        set: (value) => prefillInput(field, input, value),
        inputs: () => [input],
      };
    }
    Object.assign(binding, { field, kind, errorEl, wrapper });
    this.bindings.set(key, binding);
    wrapper.append(label, h("div", { class: "field-control" }, binding.control, help, errorEl));
    return wrapper;
  }

  // --- table fields: rows of sub-fields, value = [{col: value}]
  tableBinding(field) {
    const key = field.key;
    const columns = field.columns;
    const tbody = h("tbody", { id: `rows-${key}` });
    const rows = []; // each: array of inputs in column order
    let rowMap = []; // index in the sent value → index on screen (empty rows are not sent)

    const renderRows = (data) => {
      rows.length = 0;
      tbody.replaceChildren();
      data.forEach((cells, i) => {
        const inputs = columns.map((col, c) => {
          const input = scalarInput(col, `field-${key}-${i}-${col.key}`);
          input.setAttribute("aria-label", `第 ${i + 1} 行 ${col.label || col.key}`);
          const cell = cells[c];
          if (cell && typeof cell === "object") {
            input.value = cell.text;
            if (cell.stored) prefilled.set(input, cell.stored);
          } else if (cell !== undefined) {
            input.value = cell;
          }
          return input;
        });
        rows.push(inputs);
        tbody.append(
          h(
            "tr",
            { "data-testid": `table-row-${key}` },
            inputs.map((input) => h("td", {}, input)),
            h(
              "td",
              { class: "row-tools" },
              h("button", { type: "button", class: "btn btn-small", id: `remove-row-${key}-${i}`, "data-testid": `remove-row-${key}`, onclick: () => removeRow(i) }, "删除"),
            ),
          ),
        );
      });
    };
    // Cell texts, with what a prefilled cell remembers (kept across re-renders).
    const snapshot = () => rows.map((inputs) => inputs.map((input) => ({ text: input.value, stored: prefilled.get(input) })));
    const texts = () => JSON.stringify(rows.map((inputs) => inputs.map((input) => input.value)));
    let initial = null; // {texts, value}: the stored table, sent back as it was while untouched
    const removeRow = (i) => {
      const data = snapshot();
      data.splice(i, 1);
      renderRows(data);
      this.onChange();
    };
    const addRow = () => {
      const data = snapshot();
      data.push([]);
      renderRows(data);
      rows[rows.length - 1][0]?.focus();
      this.onChange();
    };
    const minRows = Math.max(1, Number(field.min_rows) || 0);
    renderRows(Array.from({ length: minRows }, () => []));

    const control = h(
      "div",
      { class: "table-field", id: `field-${key}`, "data-testid": `field-${key}` },
      h(
        "table",
        { class: "sub-table" },
        h(
          "thead",
          {},
          h("tr", {}, columns.map((col) => h("th", {}, col.label || col.key, col.required ? h("span", { class: "req" }, "*") : null)), h("th", {}, "")),
        ),
        tbody,
      ),
      h("button", { type: "button", class: "btn btn-small", id: `add-row-${key}`, "data-testid": `add-row-${key}`, onclick: addRow }, "＋ 添加一行"),
    );
    return {
      control,
      get: () => {
        const value = [];
        rowMap = [];
        if (initial && texts() === initial.texts) {
          rowMap = initial.value.map((_, i) => i);
          return initial.value;
        }
        rows.forEach((inputs, i) => {
          const row = {};
          columns.forEach((col, c) => {
            const v = readInput(col, inputs[c]);
            if (v !== undefined) row[col.key] = v;
          });
          if (Object.keys(row).length > 0) {
            value.push(row);
            rowMap.push(i);
          }
        });
        return value.length > 0 ? value : undefined;
      },
      /** Prefills the rows from a stored value [{col: value}]. */
      set: (value) => {
        const stored = Array.isArray(value) ? value.filter((r) => r && typeof r === "object") : [];
        if (stored.length === 0) return;
        renderRows(Array.from({ length: Math.max(stored.length, minRows) }, () => []));
        stored.forEach((r, i) => columns.forEach((col, c) => prefillInput(col, rows[i][c], r[col.key])));
        initial = { texts: texts(), value: stored };
      },
      inputs: () => rows.flat(),
      /** The input for an error path like "evidence[0].name", or null. */
      cellFor: (path) => {
        const m = /^[^[]+\[(\d+)\]\.(.+)$/.exec(path);
        if (!m) return null;
        const screenRow = rowMap[Number(m[1])];
        const c = columns.findIndex((col) => col.key === m[2]);
        return screenRow === undefined || c < 0 ? null : rows[screenRow]?.[c] ?? null;
      },
    };
  }

  // --- the attachments field: files kept in memory until the case is saved
  attachmentsBinding(field) {
    const first = this.attachmentField === null;
    if (first) this.attachmentField = field;
    const suffix = first ? "" : `-${field.key}`;
    const list = h("ul", { class: "thumbs", id: `attach-list${suffix}`, "data-testid": "attach-list" });
    // The native file input is visually hidden (its button text follows the
    // system locale); a Chinese button opens it. WebDriver can still send file
    // paths to it: file inputs need not be interactable.
    const choose = h(
      "button",
      { type: "button", class: "btn", id: `attach-choose${suffix}`, "data-testid": `attach-choose${suffix}` },
      "选择文件…",
    );
    const fileInput = h("input", {
      type: "file",
      id: `attach-file${suffix}`,
      "data-testid": `attach-file${suffix}`,
      multiple: true,
      accept: ACCEPTED_TYPES.join(","),
      class: "file-input",
    });
    const zone = h(
      "div",
      { class: "drop-zone", id: `drop-zone${suffix}`, "data-testid": `drop-zone${suffix}`, tabindex: "0", role: "button", "aria-label": "选择或拖入扫描件" },
      h("strong", {}, "将扫描件拖到此处，或点击此处选择文件"),
      h("span", { class: "help" }, "支持 JPEG、PNG、TIFF 图片和 PDF 文件，可一次选择多个"),
    );
    choose.addEventListener("click", () => fileInput.click());
    zone.addEventListener("click", () => fileInput.click());
    zone.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        fileInput.click();
      }
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("drag-over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("drag-over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("drag-over");
      this.addFiles(e.dataTransfer ? e.dataTransfer.files : []);
    });
    fileInput.addEventListener("change", () => {
      this.addFiles(fileInput.files);
      fileInput.value = "";
    });
    this.attachList = list;
    return {
      control: h("div", { class: "attachments" }, fileInput, choose, zone, list),
      get: () => undefined, // attachments are sent with attach(), not in the form values
      inputs: () => [fileInput],
    };
  }

  /** Reads files (FileReader → base64) into the pending list. */
  async addFiles(fileList) {
    const files = Array.from(fileList || []);
    const refused = [];
    for (const file of files) {
      const mime = mimeOf(file);
      if (!ACCEPTED_TYPES.includes(mime)) {
        refused.push(file.name);
        continue;
      }
      try {
        const dataUrl = await readAsDataUrl(file);
        const comma = dataUrl.indexOf(",");
        const sniffed = sniffType(dataUrl.slice(comma + 1));
        if (sniffed !== mime) {
          refused.push(`${file.name}（文件内容不是${mime === "application/pdf" ? " PDF" : "所标的图片格式"}，可能是改了扩展名的其他文件）`);
          continue;
        }
        const p = {
          id: this.nextPendingId++,
          name: file.name,
          mime,
          size: file.size,
          dataUrl: mime === file.type ? dataUrl : `data:${mime};base64,${dataUrl.slice(comma + 1)}`,
          dataB64: dataUrl.slice(comma + 1),
          saved: false,
          checking: Boolean(this.onCheckFile),
          scan: null,
        };
        this.pending.push(p);
        if (this.onCheckFile) {
          this.renderPending();
          try {
            p.scan = await this.onCheckFile(p);
          } catch (err) {
            this.pending = this.pending.filter((x) => x !== p);
            refused.push(`${file.name}（${err && err.message ? err.message : err}）`);
            continue;
          } finally {
            p.checking = false;
          }
        }
      } catch (err) {
        refused.push(`${file.name}（读取失败：${err && err.message ? err.message : err}）`);
      }
    }
    const fieldError = document.getElementById("error-scans");
    if (refused.length > 0) {
      const text = `以下文件未添加：${refused.join("、")}`;
      this.onNotice(text);
      if (fieldError) fieldError.textContent = text;
    } else if (fieldError && files.length > 0) {
      fieldError.textContent = "";
    }
    this.renderPending();
    this.onChange();
  }

  /**
   * Lists attachments the case already has ([{sm3, name, mime, size}]) as
   * saved: they count for the attachment checks and cannot be removed here.
   * `loadUrl(att)` (optional) gives a picture's data URL for its thumbnail.
   */
  setExisting(attachments, loadUrl = null) {
    const list = Array.isArray(attachments) ? attachments : [];
    for (const att of list) {
      const p = {
        id: this.nextPendingId++,
        name: att.name || "",
        mime: att.mime || "",
        size: att.size,
        dataUrl: null,
        dataB64: null,
        sm3: att.sm3,
        saved: true,
        existing: true,
      };
      this.pending.push(p);
      if (loadUrl && String(p.mime).startsWith("image/")) {
        Promise.resolve(loadUrl(att))
          .then((url) => {
            p.dataUrl = url;
            this.renderPending();
          })
          .catch(() => {});
      }
    }
    this.renderPending();
  }

  /** Prefills the form with stored values ({key: value}); keys the template does not know are ignored. */
  setValues(values) {
    for (const [key, value] of Object.entries(values || {})) {
      const b = this.bindings.get(key);
      if (b && b.set) b.set(value);
    }
  }

  /**
   * Adds a scan already processed by the app (from the scanner or the hot
   * folder): {scan_id, name, size, preview_b64, pages}. It is attached by
   * its id, not by sending the file again.
   */
  addScanned(item) {
    if (this.pending.some((p) => p.scanId === item.scan_id && !p.saved)) return;
    this.pending.push({
      id: this.nextPendingId++,
      name: item.name,
      mime: "image/jpeg",
      size: item.size,
      dataUrl: item.preview_b64 ? `data:image/jpeg;base64,${item.preview_b64}` : null,
      dataB64: null,
      scanId: item.scan_id,
      saved: false,
      checking: false,
      scan: { pages: item.pages || [] },
    });
    const fieldError = document.getElementById("error-scans");
    if (fieldError) fieldError.textContent = "";
    this.renderPending();
    this.onChange();
  }

  removePending(id) {
    this.pending = this.pending.filter((p) => p.id !== id || p.saved);
    this.renderPending();
    this.onChange();
  }

  renderPending() {
    if (!this.attachList) return;
    this.attachList.replaceChildren(
      ...this.pending.map((p, i) =>
        h(
          "li",
          {
            class: `thumb${p.saved ? " saved" : ""}`,
            "data-testid": "pending-attachment",
            "data-name": p.name,
            "data-saved": p.saved ? "true" : "false",
            "data-existing": p.existing ? "true" : null,
            "data-sm3": p.sm3 || null,
          },
          h("div", { class: "thumb-box" }, thumbnail(p.mime, p.dataUrl)),
          h("div", { class: "thumb-name", title: p.name }, p.name),
          h("div", { class: "thumb-meta" }, p.saved ? "已保存" : p.checking ? "正在处理扫描件…" : scanMeta(p)),
          ...scanWarnings(p).map((w) => h("div", { class: "thumb-warn", "data-testid": "attachment-warning" }, `⚠ ${w}`)),
          p.saved
            ? null
            : h(
                "button",
                { type: "button", class: "btn btn-small", id: `remove-attachment-${i + 1}`, "data-testid": "remove-attachment", onclick: () => this.removePending(p.id) },
                "移除",
              ),
        ),
      ),
    );
  }

  /** The form values to send ({key: value}); empty fields and attachments are left out. */
  values() {
    const values = {};
    for (const [key, b] of this.bindings) {
      const v = b.get();
      if (v !== undefined) values[key] = v;
    }
    return values;
  }

  isEmpty(key) {
    const b = this.bindings.get(key);
    if (!b) return false;
    if (b.kind === "attachments") return this.pending.length === 0;
    return b.get() === undefined;
  }

  /** Errors of the attachment fields, checked here: the backend cannot see files that are not saved yet. */
  attachmentErrors(mode) {
    const errors = [];
    for (const [key, b] of this.bindings) {
      if (b.kind !== "attachments") continue;
      const f = b.field;
      const count = this.pending.length;
      const min = Math.max(Number(f.min) || 0, f.required ? 1 : 0);
      const max = Number(f.max) || 0;
      if (mode === "submit" && count < min) {
        errors.push({ field: key, message: count === 0 ? `请添加${f.label}` : `${f.label}至少需要 ${min} 个文件` });
      }
      if (max > 0 && count > max) errors.push({ field: key, message: `${f.label}最多 ${max} 个文件` });
    }
    return errors;
  }

  /**
   * Shows errors [{field, message}] under their fields. Backend errors for
   * attachment fields are replaced by the local check. In "draft" mode the
   * "please fill" errors of the last submit attempt stay for fields still empty.
   * Returns the errors shown.
   */
  showErrors(backendErrors, mode) {
    const isAttachment = (e) => this.bindings.get(baseKey(e.field))?.kind === "attachments";
    let errors = (backendErrors || []).filter((e) => !isAttachment(e)).concat(this.attachmentErrors(mode));
    if (mode === "submit") {
      this.submitErrors = errors;
    } else {
      const kept = this.submitErrors.filter(
        (e) => !String(e.field).includes("[") && this.isEmpty(e.field) && !errors.some((x) => x.field === e.field),
      );
      errors = errors.concat(kept);
    }

    const byKey = new Map();
    const other = [];
    for (const e of errors) {
      const key = baseKey(e.field);
      if (this.bindings.has(key)) {
        if (!byKey.has(key)) byKey.set(key, []);
        byKey.get(key).push(e);
      } else {
        other.push(e);
      }
    }
    for (const [key, b] of this.bindings) {
      const list = byKey.get(key) || [];
      b.errorEl.replaceChildren(...list.map((e) => h("div", {}, e.message)));
      b.wrapper.classList.toggle("invalid", list.length > 0);
      for (const input of b.inputs()) input.removeAttribute("aria-invalid");
      for (const e of list) {
        // A table marks the cell named by the error; other fields their input.
        const target = b.cellFor ? b.cellFor(e.field) : b.inputs()[0];
        if (target) target.setAttribute("aria-invalid", "true");
      }
    }
    this.otherErrors = other;
    return errors;
  }

  /** Focuses the first field with an error. */
  focusFirstError() {
    const el = this.element.querySelector(
      "[aria-invalid='true'], .invalid input:not([disabled]), .invalid select, .invalid textarea, .invalid .drop-zone",
    );
    if (el) {
      el.scrollIntoView({ block: "center" });
      el.focus();
    }
  }

  /** After the case was created: values can no longer change here, only attachments can be added. */
  lockValues() {
    for (const [, b] of this.bindings) {
      if (b.kind === "attachments") continue;
      for (const input of b.inputs()) input.disabled = true;
      for (const btn of b.wrapper.querySelectorAll("button")) btn.disabled = true;
    }
  }
}

// ---------------------------------------------------------------- read-only values

/** Text of a stored value, labelled with the field's options. */
function displayValue(field, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (field && Array.isArray(field.options)) {
    const o = field.options.find((x) => String(x.code) === String(value));
    if (o) return optionText(o);
  }
  const kind = field ? fieldKind(field) : "text";
  if (kind === "datetime") return fmtTime(value);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object" || v === null)) return value.join("、");
    return null; // table, rendered separately
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function tableView(field, rows) {
  const columns = Array.isArray(field?.columns) && field.columns.length > 0
    ? field.columns
    : [...new Set(rows.flatMap((r) => (r && typeof r === "object" ? Object.keys(r) : [])))].map((k) => ({ key: k, label: k }));
  return h(
    "table",
    { class: "sub-table readonly" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c.label || c.key)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", {}, displayValue(c, r ? r[c.key] : undefined)))))),
  );
}

/**
 * A read-only view of case values, labelled and grouped as in the template;
 * keys the template does not know are listed at the end. Attachment fields
 * are skipped (the case page shows them with thumbnails).
 */
export function renderValues(template, values) {
  const fields = (Array.isArray(template?.fields) ? template.fields : []).map(normalizeField);
  const known = new Set(fields.map((f) => f.key));
  const groups = [];
  let current = null;
  const row = (key, label, field, value) => {
    const shown = displayValue(field, value);
    return h(
      "tr",
      { id: `value-${key}`, "data-testid": `value-${key}` },
      h("th", { scope: "row" }, label),
      h("td", {}, shown === null ? tableView(field, value) : shown),
    );
  };
  for (const f of fields) {
    if (!f || !f.key || fieldKind(f) === "attachments") continue;
    const section = f.section || "";
    if (!current || current.name !== section) {
      current = { name: section, rows: [] };
      groups.push(current);
    }
    current.rows.push(row(f.key, f.label || f.key, f, values[f.key]));
  }
  const extra = Object.keys(values || {}).filter((k) => !known.has(k));
  if (extra.length > 0) groups.push({ name: "其他", rows: extra.map((k) => row(k, k, null, values[k])) });
  return h(
    "div",
    { class: "values" },
    groups.map((g) =>
      h("table", { class: "values-table" }, g.name ? h("caption", {}, g.name) : null, h("tbody", {}, g.rows)),
    ),
  );
}
