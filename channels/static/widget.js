// 12345 网页在线咨询: the visitor's side of web chat (Socket.IO namespace /visitor).
// Everything shown is set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const W = { socket: null, conversation: null, open: false, closed: null, lastIn: 0, own: new Map(), typingTimer: null, sentTyping: 0, unsent: null };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 3000);
}

function ask(event, data) {
  return new Promise((resolve) => {
    if (!W.socket || !W.socket.connected) { resolve({ ok: false, error: "未连接，请稍后重试" }); return; }
    W.socket.timeout(10000).emit(event, data || {}, (err, ack) => resolve(err ? { ok: false, error: "服务器无响应" } : ack));
  });
}

function time(iso) { return iso ? iso.slice(11, 16) : ""; }

function addMessage(m) {
  const mine = m.direction === "in"; // "in" to the hotline: the visitor's own message
  const box = el("div", "msg " + (mine ? "out" : "in"));
  if (m.kind === "image") {
    const img = el("img");
    img.src = m.blob || "/chat/media/" + encodeURIComponent(m.id);
    img.alt = m.name || "图片";
    box.appendChild(img);
  } else {
    box.appendChild(document.createTextNode(m.text || ""));
  }
  const meta = el("span", "meta", (mine ? "我" : "客服") + " " + time(m.at));
  if (mine) {
    const st = el("span", "receipt", m.status === "read" ? " · 已读" : " · 已送达");
    meta.appendChild(st);
    W.own.set(m.id, st);
  }
  box.appendChild(meta);
  $("log").appendChild(box);
  $("log").scrollTop = $("log").scrollHeight;
  if (!mine && m.id > W.lastIn) W.lastIn = m.id;
}

function system(text) {
  $("log").appendChild(el("div", "msg system", text));
  $("log").scrollTop = $("log").scrollHeight;
}

function status(text) { $("status").textContent = text; }

function showQueue(q) {
  if (!q) return;
  const wait = q.expected_wait_s === null ? "" : "，预计等待约 " + Math.max(1, Math.round(q.expected_wait_s / 60 * 10) / 10) + " 分钟";
  status("正在为您接入人工客服，您前面还有 " + Math.max(0, q.position - 1) + " 位" + wait);
}

function mode(which) {
  $("compose").hidden = which !== "chat";
  $("leave").hidden = which !== "leave";
  $("rate").hidden = which !== "rate";
}

async function markRead() {
  if (W.conversation && W.lastIn && document.visibilityState === "visible") {
    await ask("read", { conversation: W.conversation, up_to: W.lastIn });
  }
}

async function hello(tries = 0) {
  const ack = await ask("hello");
  if (!ack.ok) {
    status(ack.error);
    // An engine just started again or a database away says no for a while: ask again, or the
    // answers sent while the page was away would show only when the citizen writes next.
    if (tries < 30) setTimeout(() => hello(tries + 1), 2000);
    return;
  }
  W.open = ack.open;
  $("log").textContent = "";
  W.own.clear();
  const conv = ack.conversation;
  if (conv) {
    W.conversation = conv.id;
    for (const m of conv.messages) addMessage(m);
    if (conv.state === "assigned") status("客服 " + conv.seat + " 号正在为您服务");
    else if (ack.queue) showQueue(ack.queue); else status("正在为您接入人工客服…");
    mode("chat");
    markRead();
  } else if (W.closed) {
    mode("rate");
  } else if (ack.open) {
    status("您好，这里是12345政务服务便民热线网页咨询，请输入您的问题。");
    mode("chat");
  } else {
    status("当前不在服务时间或客服全忙，请留言。");
    mode("leave");
  }
}

// The page's own id for a message: the same while the same text is sent again after a failed or
// unanswered acknowledgement (the engine may have stored it), so it is stored and shown once.
function messageId() {
  const bytes = new Uint8Array(12);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function send() {
  const text = $("text").value.trim();
  if (!text) return;
  await identify();
  if (!W.unsent || W.unsent.text !== text) W.unsent = { text, cid: messageId() };
  $("btn-send").disabled = true;
  const ack = await ask("message", { text, cid: W.unsent.cid });
  $("btn-send").disabled = false;
  if (!ack.ok) { toast(ack.error); return; }
  W.unsent = null;
  $("text").value = "";
  if (W.conversation !== ack.conversation) {
    W.conversation = ack.conversation;
    status("正在为您接入人工客服…");
  }
  addMessage({ id: ack.id, direction: "in", kind: "text", text, at: ack.at, status: "received" });
}

async function identify() {
  const phone = $("phone").value.trim();
  if (!phone || phone === W.phone) return true;
  const ack = await ask("identify", { phone });
  if (!ack.ok) { toast(ack.error); return false; }
  W.phone = phone;
  return true;
}

async function sendImage(file) {
  if (!file) return;
  if (!["image/jpeg", "image/png", "image/gif"].includes(file.type)) { toast("只能发送 JPG、PNG 或 GIF 图片"); return; }
  if (file.size > 2 * 1024 * 1024) { toast("图片过大（最大2MB）"); return; }
  const data = await file.arrayBuffer();
  const ack = await ask("image", { type: file.type, name: file.name, data });
  if (!ack.ok) { toast(ack.error); return; }
  W.conversation = ack.conversation;
  addMessage({ id: ack.id, direction: "in", kind: "image", name: file.name, blob: URL.createObjectURL(file), at: ack.at });
}

function connect() {
  // Default transports: long-polling first, upgraded to WebSocket where the network allows it.
  W.socket = window.io("/visitor");
  W.socket.on("connect", () => { $("conn").textContent = "已连接"; hello(); });
  W.socket.on("disconnect", () => { $("conn").textContent = "连接断开，正在重连…"; });
  // The engine's shared emits had a gap (its Redis was away): read the conversation again, as after
  // a reconnect; within 3 s, so that a thousand pages do not ask at once.
  W.socket.on("resync", () => setTimeout(hello, Math.random() * 3000));
  W.socket.on("message", (m) => {
    if (m.conversation !== W.conversation) return;
    $("typing").hidden = true;
    addMessage({ ...m, direction: "out" });
    markRead();
  });
  W.socket.on("assigned", (d) => { if (d.conversation === W.conversation) status("客服 " + d.seat + " 号正在为您服务"); });
  W.socket.on("requeued", (d) => { if (d.conversation === W.conversation) status("正在为您转接其他客服，请稍候…"); });
  W.socket.on("queue", (q) => { if (q.conversation === W.conversation) showQueue(q); });
  W.socket.on("typing", (d) => {
    if (d.conversation !== W.conversation) return;
    $("typing").hidden = false;
    clearTimeout(W.typingTimer);
    W.typingTimer = setTimeout(() => { $("typing").hidden = true; }, 4000);
  });
  W.socket.on("read", (d) => {
    if (d.conversation !== W.conversation) return;
    for (const [id, node] of W.own) if (id <= d.up_to) node.textContent = " · 已读";
  });
  W.socket.on("closed", (d) => {
    if (d.conversation !== W.conversation) return;
    W.closed = d.conversation;
    W.conversation = null;
    $("typing").hidden = true;
    system("本次会话已结束");
    status("感谢您的咨询");
    mode("rate");
  });
}

function bind() {
  $("btn-send").addEventListener("click", send);
  $("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) send(); });
  $("text").addEventListener("input", () => {
    const now = Date.now();
    if (W.conversation && now - W.sentTyping > 2000) { W.sentTyping = now; ask("typing"); }
  });
  $("image").addEventListener("change", (e) => { sendImage(e.target.files[0]); e.target.value = ""; });
  $("btn-end").addEventListener("click", async () => {
    if (!W.conversation) return;
    const ack = await ask("end");
    if (!ack.ok) toast(ack.error);
  });
  $("btn-leave").addEventListener("click", async () => {
    const ack = await ask("leave_message", {
      text: $("leave-text").value, phone: $("leave-phone").value.trim(), name: $("leave-name").value.trim(),
    });
    if (!ack.ok) { toast(ack.error); return; }
    $("leave-text").value = "";
    mode("none");
    status(ack.order_id ? "留言已提交，工单编号 " + ack.order_id + "，工作人员会尽快与您联系。" : "留言已提交，工作人员会尽快与您联系。");
  });
  $("btn-rate").addEventListener("click", async () => {
    const picked = document.querySelector("input[name=rating]:checked");
    const ack = await ask("rate", { conversation: W.closed, rating: picked.value, comment: $("rate-comment").value });
    if (!ack.ok) { toast(ack.error); return; }
    W.closed = null;
    mode("none");
    status("感谢您的评价！");
  });
  $("btn-again").addEventListener("click", () => { W.closed = null; $("log").textContent = ""; hello(); });
  document.addEventListener("visibilitychange", markRead);
}

bind();
connect();
