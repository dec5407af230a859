// users.js — several users on one station PC (切换用户, screen-users).
//
// Each user has a profile of their own on this PC (signing key, hub session,
// outbox, lists); switching asks for the chosen user's signing PIN.
//
// Ids (id == data-testid)
// header: switch-user
// 切换用户 (data-screen="users"): users-back, user-list with
//   li[data-testid="user-item"][data-person][data-current="true"|"false"]
//   each holding a button user-switch (data-testid; absent on the current user),
//   add-user (→ the enrolment screen in 添加用户 mode: enrol-title, enrol-cancel)

const $ = (id) => document.getElementById(id);

let ui = null;

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

async function openUsers() {
  ui.clearMessage();
  ui.showScreen("users");
  const list = $("user-list");
  list.replaceChildren(el("li", {}, "正在读取本机用户…"));
  try {
    const users = await ui.call("profiles");
    list.replaceChildren(...users.map(userItem));
  } catch (err) {
    list.replaceChildren();
    ui.showMessage(String(err), "error");
  }
}

function userItem(u) {
  const li = el("li", {
    class: "user-item",
    "data-testid": "user-item",
    "data-person": u.person,
    "data-current": u.current ? "true" : "false",
  });
  li.append(el("span", { class: "user-item-name" }, u.name || u.person));
  li.append(el("span", { class: "user-item-meta" }, `警号 ${u.person}${u.unit ? ` · ${u.unit}` : ""}`));
  if (u.current) {
    li.append(el("span", { class: "user-item-current" }, "当前用户"));
  } else {
    const b = el("button", { type: "button", class: "btn btn-small", "data-testid": "user-switch" }, "切换");
    b.addEventListener("click", () => switchTo(u, b));
    li.append(b);
  }
  return li;
}

async function switchTo(u, button) {
  const pin = await ui.askPin(`切换到 ${u.name || u.person}：请输入该用户的签名 PIN`);
  if (pin === null) return;
  await ui.busy([button], async () => {
    ui.showMessage("正在切换用户…", "progress");
    try {
      await ui.call("switch_user", { person: u.person, pin });
      await ui.switched();
      ui.showMessage(`已切换到 ${u.name || u.person}`, "success");
    } catch (err) {
      ui.showMessage(String(err), "error");
    }
  });
}

/** Wires the user switch; `deps` lends main.js's helpers. */
export function wireUsers(deps) {
  ui = deps;
  $("switch-user").addEventListener("click", openUsers);
  $("users-back").addEventListener("click", () => {
    ui.clearMessage();
    ui.openWork();
  });
  $("add-user").addEventListener("click", () => {
    ui.clearMessage();
    ui.addUser();
  });
  $("enrol-cancel").addEventListener("click", () => ui.cancelAdd());
}
