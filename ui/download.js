// download.js — saves a file the backend made (`{name, mime, dataB64}`):
// in a browser, the browser's own download; in the desktop app, the
// desktop's save_download command writes it to the user's 下载 folder.

import { call, isDesktop } from "./api.js";

/** Saves `file`; resolves to a Chinese sentence saying where it went. */
export async function saveFile(file) {
  if (!file || !file.name || typeof file.dataB64 !== "string") throw "县局服务器没有返回文件";
  if (isDesktop()) {
    const r = await call("save_download", { name: file.name, dataB64: file.dataB64 });
    return `已保存：${r && r.path ? r.path : file.name}`;
  }
  const bin = atob(file.dataB64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  const url = URL.createObjectURL(new Blob([bytes], { type: file.mime || "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = file.name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return `已下载：${file.name}`;
}
