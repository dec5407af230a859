// enrol.js — 首次使用 / 登记本机 (screen-enrol; also 添加用户).

import { $, api, state, showMessage, busy } from "./shell.js";
import { refreshStatus } from "./status.js";
import { errorText } from "./api.js";

// ============================================================== 1. 首次使用 / 登记本机

export async function enrol(e) {
  e.preventDefault();
  const hub = $("hub-url").value.trim();
  const fingerprint = $("hub-fingerprint").value.trim();
  const person = $("person").value.trim();
  const password = $("password").value;
  const pin = $("pin").value;
  const pin2 = $("pin2").value;
  const deviceName = $("device-name").value.trim();

  const problem = (text, id) => {
    showMessage(text, "error");
    $(id).focus();
  };
  if (!hub) return problem("请填写县局服务器地址", "hub-url");
  if (!/^https?:\/\//i.test(hub)) return problem("县局服务器地址应以 https:// 或 http:// 开头", "hub-url");
  if (/^https:/i.test(hub) && !fingerprint) return problem("使用 https:// 地址时请填写证书指纹", "hub-fingerprint");
  if (!person) return problem("请填写警号", "person");
  if (!password) return problem("请填写登录密码", "password");
  if (!pin) return problem("请设置签名 PIN", "pin");
  if (pin !== pin2) return problem("两次输入的签名 PIN 不一致", "pin2");
  if (!deviceName) return problem("请填写设备名称", "device-name");

  showMessage("正在登记本机，请稍候…", "progress");
  await busy([$("enrol-submit")], async () => {
    try {
      const r = await api.enrol({ hub, fingerprint: fingerprint || null, person, password, pin, deviceName, newUser: state.addingUser || null });
      state.addingUser = false;
      $("password").value = "";
      $("pin").value = "";
      $("pin2").value = "";
      showMessage((r && r.message) || "本机登记完成", "success");
      await refreshStatus();
    } catch (err) {
      showMessage(errorText(err), "error");
    }
  });
}
