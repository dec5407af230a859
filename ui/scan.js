// scan.js — scan sources beside the form's attachments (desktop only):
// a scanner through SANE, and the hot folder scanners save into.
//
// Ids (id == data-testid)
//   scan-sources (container)
//   scan-device (从扫描仪扫描…), scanner-box, scanner-select, scanner-go
//   hot-dir (the folder's path), hot-list with li[data-testid="hot-file"]
//     [data-name] holding hot-take (加入附件) for imported files, or the
//     reason (hot-error) for refused ones

const $ = (id) => document.getElementById(id);

let ui = null;
let form = null;

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? "" : v);
  }
  if (text) e.textContent = text;
  return e;
}

async function listScanners() {
  const box = $("scanner-box");
  const select = $("scanner-select");
  box.hidden = false;
  select.replaceChildren(el("option", { value: "" }, "正在查找扫描仪…"));
  $("scanner-go").disabled = true;
  try {
    const list = await ui.call("scanners");
    select.replaceChildren(
      ...list.map((d) => el("option", { value: d.name }, `${d.vendor} ${d.model}（${d.name}）`)),
    );
    if (list.length === 0) {
      select.replaceChildren(el("option", { value: "" }, "未找到扫描仪"));
      ui.showMessage("未找到扫描仪：请检查扫描仪是否连接并开机，或改用扫描文件夹、选择文件", "error");
    }
    $("scanner-go").disabled = list.length === 0;
  } catch (err) {
    select.replaceChildren(el("option", { value: "" }, "无法使用扫描仪"));
    ui.showMessage(String(err), "error");
  }
}

async function scanNow() {
  const device = $("scanner-select").value;
  if (!device) return;
  await ui.busy([$("scanner-go"), $("scan-device")], async () => {
    ui.showMessage("正在扫描，请稍候…", "progress");
    try {
      const items = await ui.call("scan_device", { device });
      for (const item of items) form.addScanned(item);
      ui.showMessage(`已扫描 ${items.length} 页，保存申请时一并附上`, "success");
    } catch (err) {
      ui.showMessage(String(err), "error");
    }
  });
}

async function take(file, button) {
  await ui.busy([button], async () => {
    ui.showMessage(`正在处理“${file.file}”…`, "progress");
    try {
      const item = await ui.call("take_scan_file", { path: file.moved_to });
      form.addScanned(item);
      ui.clearMessage();
    } catch (err) {
      ui.showMessage(String(err), "error");
    }
  });
}

/** Re-reads the hot folder's list (after a jingwu://scanned event). */
export async function refreshHotFolder() {
  const list = $("hot-list");
  if (!list || !ui) return;
  try {
    const h = await ui.call("hot_folder");
    $("hot-dir").textContent = h.dir || "（未启用）";
    if (h.error) $("hot-dir").textContent += `（${h.error}）`;
    list.replaceChildren(
      ...h.files.map((f) => {
        const li = el("li", { class: "hot-file", "data-testid": "hot-file", "data-name": f.file || "" });
        li.append(el("span", { class: "hot-name" }, f.file || ""));
        li.append(el("span", { class: "hot-time" }, String(f.time || "").slice(11, 19)));
        if (f.imported && f.moved_to) {
          const w = (f.warnings || []).join("；");
          if (w) li.append(el("span", { class: "thumb-warn" }, `⚠ ${w}`));
          const b = el("button", { type: "button", class: "btn btn-small", "data-testid": "hot-take" }, "加入附件");
          b.addEventListener("click", () => take(f, b));
          li.append(b);
        } else {
          li.append(el("span", { class: "field-error", "data-testid": "hot-error" }, f.error || "未能导入"));
        }
        return li;
      }),
    );
    if (h.files.length === 0) list.replaceChildren(el("li", { class: "help" }, "暂无新扫描件"));
  } catch (err) {
    list.replaceChildren(el("li", { class: "field-error" }, String(err)));
  }
}

/** The scan sources for `caseForm`; `deps` lends main.js's helpers. */
export function scanSources(caseForm, deps) {
  ui = deps;
  form = caseForm;
  const box = el("div", { class: "scan-sources", id: "scan-sources", "data-testid": "scan-sources" });
  const device = el("button", { type: "button", class: "btn", id: "scan-device", "data-testid": "scan-device" }, "从扫描仪扫描…");
  device.addEventListener("click", listScanners);
  const scannerBox = el("span", { id: "scanner-box", "data-testid": "scanner-box", hidden: true });
  const select = el("select", { id: "scanner-select", "data-testid": "scanner-select", "aria-label": "扫描仪" });
  const go = el("button", { type: "button", class: "btn btn-primary", id: "scanner-go", "data-testid": "scanner-go" }, "扫描");
  go.addEventListener("click", scanNow);
  scannerBox.append(select, go);
  const hot = el("div", { class: "hot-box" });
  const label = el("p", { class: "help" }, "扫描文件夹（扫描仪保存到此文件夹的文件会自动处理）：");
  label.append(el("code", { id: "hot-dir", "data-testid": "hot-dir" }));
  hot.append(label, el("ul", { class: "hot-list", id: "hot-list", "data-testid": "hot-list" }));
  const row = el("div", { class: "actions" });
  row.append(device, scannerBox);
  box.append(row, hot);
  setTimeout(refreshHotFolder, 0);
  return box;
}
