// viewer.js — the attachment viewer (zoom, drag).

import { attachmentUrl } from "./case.js";
import { $ } from "./shell.js";
import { errorText } from "./api.js";
import { fmtSize } from "./form.js";

// ============================================================== attachment viewer

const viewer = { scale: 1, natural: { w: 0, h: 0 }, drag: null, returnFocus: null };

export async function openViewer(att) {
  viewer.returnFocus = document.activeElement;
  $("viewer-name").textContent = `${att.name || ""}${att.size ? `（${fmtSize(att.size)}）` : ""}`;
  $("viewer-img").hidden = true;
  $("viewer-img").removeAttribute("src");
  $("viewer-note").hidden = false;
  $("viewer").hidden = false;
  $("viewer-close").focus();
  const isImage = String(att.mime || "").startsWith("image/");
  if (!isImage) {
    $("viewer-note").textContent = "PDF 文件不能在本界面预览。";
    setZoomControls(false);
    return;
  }
  $("viewer-note").textContent = "正在读取附件…";
  setZoomControls(false);
  try {
    const url = await attachmentUrl(att);
    const img = $("viewer-img");
    img.onload = () => {
      viewer.natural = { w: img.naturalWidth, h: img.naturalHeight };
      $("viewer-note").hidden = true;
      img.hidden = false;
      setZoomControls(true);
      zoomFit();
    };
    img.onerror = () => {
      $("viewer-note").textContent = "此图片格式（如 TIFF）不能在本界面显示。";
    };
    img.src = url;
  } catch (err) {
    $("viewer-note").textContent = errorText(err);
  }
}

function setZoomControls(enabled) {
  for (const id of ["zoom-in", "zoom-out", "zoom-fit", "zoom-actual"]) $(id).disabled = !enabled;
  if (!enabled) $("zoom-level").textContent = "";
}

function closeViewer() {
  $("viewer").hidden = true;
  $("viewer-img").removeAttribute("src");
  if (viewer.returnFocus && typeof viewer.returnFocus.focus === "function") viewer.returnFocus.focus();
}

function setZoom(scale) {
  if (!viewer.natural.w) return;
  viewer.scale = Math.min(8, Math.max(0.05, scale));
  const img = $("viewer-img");
  // CSSOM sizes are allowed by the CSP (style-src 'self'); style attributes are not used.
  img.style.width = `${Math.round(viewer.natural.w * viewer.scale)}px`;
  img.style.height = `${Math.round(viewer.natural.h * viewer.scale)}px`;
  $("zoom-level").textContent = `${Math.round(viewer.scale * 100)}%`;
}

function zoomFit() {
  const stage = $("viewer-stage");
  if (!viewer.natural.w) return;
  const s = Math.min((stage.clientWidth - 24) / viewer.natural.w, (stage.clientHeight - 24) / viewer.natural.h, 1);
  setZoom(s > 0 ? s : 1);
}

/** Zooms keeping the stage point (x, y) under the cursor. */
function zoomAt(factor, x, y) {
  const stage = $("viewer-stage");
  const old = viewer.scale;
  const cx = stage.scrollLeft + x;
  const cy = stage.scrollTop + y;
  setZoom(old * factor);
  const ratio = viewer.scale / old;
  stage.scrollLeft = cx * ratio - x;
  stage.scrollTop = cy * ratio - y;
}

export function wireViewer() {
  const stage = $("viewer-stage");
  $("zoom-in").addEventListener("click", () => zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2));
  $("zoom-out").addEventListener("click", () => zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2));
  $("zoom-fit").addEventListener("click", zoomFit);
  $("zoom-actual").addEventListener("click", () => setZoom(1));
  $("viewer-close").addEventListener("click", closeViewer);
  $("viewer").addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeViewer();
    if (e.key === "+" || e.key === "=") zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2);
    if (e.key === "-") zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2);
  });
  stage.addEventListener(
    "wheel",
    (e) => {
      if ($("viewer-img").hidden) return;
      e.preventDefault();
      const rect = stage.getBoundingClientRect();
      zoomAt(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - rect.left, e.clientY - rect.top);
    },
    { passive: false },
  );
  // Drag to move a zoomed picture.
  stage.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    viewer.drag = { x: e.clientX, y: e.clientY, left: stage.scrollLeft, top: stage.scrollTop };
    stage.classList.add("dragging");
  });
  stage.addEventListener("pointermove", (e) => {
    if (!viewer.drag) return;
    stage.scrollLeft = viewer.drag.left - (e.clientX - viewer.drag.x);
    stage.scrollTop = viewer.drag.top - (e.clientY - viewer.drag.y);
  });
  const endDrag = () => {
    viewer.drag = null;
    stage.classList.remove("dragging");
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointerleave", endDrag);
}
