// The seat's console: state, offers with their countdown, call control, context, wrap-up.
"use strict";

const S = {
  socket: null, snap: null, offer: null, offerAt: 0, current: null, since: 0,
  handled: new Set(), toWrap: [], contexts: new Map(), queues: new Map(), muted: false, unsent: null,
  // How the seat was signed in ({phone, media, ready, reason}); null once it signed out itself.
  // An engine started again or taken over by its standby does not know the seat: the page signs
  // it in again as it was, without a reload.
  signedIn: null,
};

function refused(message) {
  H.$("conn").textContent = "未连接";
  if (/登录|账号|角色/.test(message)) {
    H.$("desk").hidden = true;
    const slot = H.clear(H.$("login-slot"));
    if (/角色/.test(message)) slot.appendChild(H.el("div", { class: "err" }, message));
    slot.appendChild(H.loginForm(() => S.socket.connect()));
  } else {
    H.toast(message, true);
  }
}

async function connected() {
  // First, before any await: every list pushed from now on is applied on top of what it loads.
  KB.loadEmergency();
  H.$("conn").textContent = "已连接";
  H.$("conn").className = "conn ok";
  H.clear(H.$("login-slot"));
  H.$("desk").hidden = false;
  const snap = await H.ask(S.socket, "state");
  if (!snap.ok) { H.toast(snap.error, true); return; }
  const was = S.signedIn;
  applySnapshot(snap);
  if (!snap.logged_in && was) await signInAgain(was);
  refreshToday();
}

async function signInAgain(was) {
  const ack = await H.ask(S.socket, "login", { phone: was.phone, media: was.media, ready: was.ready });
  if (!ack.ok) { H.toast("服务已切换，自动签入失败：" + ack.error + "，请手动签入", true); return; }
  applySnapshot(ack);
  if (!was.ready && was.reason && was.reason !== (ack.seat && ack.seat.reason)) {
    const busy = await H.ask(S.socket, "not_ready", { reason: was.reason });
    if (busy.ok && busy.seat) showSeat(busy.seat);
  }
  H.toast("服务已切换，已自动重新签入");
}

function applySnapshot(snap) {
  S.snap = snap;
  fillSelect(H.$("reason"), snap.reasons);
  fillSelect(H.$("disposition"), snap.dispositions);
  const quick = H.$("quick-reply");
  if (quick.options.length === 1) for (const q of snap.quick_replies || []) quick.appendChild(H.el("option", { value: q }, q));
  if (snap.to_wrap) S.toWrap = snap.to_wrap.slice();
  if (snap.logged_in) H.$("phone-kind").value = snap.phone;  // before login the seat's choice stands
  if (snap.logged_in && snap.media) H.$("media-kind").value = snap.media;
  S.queues.clear();
  for (const q of snap.queue_figures || []) S.queues.set(q.queue, Object.assign(q, { at: Date.now() / 1000 }));
  showQueues();
  if (snap.logged_in && snap.sip) Phone.start(snap.sip);
  if (!snap.logged_in) Phone.stop();
  S.offer = snap.offer || null;
  S.offerAt = Date.now() / 1000 - (snap.offer ? snap.now - snap.offer.offered_at : 0);
  showSeat(snap.seat);
  renderOffer();
}

// The server sends a queue's figures when its waiting count changes; the longest wait grows here.
function showQueues() {
  const now = Date.now() / 1000;
  H.$("my-queues").textContent = [...S.queues.values()].map((x) => {
    const wait = x.waiting ? x.longest_wait_s + (now - (x.at || now)) : 0;
    return H.queueName(x.queue) + " 等待 " + x.waiting + " 最长 " + H.secs(wait);
  }).join("  |  ");
}

function fillSelect(select, items) {
  if (select.options.length) return;
  for (const item of items) select.appendChild(H.el("option", { value: item }, item));
}

function showSeat(seat) {
  S.snap.seat = seat;
  S.since = Date.now() / 1000 - (seat.time_in_state_s || 0);
  const badge = H.$("state-badge");
  badge.textContent = (H.STATE[seat.state] || seat.state) + (seat.reason ? "（" + seat.reason + "）" : "");
  badge.className = "badge " + seat.state;
  H.$("who").textContent = seat.seat;
  const live = [seat.voice, ...(seat.chats || [])].filter(Boolean);
  for (const cid of S.handled) {
    if (!live.includes(cid) && !S.toWrap.includes(cid)) S.toWrap.push(cid);
  }
  S.handled = new Set(live);
  if (!live.includes(S.current)) S.current = live[0] || null;
  const loggedIn = seat.state !== "logged_out";
  S.signedIn = loggedIn ? {
    phone: H.$("phone-kind").value, media: H.$("media-kind").value,
    ready: seat.state !== "not_ready", reason: seat.reason || "",
  } : null;
  H.$("btn-login").disabled = loggedIn;
  H.$("btn-logout").disabled = !loggedIn;
  H.$("btn-ready").disabled = !loggedIn;
  H.$("btn-not-ready").disabled = !loggedIn;
  renderContact(live);
  renderWrap();
}

function renderOffer() {
  const card = H.$("offer-card");
  card.hidden = !S.offer;
  if (!S.offer) return;
  const o = S.offer;
  H.clear(H.$("offer-info")).append(
    H.el("div", { class: "big", id: "offer-caller" }, o.caller || "未知号码"),
    H.el("div", {}, (H.CHANNEL[o.channel] || o.channel) + " · 队列 " + H.queueName(o.queue) + " · 已等待 " + H.secs(o.wait_s)),
  );
  tickOffer();
}

function tickOffer() {
  if (!S.offer) return;
  const left = S.offer.ring_timeout_s - (Date.now() / 1000 - S.offerAt);
  H.$("offer-countdown").textContent = Math.max(0, Math.ceil(left));
}

function renderContact(live) {
  const card = H.$("contact-card");
  card.hidden = live.length === 0;
  H.$("context-card").hidden = live.length === 0 && !S.offer;
  if (!live.length) return;
  const info = H.clear(H.$("contact-info"));
  for (const cid of live) {
    const ctx = S.contexts.get(cid) || {};
    const pick = H.el("label", { class: "pick" },
      H.el("input", { type: "radio", name: "current", value: cid, checked: cid === S.current,
        on: { change: () => { S.current = cid; renderContext(); refreshChat(); } } }),
      (ctx.caller || cid) + (S.snap.seat.voice === cid ? " · 通话" : " · 会话"));
    info.appendChild(pick);
  }
  renderContext();
  refreshChat();
}

function isChat(cid) {
  return Boolean(cid && S.snap && S.snap.seat && (S.snap.seat.chats || []).includes(cid));
}

async function refreshChat() {
  const cid = S.current;
  H.$("chat-box").hidden = !isChat(cid);
  for (const node of document.querySelectorAll(".voice-only")) node.hidden = isChat(cid);
  KB.showSuggest(isChat(cid) ? cid : null);
  if (!isChat(cid)) return;
  const ack = await H.ask(S.socket, "chat_history", { contact_id: cid });
  if (!ack.ok || S.current !== cid) return;
  const log = H.clear(H.$("chat-log"));
  for (const m of ack.messages) log.appendChild(chatLine(m));
  log.scrollTop = log.scrollHeight;
  chatRead(cid, ack.messages);
}

// One line of a chat: text as text; a citizen's picture from the engine (login cookie), never inline HTML.
function chatLine(m) {
  const body = m.body || {};
  const out = m.direction === "out";
  const line = H.el("div", { class: out ? "out" : "in" }, out ? "座席：" : "市民：");
  if (m.kind === "image") {
    const img = H.el("img", { class: "chat-img", alt: body.name || "图片" });
    img.src = "/api/channels/media/" + encodeURIComponent(m.id);
    line.appendChild(img);
  } else if (m.kind === "leave_message") {
    line.appendChild(document.createTextNode("[留言] " + (body.text || "")));
  } else {
    line.appendChild(document.createTextNode(body.text !== undefined ? body.text : "[" + (m.kind || "消息") + "]"));
  }
  if (out && m.status === "read") line.appendChild(H.el("span", { class: "muted" }, " · 已读"));
  return line;
}

function chatRead(cid, messages) {
  const last = messages.filter((m) => m.direction === "in" && m.status !== "read").map((m) => m.id).pop();
  if (last && document.visibilityState === "visible") H.ask(S.socket, "chat_read", { contact_id: cid, up_to: last });
}

function chatPushed(d) {
  if (d.contact_id !== S.current) { H.toast("会话有新消息：" + d.contact_id); return; }
  H.$("chat-typing").hidden = true;
  const log = H.$("chat-log");
  log.appendChild(chatLine(d.message));
  log.scrollTop = log.scrollHeight;
  chatRead(d.contact_id, [d.message]);
}

function renderContext() {
  const cid = S.current || (S.offer && S.offer.contact_id);
  const box = H.clear(H.$("context"));
  const ctx = cid && S.contexts.get(cid);
  if (!ctx) return;
  H.$("context-card").hidden = false;
  box.append(
    H.el("div", { class: "big", id: "context-caller" }, ctx.caller || "未知号码"),
    H.el("div", {}, "语音导航：" + (ctx.ivr_path.length ? ctx.ivr_path.join(" → ") : "—")),
    H.el("h3", {}, "历史来电/会话"),
    ctx.contacts.length
      ? H.el("ul", {}, ctx.contacts.map((c) => H.el("li", {},
          (c.arrived_at || "").slice(0, 16).replace("T", " ") + " " + (H.CHANNEL[c.channel] || c.channel) + " " +
          (c.disposition || "") + (c.notes ? "：" + c.notes : ""))))
      : H.el("div", { class: "muted" }, "无"),
    H.el("h3", {}, "在办工单"),
    ctx.orders.length
      ? H.el("ul", {}, ctx.orders.map((o) => H.el("li", {}, "#" + o.id + " " + o.title + "（" + o.state_label + "）")))
      : H.el("div", { class: "muted" }, "无"),
  );
}

function renderWrap() {
  const card = H.$("wrapup-card");
  card.hidden = S.toWrap.length === 0;
  if (!S.toWrap.length) return;
  const cid = S.toWrap[0];
  const ctx = S.contexts.get(cid) || {};
  H.$("wrapup-for").textContent = "对象：" + (ctx.caller || cid);
}

async function refreshToday() {
  const t = await H.ask(S.socket, "today");
  if (!t.ok) return;
  const rows = [
    ["分配", t.offered], ["接起", t.accepted], ["拒绝", t.rejected], ["未应答", t.missed],
    ["电话", t.calls], ["会话", t.chats], ["话后处理", t.wrapped],
    ["平均处理时长", t.avg_handle_s === null ? "—" : H.secs(t.avg_handle_s)], ["接起率", H.pct(t.accept_rate)],
  ];
  H.clear(H.$("today")).append(...rows.map(([k, v]) => H.el("tr", {}, H.el("th", {}, k), H.el("td", {}, v))));
}

async function act(event, data, okText) {
  const ack = await H.ask(S.socket, event, data);
  if (!ack.ok) H.toast(ack.error, true);
  else if (okText) H.toast(okText);
  return ack;
}

function onContact(event, extra, okText) {
  if (!S.current) { H.toast("当前没有服务中的来电/会话", true); return null; }
  return act(event, Object.assign({ contact_id: S.current }, extra || {}), okText);
}

function wire() {
  H.$("btn-exit").addEventListener("click", H.logout);
  H.$("btn-login").addEventListener("click", async () => {
    const ack = await act("login", { phone: H.$("phone-kind").value, media: H.$("media-kind").value });
    if (ack.ok) applySnapshot(ack);
  });
  H.$("btn-logout").addEventListener("click", async () => {
    const ack = await act("logout");
    if (ack.ok) applySnapshot(ack);
  });
  H.$("btn-ready").addEventListener("click", () => act("ready"));
  H.$("btn-not-ready").addEventListener("click", () => act("not_ready", { reason: H.$("reason").value }));
  H.$("btn-accept").addEventListener("click", async () => {
    if (!S.offer) return;
    const ack = await act("accept", { contact_id: S.offer.contact_id });
    if (!ack.ok) return;
    if (ack.auto_answer) Phone.accept();
    if (ack.hint) H.toast(ack.hint);
    S.current = ack.contact_id;
    if (ack.channel !== "voice") { S.offer = null; renderOffer(); }
    refreshToday();
  });
  H.$("btn-reject").addEventListener("click", async () => {
    if (!S.offer) return;
    const ack = await act("reject", { contact_id: S.offer.contact_id });
    if (ack.ok) { S.offer = null; renderOffer(); refreshToday(); }
  });
  H.$("btn-chat-send").addEventListener("click", async () => {
    const text = H.$("chat-text").value.trim();
    if (!text) return;
    // The same id while the same reply to the same contact is sent again after a failed or lost
    // acknowledgement: the engine may have stored it, and then answers without sending it twice.
    if (!S.unsent || S.unsent.text !== text || S.unsent.contact !== S.current) {
      const bytes = new Uint8Array(12);
      window.crypto.getRandomValues(bytes);
      S.unsent = { text, contact: S.current, cid: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("") };
    }
    const ack = await onContact("chat_send", { text, cid: S.unsent.cid });
    if (ack && ack.ok) { S.unsent = null; H.$("chat-text").value = ""; if (ack.detail) H.toast(ack.detail); refreshChat(); }
  });
  H.$("quick-reply").addEventListener("change", (e) => {
    if (e.target.value) H.$("chat-text").value = e.target.value;
    e.target.value = "";
    H.$("chat-text").focus();
  });
  H.$("chat-image").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file || !isChat(S.current)) return;
    if (file.size > 2 * 1024 * 1024) { H.toast("图片过大（最大2MB）", true); return; }
    const ack = await onContact("chat_image", { type: file.type, name: file.name, data: await file.arrayBuffer() });
    if (ack && ack.ok) refreshChat();
  });
  H.$("chat-text").addEventListener("input", () => {
    const now = Date.now();
    if (isChat(S.current) && now - (S.sentTyping || 0) > 2000) {
      S.sentTyping = now;
      H.ask(S.socket, "chat_typing", { contact_id: S.current });
    }
  });
  H.$("chat-text").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); H.$("btn-chat-send").click(); } });
  H.$("btn-hangup").addEventListener("click", () => onContact("hangup"));
  H.$("btn-hold").addEventListener("click", () => onContact("hold", {}, "已保持"));
  H.$("btn-unhold").addEventListener("click", () => onContact("unhold", {}, "已恢复"));
  H.$("btn-mute").addEventListener("click", async () => {
    const ack = await onContact("mute", { on: !S.muted });
    if (ack && ack.ok) { S.muted = !S.muted; H.$("btn-mute").textContent = S.muted ? "取消静音" : "静音"; }
  });
  H.$("btn-dtmf").addEventListener("click", () => onContact("dtmf", { digits: H.$("dtmf").value.trim() }));
  H.$("btn-transfer").addEventListener("click", () => onContact("transfer",
    { target: H.$("transfer-target").value.trim(), attended: H.$("transfer-attended").checked }, "正在转接"));
  H.$("btn-complete").addEventListener("click", () => onContact("complete_transfer", {}, "转接完成"));
  for (const b of document.querySelectorAll("button.emergency")) {
    b.addEventListener("click", () => onContact("emergency", { service: b.dataset.service }, "正在转" + b.textContent.slice(1)));
  }
  H.$("btn-three").addEventListener("click", () => onContact("three_party", { number: H.$("three-number").value.trim() }));
  H.$("btn-leave-three").addEventListener("click", () => onContact("leave_three_party"));
  H.$("btn-workorder").addEventListener("click", () => { H.$("workorder-form").hidden = !H.$("workorder-form").hidden; });
  H.$("workorder-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = {
      content: H.$("wo-content").value, title: H.$("wo-title").value, address: H.$("wo-address").value,
      citizen_name: H.$("wo-name").value,
    };
    if (H.$("wo-type").value) data.order_type = H.$("wo-type").value;
    // One id per order the seat means to open, kept while the same form for the same contact is
    // submitted again after a failed or lost acknowledgement: the engine may have opened the order
    // already, and then answers with it instead of opening a second one.
    const form = JSON.stringify([S.current, data]);
    if (!S.unsentOrder || S.unsentOrder.form !== form) {
      const bytes = new Uint8Array(12);
      window.crypto.getRandomValues(bytes);
      S.unsentOrder = { form, cid: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("") };
    }
    const ack = await onContact("create_workorder", Object.assign({ cid: S.unsentOrder.cid }, data));
    if (ack && ack.ok) {
      S.unsentOrder = null;
      H.toast("工单已创建：#" + ack.order_id); H.$("workorder-form").hidden = true;
    }
  });
  H.$("btn-wrapup").addEventListener("click", async () => {
    const cid = S.toWrap[0];
    if (!cid) return;
    const ack = await act("wrapup", { contact_id: cid, disposition: H.$("disposition").value, notes: H.$("notes").value }, "话后处理已提交");
    if (ack.ok || /已提交过/.test(ack.error || "")) {
      S.toWrap.shift();
      H.$("notes").value = "";
      if (ack.seat) showSeat(ack.seat); else renderWrap();
      refreshToday();
    }
  });
}

function start() {
  wire();
  S.socket = H.connect("/agent", {
    refused, connected,
    resync: async () => { await connected(); refreshChat(); },
    disconnected: () => { H.$("conn").textContent = "连接中断，正在恢复…"; H.$("conn").className = "conn bad"; },
    events: {
      state: showSeat,
      offer: (o) => {
        S.offer = o; S.offerAt = Date.now() / 1000; renderOffer();
        H.toast("新的" + (H.CHANNEL[o.channel] || "") + "：" + (o.caller || "未知号码"));
      },
      offer_gone: (o) => {
        if (!S.offer || S.offer.contact_id !== o.contact_id) return;
        S.offer = null; renderOffer();
        if (!o.answered) H.toast("来电/会话已转走（超时未应答或对方已挂断）", true);
      },
      context: (c) => { S.contexts.set(c.contact_id, c); renderContext(); },
      chat_message: chatPushed,
      kb_suggest: KB.suggested,
      kb_emergency: KB.onEmergency,
      chat_flag: (f) => H.toast("会话 " + f.contact_id + "：" + f.label, f.change === "late" || f.change === "offer_elsewhere"),
      chat_typing: (d) => {
        if (d.contact_id !== S.current) return;
        H.$("chat-typing").hidden = false;
        clearTimeout(S.typingTimer);
        S.typingTimer = setTimeout(() => { H.$("chat-typing").hidden = true; }, 4000);
      },
      chat_read: (d) => { if (d.contact_id === S.current) refreshChat(); },
      queue: (q) => { S.queues.set(q.queue, Object.assign(q, { at: Date.now() / 1000 })); showQueues(); },
      forced: (f) => {
        H.toast("班长 " + f.by + (f.action === "logout" ? " 将您签出" : " 将您置忙：" + f.reason), true);
        if (f.action === "logout") Phone.stop();
      },
    },
  });
  KB.wire(S.socket, () => S.current);
  window.__console = S;
  setInterval(() => {
    tickOffer();
    if (S.snap) H.$("state-time").textContent = H.secs(Date.now() / 1000 - S.since);
  }, 250);
  setInterval(showQueues, 1000);
  setInterval(refreshChat, 3000);
  setInterval(refreshToday, 60000);
}

start();
