// Shared helpers of the console pages. Every text shown goes through textContent (el() below):
// nothing received from the server or a citizen is ever parsed as HTML.
"use strict";

const H = {};

H.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
};

H.svg = function (tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};

H.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};

H.$ = (id) => document.getElementById(id);

H.pct = (x) => (x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%");

H.secs = function (s) {
  s = Math.max(0, Math.floor(s || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" + two(m) : m) + ":" + two(r);
};

H.clock = (epoch) => new Date(epoch * 1000).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });

H.STATE = {
  logged_out: "未签入", not_ready: "示忙", ready: "空闲", reserved: "振铃", busy: "服务中", wrap_up: "话后处理",
};
H.CHANNEL = { voice: "电话", callback: "回拨", webchat: "网页会话", wechat: "微信" };
H.QUEUES = { general: "综合", business: "涉企专席", dialect: "方言专席", emergency: "紧急", internet: "互联网" };
H.queueName = (q) => (H.QUEUES[q] ? H.QUEUES[q] + "（" + q + "）" : q);
H.ONLINE = { online: "在线", away: "断线等待", offline: "离线" };

H.toast = function (text, bad) {
  const box = H.$("toast");
  const item = H.el("div", { class: bad ? "msg bad" : "msg" }, text);
  box.prepend(item);
  setTimeout(() => item.remove(), 6000);
  while (box.children.length > 5) box.lastChild.remove();
};

// Log in through the engine's login API; it sets the HttpOnly cookie the sockets use.
H.loginForm = function (onDone) {
  const user = H.el("input", { id: "login-user", autocomplete: "username", placeholder: "工号" });
  const pass = H.el("input", { id: "login-pass", type: "password", autocomplete: "current-password", placeholder: "密码" });
  const err = H.el("div", { class: "err", id: "login-error" });
  const form = H.el("form", { id: "login-form", class: "card login" },
    H.el("h2", {}, "登录"), user, pass, H.el("button", { type: "submit", id: "login-submit" }, "登录"), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    try {
      const resp = await fetch("/api/login", {
        method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
        body: JSON.stringify({ username: user.value.trim(), password: pass.value }),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) { err.textContent = body.detail || "登录失败"; return; }
      form.remove();
      onDone(body.account);
    } catch (e) {
      err.textContent = "无法连接服务器";
    }
  });
  return form;
};

H.logout = async function () {
  await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  location.reload();
};

// One socket per page; the cookie carries the login. Reconnects by itself after a network loss.
H.connect = function (ns, handlers) {
  if (typeof window.io !== "function") {
    H.toast("前端组件未安装：请运行 make setup（scripts/frontend.sh）", true);
    return null;
  }
  const socket = window.io(ns, { transports: ["websocket"], withCredentials: true, reconnectionDelayMax: 3000 });
  socket.on("connect_error", (e) => handlers.refused(e && e.message ? e.message : "连接失败"));
  for (const [ev, fn] of Object.entries(handlers.events || {})) socket.on(ev, fn);
  socket.on("connect", handlers.connected);
  socket.on("disconnect", handlers.disconnected);
  // After a gap in the engine's shared emits (its Redis was away) the page reads again what it
  // shows, as after a reconnect; each page within 3 s, so that a thousand do not ask at once.
  socket.on("resync", () => setTimeout(handlers.resync || handlers.connected, Math.random() * 3000));
  return socket;
};

// Emit with an ack; resolves with the ack, or a refusal when the server is unreachable.
H.ask = function (socket, event, data) {
  return new Promise((resolve) => {
    if (!socket || !socket.connected) { resolve({ ok: false, error: "未连接服务器" }); return; }
    socket.timeout(8000).emit(event, data || {}, (err, ack) => {
      resolve(err ? { ok: false, error: "服务器无响应" } : ack);
    });
  });
};

window.H = H;
