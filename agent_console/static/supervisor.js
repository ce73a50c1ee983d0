// The supervisor's board: queues, seats by state with time in state, actions, the day's chart.
"use strict";

const B = { socket: null, seats: new Map(), received: new Map(), snoops: new Map() };

function refused(message) {
  H.$("conn").textContent = "未连接";
  if (/登录|账号|角色/.test(message)) {
    H.$("board").hidden = true;
    const slot = H.clear(H.$("login-slot"));
    if (/角色/.test(message)) slot.appendChild(H.el("div", { class: "err", id: "role-error" }, message));
    slot.appendChild(H.loginForm(() => B.socket.connect()));
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
  H.$("board").hidden = false;
  const board = await H.ask(B.socket, "board");
  if (!board.ok) { H.toast(board.error, true); return; }
  const sip = await H.ask(B.socket, "sip");
  if (sip.ok) { Phone.answerAll = true; Phone.start(sip); }
  B.seats.clear();
  for (const s of board.seats) putSeat(s, false);
  renderSeats();
  renderQueues(board.queues);
  renderChart(board.series, board.interval_s);
  H.$("by-state").textContent = Object.entries(board.by_state)
    .filter(([k]) => k !== "logged_out").map(([k, v]) => (H.STATE[k] || k) + " " + v).join(" · ");
}

function putSeat(row, render) {
  B.seats.set(row.seat, row);
  B.received.set(row.seat, Date.now() / 1000 - (row.time_in_state_s || 0));
  if (render) renderSeats();
}

function renderQueues(rows) {
  const body = H.clear(H.$("queues").tBodies[0]);
  for (const q of rows) {
    const late = q.sl15_last30 !== null && q.sl15_last30 < 0.95;
    body.appendChild(H.el("tr", { "data-queue": q.queue },
      H.el("td", {}, H.queueName(q.queue)), H.el("td", { class: q.waiting ? "hot" : "" }, q.waiting),
      H.el("td", {}, H.secs(q.longest_wait_s)), H.el("td", {}, q.offered), H.el("td", {}, q.answered),
      H.el("td", {}, q.abandoned), H.el("td", {}, H.pct(q.sl15_today)),
      H.el("td", { class: late ? "hot" : "" }, H.pct(q.sl15_last30)), H.el("td", {}, H.pct(q.internet_rate_today))));
  }
  H.$("updated").textContent = "更新于 " + H.clock(Date.now() / 1000);
}

function button(text, fn, cls) {
  return H.el("button", { type: "button", class: cls || "", on: { click: fn } }, text);
}

function renderSeats() {
  const body = H.clear(H.$("seats").tBodies[0]);
  const rows = [...B.seats.values()].filter((s) => s.state !== "logged_out")
    .sort((a, b) => a.seat.localeCompare(b.seat));
  for (const s of rows) {
    const current = s.voice ? "通话 " + s.voice : s.chats && s.chats.length ? "会话 " + s.chats.length : s.offer ? "振铃 " + s.offer : "";
    const actions = H.el("td", { class: "actions" },
      button("置忙", () => ask("force_not_ready", { seat_id: s.seat, reason: "班长置忙" }, "已置忙 " + s.seat)),
      button("签出", () => ask("force_logout", { seat_id: s.seat }, "已签出 " + s.seat)),
      button("调组", () => moveSeat(s)));
    if (s.voice) {
      actions.append(
        button("监听", () => snoop(s.seat, "listen")), button("耳语", () => snoop(s.seat, "whisper")),
        button("强插", () => snoop(s.seat, "barge"), "danger"));
    }
    body.appendChild(H.el("tr", { "data-seat": s.seat, class: "st-" + s.state },
      H.el("td", {}, s.seat), H.el("td", { class: "state" }, H.STATE[s.state] || s.state),
      H.el("td", {}, s.reason || s.pending || ""), H.el("td", { class: "tis", "data-seat": s.seat }, ""),
      H.el("td", { class: "online-" + s.online }, H.ONLINE[s.online] || s.online),
      H.el("td", {}, (s.groups || []).join("、") || "—"), H.el("td", {}, current), actions));
  }
  tick();
}

function tick() {
  for (const cell of document.querySelectorAll("td.tis")) {
    const since = B.received.get(cell.dataset.seat);
    cell.textContent = since === undefined ? "" : H.secs(Date.now() / 1000 - since);
  }
}

async function ask(event, data, okText) {
  const ack = await H.ask(B.socket, event, data);
  if (!ack.ok) H.toast(ack.error, true);
  else if (okText) H.toast(okText);
  if (ack.ok && ack.seat) putSeat(ack.seat, true);
  return ack;
}

function moveSeat(s) {
  const row = document.querySelector('tr[data-seat="' + CSS.escape(s.seat) + '"]');
  if (!row || row.nextSibling && row.nextSibling.classList.contains("editor")) return;
  const input = H.el("input", { value: (s.groups || []).join(","), placeholder: "分组，用逗号分隔" });
  const editor = H.el("tr", { class: "editor" }, H.el("td", { colspan: 8 }, "调整 " + s.seat + " 的分组：", input,
    button("确定", async () => {
      const groups = input.value.split(/[,，]/).map((g) => g.trim()).filter(Boolean);
      const ack = await ask("move_seat", { seat_id: s.seat, groups }, "已调组 " + s.seat);
      if (ack.ok) editor.remove();
    }), button("取消", () => editor.remove())));
  row.after(editor);
}

async function snoop(seat, mode) {
  const ack = await ask("snoop", { seat_id: seat, mode }, { listen: "开始监听 ", whisper: "开始耳语 ", barge: "已强插 " }[mode] + seat);
  if (ack.ok) B.snoops.set(ack.snoop_id, seat);
}

// The day's chart, drawn as SVG: bars of offered and answered per interval over the whole day
// (China time), the 15-second rate as a line on its own 0-100 % scale.
function renderChart(series, intervalS) {
  H.$("interval-min").textContent = String(intervalS / 60);
  const box = H.clear(H.$("chart"));
  const W = 960, Ht = 220, pad = 30, n = Math.round(86400 / intervalS);
  const max = Math.max(1, ...series.map((p) => p.offered));
  const bw = (W - 2 * pad) / n;
  const svg = H.svg("svg", { viewBox: "0 0 " + W + " " + (Ht + 20), width: "100%", role: "img", "aria-label": "今日分时图" });
  svg.appendChild(H.svg("line", { x1: pad, y1: Ht, x2: W - pad, y2: Ht, stroke: "#888" }));
  const y = (v) => Ht - (v / max) * (Ht - 20);
  for (let i = 0; i <= n; i += Math.round(7200 / intervalS)) {
    svg.appendChild(H.svg("text", { x: pad + i * bw - 6, y: Ht + 15, class: "axis" }, String((i * intervalS) / 3600) + "时"));
  }
  const points = [];
  series.forEach((p, i) => {
    const x = pad + i * bw;
    const title = H.svg("title", {}, H.clock(p.interval).slice(0, 5) + " 呼入 " + p.offered + " 接通 " + p.answered +
      " 15秒接通率 " + H.pct(p.sl15));
    if (p.offered) {
      const bar = H.svg("rect", { x: x, y: y(p.offered), width: Math.max(1, bw / 2), height: Ht - y(p.offered), class: "bar-offered" });
      bar.appendChild(title);
      svg.appendChild(bar);
    }
    if (p.answered) svg.appendChild(H.svg("rect", { x: x + bw / 2, y: y(p.answered), width: Math.max(1, bw / 2), height: Ht - y(p.answered), class: "bar-answered" }));
    if (p.sl15 !== null) points.push((x + bw / 2).toFixed(1) + "," + (Ht - p.sl15 * (Ht - 20)).toFixed(1));
  });
  if (points.length) svg.appendChild(H.svg("polyline", { points: points.join(" "), class: "line-sl" }));
  svg.appendChild(H.svg("text", { x: 2, y: 14, class: "axis" }, String(max)));
  box.appendChild(svg);
}

function start() {
  H.$("btn-exit").addEventListener("click", H.logout);
  B.socket = H.connect("/supervisor", {
    refused, connected,
    disconnected: () => { H.$("conn").textContent = "连接中断，正在恢复…"; H.$("conn").className = "conn bad"; },
    events: {
      seat: (row) => putSeat(row, true),
      queues: (q) => renderQueues(q.queues),
      chat_flag: (f) => H.toast("会话 " + f.contact_id + (f.seat ? "（座席 " + f.seat + "）" : "") + "：" + f.label, true),
      kb_emergency: KB.onEmergency,
      // Alerts other features raise for the supervisors: kept on the board (newest first, 20).
      workorder_escalated: (a) => raiseAlert("超期升级", "工单 " + a.order + "（" + (a.unit || "未指定单位") + "）" +
        (a.title ? "：" + a.title : "") + "，" + deadlineName(a.deadline) + "已过期"),
      "reports.spike": (a) => raiseAlert("诉求激增", (a.area || "全市") + " · " + a.category + "：15 分钟内 " + a.count +
        " 件（常态约 " + Number(a.expected).toFixed(1) + " 件）" + (a.orders && a.orders.length ? "，工单 " + a.orders.slice(0, 5).join("、") : "")),
    },
  });
  window.__board = B;
  setInterval(tick, 1000);
  // The chart changes slowly: redraw it once a minute.
  setInterval(async () => {
    const board = await H.ask(B.socket, "board");
    if (board.ok) renderChart(board.series, board.interval_s);
  }, 60000);
}

const DEADLINES = {
  sign: "签收时限", respond: "24小时响应时限", return: "退回时限", extension: "延期申请时限", reply: "答复时限",
  feedback: "特殊工单首次反馈时限", progress: "特殊工单进展时限", onsite: "30分钟到场时限",
};

function deadlineName(kind) { return DEADLINES[kind] || kind || "时限"; }

function raiseAlert(kind, text) {
  const list = H.$("alerts");
  H.$("alerts-card").hidden = false;
  list.prepend(H.el("li", {}, H.el("b", {}, kind + " "), new Date().toLocaleTimeString("zh-CN"), " ", text));
  while (list.children.length > 20) list.lastChild.remove();
  H.toast(kind + "：" + text, true);
}

start();
