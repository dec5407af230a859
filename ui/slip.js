// slip.js — 审批结果通知单: print preview and printing (screen-slip), and
// offline checking of a slip, PDF or photo (screen-verify).
//
// Ids (id == data-testid)
// 案件详情: slip-panel, slip-open (打印预览; shown for 已同意 / 不同意);
//   blank-form-open (打印空白登记表, in edit-box: a draft's blank form with its QR)
// 打印预览 (data-screen="slip"): slip-back, slip-title, slip-pages
//   (img[data-testid="slip-page"] per page), slip-info, printer (select;
//   the default queue first), printer-note, print-slip
// 核验通知单 (data-screen="verify"): verify-open (工作台), verify-back,
//   verify-file (hidden file input), verify-choose, verify-result
//   (data-valid="true"|"false"), verify-verdict, verify-reason,
//   verify-decisions (li per decision)

const $ = (id) => document.getElementById(id);

let ui = null; // what main.js lends: call, showScreen, showMessage, …
let slipCase = null;
let slipKind = "slip"; // "slip": the result slip; "blank": a draft's blank QR form

const MAX_FILE = 20 * 1024 * 1024;

function text(tag, content, attrs = {}) {
  const el = document.createElement(tag);
  el.textContent = content;
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

async function openSlip(kind = "slip") {
  const caseId = ui.caseId();
  if (!caseId) return;
  slipCase = caseId;
  slipKind = kind;
  ui.showScreen("slip");
  $("slip-pages").replaceChildren(text("p", "正在生成通知单…", { class: "loading-text" }));
  $("slip-info").textContent = "";
  ui.showMessage(kind === "blank" ? "正在生成空白登记表…" : "正在生成审批结果通知单…", "progress");
  await Promise.all([loadPreview(caseId), loadPrinters()]);
}

async function loadPreview(caseId) {
  try {
    const r = await ui.call("slip_preview", { caseId, kind: slipKind });
    if (slipCase !== caseId) return;
    $("slip-title").textContent = `打印预览 · ${slipKind === "blank" ? "空白登记表 · " : ""}${r.case_no}`;
    const pages = r.pages.map((png, i) => {
      const img = document.createElement("img");
      img.src = `data:image/png;base64,${png}`;
      img.alt = `通知单第 ${i + 1} 页`;
      img.className = "slip-page";
      img.dataset.testid = "slip-page";
      return img;
    });
    // Shown once decoded, so the preview never flashes blank pages.
    await Promise.all(pages.map((img) => img.decode().catch(() => {})));
    if (slipCase !== caseId) return;
    $("slip-pages").replaceChildren(...pages);
    $("slip-info").textContent = `共 ${r.pages.length} 页，${Math.ceil(r.bytes / 1024)} KB；已保存：${r.file}`;
    ui.clearMessage();
  } catch (err) {
    $("slip-pages").replaceChildren();
    ui.showMessage(String(err), "error");
  }
}

async function loadPrinters() {
  const select = $("printer");
  select.replaceChildren();
  $("printer-note").hidden = true;
  try {
    const list = await ui.call("printers");
    for (const p of list) {
      const o = document.createElement("option");
      o.value = p.name;
      o.textContent = p.is_default ? `${p.name}（默认）` : p.name;
      select.append(o);
    }
    if (list.length === 0) {
      $("printer-note").textContent = "本机没有可用的打印机，请联系管理员在系统中添加打印机。";
      $("printer-note").hidden = false;
    }
  } catch (err) {
    $("printer-note").textContent = String(err);
    $("printer-note").hidden = false;
  }
  $("print-slip").disabled = select.options.length === 0;
}

async function printSlip() {
  const caseId = slipCase;
  const printer = $("printer").value || null;
  await ui.busy([$("print-slip")], async () => {
    ui.showMessage("正在送打印…", "progress");
    try {
      const r = await ui.call("print_slip", { caseId, printer, kind: slipKind });
      ui.showMessage(`已送打印机 ${printer || "（默认）"}，任务号 ${r.job}`, "success");
    } catch (err) {
      ui.showMessage(String(err), "error");
    }
  });
}

function openVerify() {
  ui.clearMessage();
  $("verify-result").hidden = true;
  $("verify-result").dataset.valid = "none";
  $("verify-file").value = "";
  ui.showScreen("verify");
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => {
      const s = String(r.result || "");
      resolve(s.slice(s.indexOf(",") + 1));
    };
    r.onerror = () => reject("文件读取失败");
    r.readAsDataURL(file);
  });
}

async function verifyFile() {
  const file = $("verify-file").files && $("verify-file").files[0];
  if (!file) return;
  if (file.size > MAX_FILE) {
    ui.showMessage(`文件“${file.name}”过大，上限 20 MB`, "error");
    return;
  }
  await ui.busy([$("verify-choose")], async () => {
    ui.showMessage(`正在核验“${file.name}”…`, "progress");
    try {
      const dataB64 = await readBase64(file);
      showVerdict(await ui.call("verify_slip", { name: file.name, dataB64 }));
      ui.clearMessage();
    } catch (err) {
      ui.showMessage(String(err), "error");
    }
  });
}

function showVerdict(r) {
  const box = $("verify-result");
  box.hidden = false;
  box.dataset.valid = r.valid ? "true" : "false";
  const list = $("verify-decisions");
  list.replaceChildren();
  if (r.valid) {
    const c = r.check;
    const byEye = c.page_check === "compare_by_eye";
    box.dataset.compare = byEye ? "by-eye" : "matched";
    $("verify-verdict").textContent = byEye
      ? `✔ 签名有效：受理编号 ${c.case_no}，审批结果：${c.result}。请逐字核对纸面：受理编号、变更内容和审批记录必须与下列签名内容完全一致，否则通知单已被改动。`
      : `✔ 有效：受理编号 ${c.case_no}，审批结果：${c.result}（页面文字与签名内容一致）`;
    $("verify-reason").textContent =
      `签名内容：受理编号 ${c.case_no}；${c.summary}。` +
      (c.matched_local_record ? "与本机案件记录一致。" : "本机没有该案件的记录，仅核验了签名。");
    for (const d of c.decisions) {
      list.append(text("li", `${d.step}：${d.name} ${d.decision}　意见：${d.opinion}　${d.time}（SM2 签名有效）`));
    }
  } else {
    delete box.dataset.compare;
    $("verify-verdict").textContent = "✘ 无效";
    $("verify-reason").textContent = r.reason;
  }
}

/** Wires the slip screens; `deps` lends main.js's helpers. */
export function wireSlip(deps) {
  ui = deps;
  $("slip-open").addEventListener("click", () => openSlip("slip"));
  $("blank-form-open").addEventListener("click", () => openSlip("blank"));
  $("slip-back").addEventListener("click", () => {
    ui.clearMessage();
    if (slipCase) ui.openCase(slipCase);
    else ui.openWork();
  });
  $("print-slip").addEventListener("click", printSlip);
  $("verify-open").addEventListener("click", openVerify);
  $("verify-back").addEventListener("click", () => {
    ui.clearMessage();
    ui.openWork();
  });
  $("verify-choose").addEventListener("click", () => $("verify-file").click());
  $("verify-file").addEventListener("change", verifyFile);
}
