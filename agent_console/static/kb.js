// The knowledge base in the consoles: the search box, answers suggested during a chat or while a
// work order is written, 纠错 and 向单位求助, and the emergency Q&A lists pinned on every console.
// Answers are shown and filled in as plain text only (textContent, input values).
"use strict";

const KB = {
  socket: null, contact: () => null, suggest: new Map(), shownFor: undefined, emergency: new Map(),
  lastQuery: "", lastField: "chat-text", orderTimer: 0, orderAsked: "",
};

// An answer (sanitised HTML from the knowledge base) as text: parsed in an inert document (nothing
// runs, nothing loads), one line per paragraph or list item.
KB.plain = function (html) {
  const doc = new DOMParser().parseFromString(String(html || ""), "text/html");
  for (const br of doc.querySelectorAll("br")) br.replaceWith("\n");
  for (const block of doc.querySelectorAll("p, li, div, tr, h1, h2, h3, h4")) block.append("\n");
  return (doc.body.textContent || "").split("\n").map((l) => l.replace(/\s+/g, " ").trim()).filter(Boolean).join("\n");
};

// The knowledge base's API with the login cookie; never throws: {ok, status, data}.
KB.api = async function (method, path, body) {
  try {
    const resp = await fetch(path, {
      method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { ok: resp.ok, status: resp.status, data: await resp.json().catch(() => ({})) };
  } catch (e) {
    return { ok: false, status: 0, data: {} };
  }
};

// Where an answer goes: the chat reply box, or the work order's content when its form is the one
// open (with both open, the one the seat typed in last).
KB.target = function () {
  const chat = H.$("chat-box") && !H.$("chat-box").hidden;
  const order = H.$("workorder-form") && !H.$("workorder-form").hidden;
  if (chat && order) return KB.lastField;
  return order ? "wo-content" : "chat-text";
};

KB.fill = function (text, target) {
  const box = H.$(target || KB.target());
  if (!box) return false;
  if (box.id === "chat-text") box.value = text.replace(/\s*\n\s*/g, " ").slice(0, 2000);  // one line, as sent
  else box.value = box.value.trim() ? box.value + "\n" + text : text;
  box.focus();
  return true;
};

KB.use = function (r, target) {
  if (!KB.fill(r.answer, target)) return;
  H.toast("已填入：" + r.question);
  // Counted by the knowledge base; a console ahead of it (404) or a refusal changes nothing here.
  KB.api("POST", "/api/kb/entries/" + encodeURIComponent(r.id) + "/used");
};

KB.item = function (r, target) {
  const item = H.el("div", { class: "kb-item", "data-id": r.id, title: "点击填入" },
    H.el("div", { class: "kb-q" }, r.question, r.expired ? H.el("span", { class: "kb-tag" }, "已过期") : null),
    r.flagged ? H.el("div", { class: "kb-warn" }, "此条目已被纠错，待单位修改") : null,
    H.el("div", { class: "kb-a" }, r.answer));
  const fix = H.el("button", { type: "button", class: "kb-flag" }, "纠错");
  fix.addEventListener("click", (ev) => { ev.stopPropagation(); KB.flagForm(item, r); });
  item.appendChild(H.el("div", { class: "row" }, H.el("button", { type: "button", class: "primary kb-use" }, "采用"), fix));
  item.addEventListener("click", () => KB.use(r, target || KB.target()));
  return item;
};

KB.flagForm = function (item, r) {
  if (item.querySelector(".kb-flag-form")) return;
  const reason = H.el("input", { class: "kb-reason", maxlength: 500, placeholder: "纠错原因（如：政策已调整、电话已变更）" });
  const form = H.el("form", { class: "row kb-flag-form" }, reason, H.el("button", { type: "submit" }, "提交纠错"));
  form.addEventListener("click", (ev) => ev.stopPropagation());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = reason.value.trim();
    if (!text) { H.toast("请填写纠错原因", true); return; }
    const res = await KB.api("POST", "/api/kb/entries/" + encodeURIComponent(r.id) + "/flags", { reason: text });
    if (!res.ok) {
      H.toast(res.data.detail || (res.status === 404 ? "纠错功能暂未开放" : "纠错提交失败"), true);
      return;
    }
    form.remove();
    H.toast("纠错已提交，待单位修改");
    if (!r.flagged) item.insertBefore(H.el("div", { class: "kb-warn" }, "此条目已被纠错，待单位修改"), item.children[1]);
    r.flagged = true;
  });
  item.appendChild(form);
  reason.focus();
};

KB.render = function (box, results, target, empty) {
  H.clear(box);
  if (!results.length && empty) box.appendChild(H.el("div", { class: "muted" }, empty));
  for (const r of results) box.appendChild(KB.item(r, target));
};

// ---- the search box ------------------------------------------------------------------------------
KB.search = async function (q) {
  q = q.trim();
  if (!q) return;
  KB.lastQuery = q;
  const res = await KB.api("POST", "/api/kb/search", { q, limit: 8 });
  if (KB.lastQuery !== q) return;  // a newer search went out meanwhile
  if (!res.ok) { H.toast(res.data.detail || "知识库查询失败", true); return; }
  const hits = res.data.results || [];
  const entries = await Promise.all(hits.map((h) => KB.api("GET", "/api/kb/entries/" + encodeURIComponent(h.id))));
  if (KB.lastQuery !== q) return;
  const results = hits.map((h, i) => ({
    id: h.id, question: h.question, score: h.score, expired: Boolean(h.expired), flagged: Boolean(h.flag),
    answer: entries[i].ok ? KB.plain(entries[i].data.answer) : "（答案读取失败）",
    unit: entries[i].ok ? entries[i].data.unit : "",
  }));
  KB.render(H.$("kb-results"), results, null, "没有找到相关条目");
  H.$("kb-help").hidden = false;
  const unit = H.$("kb-help-unit");
  if (!unit.value && results.length && results[0].unit) unit.value = results[0].unit;
};

KB.askUnit = async function () {
  const question = H.$("kb-q").value.trim() || KB.lastQuery;
  const unit = H.$("kb-help-unit").value.trim();
  if (!question) { H.toast("请先在搜索框中写明问题", true); return; }
  if (!unit) { H.toast("请填写求助的单位编码", true); return; }
  const body = { question, unit };
  const cid = KB.contact();
  if (cid) body.contact_id = cid;
  const res = await KB.api("POST", "/api/kb/queries", body);
  if (res.ok) H.toast("已向单位 " + unit + " 求助：" + question);
  else H.toast(res.data.detail || (res.status === 404 ? "求助功能暂未开放" : "求助发送失败"), true);
};

// ---- suggestions ---------------------------------------------------------------------------------
KB.suggested = function (d) {
  KB.suggest.set(d.contact_id, d.results || []);
  if (d.contact_id === KB.contact()) { KB.shownFor = undefined; KB.showSuggest(d.contact_id); }
};

// The chat's suggestions under its reply box; drawn again only when the chat or its results change
// (the console refreshes the chat every few seconds; a 纠错 form being filled in stays).
KB.showSuggest = function (cid) {
  const box = H.$("kb-suggest");
  const results = (cid && KB.suggest.get(cid)) || [];
  box.hidden = results.length === 0;
  if (KB.shownFor === cid) return;
  KB.shownFor = cid;
  KB.render(H.$("kb-suggest-list"), results, "chat-text", null);
};

KB.orderChanged = function () {
  clearTimeout(KB.orderTimer);
  KB.orderTimer = setTimeout(KB.askOrder, 1200);  // once the seat pauses typing
};

KB.askOrder = async function () {
  const title = H.$("wo-title").value, content = H.$("wo-content").value;
  const key = (title + " " + content).replace(/\s+/g, " ").trim().slice(0, 200);
  if (key.length < 4 || key === KB.orderAsked) return;
  KB.orderAsked = key;
  const ack = await H.ask(KB.socket, "kb_suggest_order", { title, content });
  if (!ack.ok) {
    KB.orderAsked = "";  // asked again at the next change
    if (!/频繁/.test(ack.error || "")) H.toast(ack.error, true);
    return;
  }
  H.$("kb-order-suggest").hidden = ack.results.length === 0;
  KB.render(H.$("kb-order-list"), ack.results, "wo-content", null);
};

// ---- emergency lists -----------------------------------------------------------------------------
KB.loadEmergency = async function () {
  // Lists pushed while the fetch is under way are applied again on top of its answer: that
  // answer may have been made before them (a list published or withdrawn meanwhile).
  KB.pushedDuringLoad = [];
  const res = await KB.api("GET", "/api/kb/emergency");
  const pushed = KB.pushedDuringLoad;
  KB.pushedDuringLoad = null;
  if (!res.ok) return;  // not offered yet (404) or not allowed: what was pushed stays
  KB.emergency.clear();
  for (const l of res.data.lists || []) KB.emergency.set(l.id, l);
  for (const d of pushed) KB.applyEmergency(d);
  KB.renderEmergency();
};

KB.applyEmergency = function (d) {
  if (d.action === "withdrawn") KB.emergency.delete(d.list.id);
  else KB.emergency.set(d.list.id, d.list);
};

KB.onEmergency = function (d) {
  if (!d || !d.list) return;
  if (KB.pushedDuringLoad) KB.pushedDuringLoad.push(d);
  KB.applyEmergency(d);
  if (d.action !== "withdrawn") H.toast("紧急答疑已发布：" + d.list.title, true);
  KB.renderEmergency();
};

KB.renderEmergency = function () {
  const card = H.$("kb-emergency");
  if (!card) return;
  card.hidden = KB.emergency.size === 0;
  const box = H.clear(H.$("kb-emergency-lists"));
  const fillable = Boolean(H.$("chat-text"));
  for (const l of KB.emergency.values()) {
    const when = l.published_at
      ? new Date(l.published_at).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }) : "";
    const list = H.el("div", { class: "kb-em-list", "data-id": l.id },
      H.el("h3", {}, l.title, H.el("span", { class: "small" }, "  " + (l.unit || "") + " " + when + " 发布")));
    for (const it of l.items || []) {
      const answer = KB.plain(it.answer);
      const row = H.el("div", { class: "kb-em-item" }, H.el("div", { class: "kb-q" }, "问：" + it.question),
        H.el("div", { class: "kb-a" }, "答：" + answer));
      if (fillable) {
        row.title = "点击填入";
        row.addEventListener("click", () => { if (KB.fill(answer)) H.toast("已填入：" + it.question); });
      }
      list.appendChild(row);
    }
    box.appendChild(list);
  }
};

// The seat's console: its socket and current contact, and the knowledge card's controls.
KB.wire = function (socket, contact) {
  KB.socket = socket;
  KB.contact = contact;
  H.$("kb-search").addEventListener("submit", (ev) => { ev.preventDefault(); KB.search(H.$("kb-q").value); });
  H.$("kb-help").addEventListener("submit", (ev) => { ev.preventDefault(); KB.askUnit(); });
  for (const id of ["chat-text", "wo-content"]) H.$(id).addEventListener("focus", () => { KB.lastField = id; });
  for (const id of ["wo-title", "wo-content"]) H.$(id).addEventListener("input", KB.orderChanged);
};

window.KB = KB;
