// Work-order pages over /api/workorders. Text goes in with textContent only, never innerHTML.
"use strict";
const STATES = { intake: "受理中", pending_dispatch: "待派单", dispatched: "待签收", return_requested: "退回待审",
  handling: "办理中", extension_requested: "延期待审", leader_review: "待领导审核", replied: "答复待审核", callback: "待回访", visited: "已回访",
  closed: "已办结", archived: "已归档", answered: "即时办结", transferred: "已转紧急热线", not_accepted: "不予受理", merged: "已并单" };
const ACTIONS = {
  classify: ["分类", ["type", "urgency", "category", "source_level"]], answer_now: ["即时办结", ["note"]],
  transfer_emergency: ["转紧急热线", ["target"]], not_accept: ["不予受理", ["route", "note"]], submit: ["提交派单", []],
  merge: ["并单", ["into:int"]], dispatch: ["派单", ["lead_unit", "co_units:list", "on_site:bool", "set_precedent:bool"]], sign: ["签收", []],
  request_return: ["申请退回", ["reason", "basis", "suggested_unit"]], approve_return: ["同意退回", ["reason"]],
  reject_return: ["驳回退回", ["reason"]], feedback: ["反馈进展", ["kind", "text"]], co_reply: ["提交协办意见", ["text"]],
  apply_extension: ["申请延期", ["days:num", "reason"]], approve_extension: ["同意延期", ["reason"]],
  reject_extension: ["驳回延期", ["reason"]], reply: ["答复", ["handling", "resolution", "contact"]],
  submit_reply: ["提交领导审核", ["handling", "resolution", "contact"]], leader_approve: ["领导审核通过", ["opinion"]],
  leader_return: ["退回承办人修改", ["reason"]],
  approve_reply: ["审核通过", ["elements_complete:bool", "evidence_matches:bool", "measures_clear:bool"]],
  reject_reply: ["退回补充", ["reason"]], record_callback: ["记录回访", ["reached:bool", "satisfaction", "resolved:bool", "reasonable:bool", "note"]],
  close: ["办结", []], rehandle: ["重办", ["reason"]], final_answer: ["标记最终答复", ["reason"]],
  mark_unclosed: ["标记未闭环", ["reason"]], supervise: ["督办", ["reason", "escalate:bool"]], archive: ["归档", []],
};
const FIELD_LABELS = { type: "类型(consult/help/suggestion/complaint/report)", urgency: "紧急程度(general/urgent/difficult/complex/special/special_urgent)",
  category: "类别", source_level: "来源层级(city/nantong/provincial/national)", note: "说明", target: "号码(110/119/120/122)",
  route: "法定途径(litigation/arbitration/petition/disclosure/administrative_review/other)", into: "并入工单号",
  lead_unit: "主办单位代码", co_units: "协办单位代码(逗号分隔)", set_precedent: "设为同类事项先例", on_site: "须30分钟到场（一级联动单位）", reason: "理由", basis: "依据",
  suggested_unit: "建议承办单位", kind: "反馈类型(initial/progress)", text: "内容", days: "延期工作日数",
  handling: "办理情况", resolution: "解决情况", contact: "联系情况", elements_complete: "要素齐全", evidence_matches: "佐证一致",
  measures_clear: "措施明确", reached: "已联系上", satisfaction: "满意度(satisfied/basically_satisfied/unsatisfied)",
  resolved: "已解决", reasonable: "诉求合理", escalate: "提级", opinion: "审核意见" };
const HISTORY_ACTIONS = { deadline_warning: "期限预警", deadline_escalation: "超期升级", submit_reply: "提交领导审核",
  leader_approve: "领导审核通过", leader_return: "领导退回" };
const REPLY_PARTS = { handling: "办理情况", resolution: "解决情况", contact: "联系情况" };
const DELIVERY_STATES = { waiting: "发送中", sent: "已发送", failed: "发送失败" };
let current = null;

const $ = (id) => document.getElementById(id);
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin", headers: { "Content-Type": "application/json" } }, opts || {}));
  const body = (r.headers.get("Content-Type") || "").includes("json") ? await r.json() : {};
  if (r.status === 401) { show(false); throw new Error(body.detail || "请先登录"); }
  if (!r.ok) throw new Error(body.detail || r.statusText);
  return body;
}
function show(loggedIn) { $("login").classList.toggle("hidden", loggedIn); $("main").classList.toggle("hidden", !loggedIn); }
function fmtLeft(due) {
  if (!due) return "";
  const s = due.working_seconds_left, h = Math.floor(Math.abs(s) / 3600), m = Math.floor((Math.abs(s) % 3600) / 60);
  return (s < 0 ? "已超期 " : "") + h + " 小时 " + m + " 分" + (due.provisional ? "（临时期限）" : "");
}
async function loadList() {
  const state = $("state-filter").value;
  const data = await api("/api/workorders" + (state ? "?state=" + encodeURIComponent(state) : ""));
  const tbody = $("rows"); tbody.replaceChildren();
  for (const o of data.items) {
    const tr = el("tr", null, { class: o.due ? o.due.status : "" });
    const a = el("a", o.id, { href: "#" + o.id }); a.addEventListener("click", () => loadDetail(o.id));
    const td = el("td"); td.append(a); tr.append(td);
    for (const v of [o.title, o.state_label, o.type || "", o.lead_unit || "", o.due ? o.due.due : "", fmtLeft(o.due)]) tr.append(el("td", v));
    tbody.append(tr);
  }
}
function actionForm(name) {
  const [label, fields] = ACTIONS[name];
  const fs = el("fieldset"); fs.append(el("legend", label));
  const inputs = {};
  for (const f of fields) {
    const [key, kind] = f.split(":");
    const lab = el("label", FIELD_LABELS[key] || key);
    const input = kind === "bool" ? el("input", null, { type: "checkbox" }) : key === "text" || key === "handling" || key === "resolution" || key === "contact" || key === "reason" ? el("textarea") : el("input");
    lab.append(" ", input); fs.append(lab); inputs[key] = [input, kind];
  }
  const btn = el("button", label);
  btn.addEventListener("click", async () => {
    const body = { version: current.version };
    for (const [key, [input, kind]] of Object.entries(inputs)) {
      if (kind === "bool") body[key] = input.checked;
      else if (input.value === "") continue;
      else if (kind === "int" || kind === "num") body[key] = Number(input.value);
      else if (kind === "list") body[key] = input.value.split(",").map((s) => s.trim()).filter(Boolean);
      else body[key] = input.value;
    }
    try { await api(`/api/workorders/${current.id}/actions/${name}`, { method: "POST", body: JSON.stringify(body) }); $("d-error").textContent = ""; await loadDetail(current.id); await loadList(); }
    catch (e) { $("d-error").textContent = e.message; }
  });
  fs.append(btn);
  return fs;
}
async function loadDetail(id) {
  const o = await api("/api/workorders/" + id);
  current = o;
  $("detail").classList.remove("hidden");
  $("d-title").textContent = `#${o.id} ${o.title}（${o.state_label}）`;
  $("d-meta").textContent = `来源 ${o.channel} · 群众 ${o.citizen_name || ""} ${o.citizen_phone || ""} · 地址 ${o.address || ""} · 类别 ${o.category || ""} · 版本 ${o.version}`;
  $("d-content").textContent = o.content;
  const dl = $("d-deadlines"); dl.replaceChildren();
  for (const [k, v] of Object.entries(o.deadlines || {})) if (v !== null && v !== false) dl.append(el("li", `${k}: ${v}`));
  showReply(o);
  const acts = $("d-actions"); acts.replaceChildren();
  for (const a of o.allowed_actions) if (ACTIONS[a]) acts.append(actionForm(a));
  const atts = $("d-atts"); atts.replaceChildren();
  for (const a of o.attachments) { const li = el("li"); li.append(el("a", `${a.filename}（${a.kind}，${a.size} 字节）`, { href: a.url })); atts.append(li); }
  const h = $("d-history"); h.replaceChildren();
  for (const e of o.history) { const tr = el("tr"); for (const v of [e.at, e.actor, HISTORY_ACTIONS[e.action] || e.action, `${STATES[e.from] || e.from} → ${STATES[e.to] || e.to}`, e.reason || (e.data && e.data.opinion) || ""]) tr.append(el("td", v)); h.append(tr); }
}
// The reply with the leader's approval (答复须经分管领导审核): why it needs the leader, who approved it, when, with what opinion.
function showReply(o) {
  const box = $("d-reply"); box.replaceChildren();
  const ap = o.approval;
  if (ap && ap.required) box.append(el("p", `本工单答复须经分管领导审核（${ap.label}）`, { class: o.state === "leader_review" ? "warning" : "muted" }));
  if (o.reply) for (const [k, label] of Object.entries(REPLY_PARTS)) if (o.reply[k]) box.append(el("p", `${label}：${o.reply[k]}`));
  if (o.reply && o.reply.by) box.append(el("p", `答复人 ${o.reply.by} · ${o.reply.at || ""}`, { class: "muted" }));
  const done = ap && ap.approval;
  if (done) box.append(el("p", `领导审核：${done.by} 于 ${done.at} 审核通过${done.opinion ? "，意见：" + done.opinion : ""}`));
  else if (o.state === "leader_review") box.append(el("p", "待领导审核：答复尚未报送平台", { class: "warning" }));
  box.classList.toggle("hidden", !box.childElementCount);
}
$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try { await api("/api/login", { method: "POST", body: JSON.stringify({ username: f.get("username"), password: f.get("password") }) }); $("login-error").textContent = ""; await start(); }
  catch (e) { $("login-error").textContent = e.message; }
});
$("upload").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await fetch(`/api/workorders/${current.id}/attachments`, { method: "POST", body: new FormData(ev.target), credentials: "same-origin" });
  const body = await r.json();
  $("d-error").textContent = r.ok ? "" : body.detail;
  if (r.ok) await loadDetail(current.id);
});
$("logout").addEventListener("click", async (ev) => { ev.preventDefault(); await fetch("/api/logout", { method: "POST" }); show(false); });
$("reload").addEventListener("click", () => { loadList(); loadNotices(); });
$("state-filter").addEventListener("change", loadList);
for (const [k, v] of Object.entries(STATES)) $("state-filter").append(el("option", v, { value: k }));
async function loadNotices() {
  let data;
  try { data = await api("/api/workorders/notices?limit=50"); } catch (e) { $("notices").classList.add("hidden"); return; }
  $("notices").classList.remove("hidden");
  $("n-unread").textContent = data.unread;
  const tbody = $("n-rows"); tbody.replaceChildren();
  for (const n of data.notices) {
    const tr = el("tr", null, { class: n.read ? "" : "unread" });
    const a = el("a", n.order_id, { href: "#" + n.order_id }); a.addEventListener("click", () => loadDetail(n.order_id));
    const sms = n.deliveries.map((d) => `${d.target} ${DELIVERY_STATES[d.state] || d.state}${d.state === "failed" ? "：" + d.error : ""}`).join("；");
    const cells = [el("td", n.created_at), el("td", n.kind_label), el("td"), el("td", n.body), el("td", sms), el("td")];
    cells[2].append(a);
    if (!n.read) {
      const b = el("button", "标为已读");
      b.addEventListener("click", async () => { await api(`/api/workorders/notices/${n.id}/read`, { method: "POST" }); await loadNotices(); });
      cells[5].append(b);
    }
    tr.append(...cells); tbody.append(tr);
  }
}
async function start() {
  try { const me = await api("/api/me"); $("who").textContent = `${me.display_name}（${me.role}${me.unit ? " · " + me.unit : ""}${me.unit_leader ? " · 分管领导" : ""}）`; show(true); await loadList(); await loadNotices(); }
  catch (e) { show(false); }
}
start();
