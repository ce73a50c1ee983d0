// The seat's soft-phone: JsSIP registered to the seat's Asterisk endpoint over WebSocket,
// DTLS-SRTP audio, auto-answer of calls the seat accepted in the console. WebRTC counters are
// kept on window.__phone for tests and for the status line.
"use strict";

const Phone = {
  ua: null, session: null, autoAnswer: false, answerAll: false, registered: false,
  stats: { packetsSent: 0, packetsReceived: 0, connectionState: "new", bytesSent: 0, bytesReceived: 0 },
};
window.__phone = Phone;

Phone.status = function (text) {
  const node = document.getElementById("phone-status");
  if (node) node.textContent = "话机：" + text;
};

Phone.start = function (sip) {
  if (!window.JsSIP) { Phone.status("组件缺失"); return; }
  if (Phone.ua) return;
  // The engine relays SIP over WebSocket to Asterisk (whose own HTTP server stays private):
  // the address is the page's own, ws: or wss: like the page.
  const url = new URL(sip.ws_url, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new window.JsSIP.WebSocketInterface(url.toString());
  Phone.ua = new window.JsSIP.UA({
    sockets: [socket], uri: sip.uri, authorization_user: sip.username, password: sip.password,
    register: true, session_timers: false, user_agent: "hotline12345-console",
  });
  Phone.ua.on("registered", () => { Phone.registered = true; Phone.status("已注册"); });
  Phone.ua.on("unregistered", () => { Phone.registered = false; Phone.status("未注册"); });
  Phone.ua.on("registrationFailed", (e) => { Phone.registered = false; Phone.status("注册失败 " + (e.cause || "")); });
  Phone.ua.on("disconnected", () => Phone.status("连接中断，重连中"));
  Phone.ua.on("newRTCSession", (e) => {
    if (e.originator !== "remote") return;
    if (Phone.session) { e.session.terminate({ status_code: 486 }); return; }
    Phone.session = e.session;
    Phone.status("来电振铃");
    e.session.on("ended", Phone.ended);
    e.session.on("failed", Phone.ended);
    e.session.on("confirmed", () => Phone.status("通话中"));
    e.session.on("peerconnection", (p) => Phone.watch(p.peerconnection));
    // A supervisor's phone rings only for the listen/whisper/barge calls they asked for.
    if (Phone.autoAnswer || Phone.answerAll) Phone.answer();
  });
  Phone.ua.start();
};

Phone.stop = function () {
  if (Phone.ua) { Phone.ua.stop(); Phone.ua = null; }
  Phone.registered = false;
  Phone.status("未注册");
};

// Called when the seat accepts a voice offer: answer now if the call rings, else when it arrives.
Phone.accept = function () {
  Phone.autoAnswer = true;
  if (Phone.session && !Phone.session.isEstablished()) Phone.answer();
};

Phone.answer = function () {
  Phone.autoAnswer = false;
  Phone.session.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
  Phone.watch(Phone.session.connection);
};

Phone.ended = function () {
  Phone.session = null;
  Phone.autoAnswer = false;
  Phone.status(Phone.registered ? "已注册" : "未注册");
};

Phone.watch = function (pc) {
  if (!pc || pc.__watched) return;
  pc.__watched = true;
  pc.addEventListener("track", (ev) => {
    const audio = document.getElementById("remote-audio");
    if (audio && ev.streams[0]) audio.srcObject = ev.streams[0];
  });
  pc.addEventListener("connectionstatechange", () => { Phone.stats.connectionState = pc.connectionState; });
  const timer = setInterval(async () => {
    if (pc.connectionState === "closed") { clearInterval(timer); return; }
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "audio") {
        Phone.stats.packetsSent = s.packetsSent; Phone.stats.bytesSent = s.bytesSent;
      }
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        Phone.stats.packetsReceived = s.packetsReceived; Phone.stats.bytesReceived = s.bytesReceived;
      }
    });
  }, 500);
};

window.Phone = Phone;
