"""Chinese pages: the supervisors' ledger (台账) with the closure measure and overdue letters, and a
unit's own supervisions and letters (unread first). Server-rendered; all user text is escaped;
the few actions are forms posted to the JSON API by static/supervision.js."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from aiohttp import web

from hotline import auth
from supervision.core.measure import ClosureOptions
from supervision.core.model import LETTER_STATE_LABELS, LEVEL_LABELS, Actor, LetterState, Level, State
from supervision.http import LETTERS, SERVICE, ledger_args
from supervision.kpi import closure_html
from supervision.services import LedgerRow, utc

STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STYLE = """body{font-family:'WenQuanYi Micro Hei',sans-serif;margin:1.5em} table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top} .late{color:#c00;font-weight:bold}
.unread{font-weight:bold} .opts{color:#555;font-size:13px} .msg{color:#c00} form.inline{display:inline}"""
e = html.escape
OPEN_FORM = """<details><summary>发起督办</summary>
<form data-api="/api/supervision/supervisions" data-ints="order_ids" data-numbers="working_days">
工单号 <input name="order_ids" placeholder="如 12, 15" required> 事项 <input name="matter" placeholder="多件工单时必填">
级别 <select name="level"><option value="general">一般</option><option value="key">重点</option>
<option value="joint">双督办</option></select>
期限 <input name="working_days" type="number" min="0.5" max="60" step="0.5" value="3" required> 个工作日
单位 <input name="unit" placeholder="默认为工单承办单位"><br>
督办要求 <textarea name="instructions" rows="2" cols="60" required></textarea>
<button>发起</button> <span class="msg"></span></form></details>"""
LETTER_FORMS = """<details><summary>手工发函</summary>
<form data-api="/api/supervision/letters" data-ints="order_ids" data-numbers="working_days">
单位代码 <input name="unit" required> 工单号 <input name="order_ids" placeholder="可空">
期限 <input name="working_days" type="number" min="0.5" max="60" step="0.5" placeholder="默认"> 个工作日<br>
事实 <textarea name="facts" rows="2" cols="60" required></textarea><br>
要求 <textarea name="request" rows="2" cols="60" required></textarea>
<button>发函</button> <span class="msg"></span></form></details>
<details><summary>按规则生成</summary><form data-api="/api/supervision/letters/run" data-lists="rules">
{rules}<button>生成</button> <span class="msg"></span></form></details>"""
RULE_LABELS = {"overdue": "工单超期", "returned": "多次退回", "low_satisfaction": "不满意集中"}


def _rule_boxes(names: list[str]) -> str:
    return "".join(
        f'<label><input type="checkbox" name="rules" value="{e(n)}"> {e(RULE_LABELS.get(n, n))}</label> ' for n in names
    )


async def _actor(request: web.Request) -> Actor:
    try:
        acc = await auth.authenticate(request)
    except web.HTTPUnauthorized:
        raise web.HTTPFound("/workorders/#login") from None
    if acc.role not in ("supervisor", "admin", "unit"):
        raise web.HTTPForbidden(text="督办台账仅限督办人员和成员单位")
    return Actor(acc.username, acc.role, acc.unit_id)


def _page(title: str, body: str) -> web.Response:
    text = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{STYLE}</style></head><body><h1>{e(title)}</h1>
<p><a href="/supervision/">督办台账</a> · <a href="/supervision/letters">提醒函</a></p>{body}
<script src="/supervision/supervision.js"></script></body></html>"""
    return web.Response(text=text, content_type="text/html", headers=HEADERS)


def _days(row: LedgerRow) -> str:
    d = row.left.days
    mark = "（暂定）" if row.left.provisional else ""
    if row.left.overdue:
        return f'<span class="late">超期 {abs(d):g} 个工作日{mark}</span>'
    return f"剩余 {d:g} 个工作日{mark}"


def _local(moment: dt.datetime, tz: dt.tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


async def ledger_page(request: web.Request) -> web.Response:
    actor = await _actor(request)
    svc = request.app[SERVICE]
    tz = svc.orders.calendar().tz
    q = request.query
    try:
        args = ledger_args(request, tz)
    except web.HTTPBadRequest:
        args = {"state": State.OPEN}
    rows = await svc.ledger(actor, **args)
    state = args["state"]
    out = [
        f"""<form method="get">状态 <select name="state">{
            "".join(
                f'<option value="{s.value}" {"selected" if s is state else ""}>{e(lbl)}</option>'
                for s, lbl in ((State.OPEN, "督办中"), (State.CLOSED, "已销号"), (State.CANCELLED, "已撤销"))
            )
        }</select>
级别 <select name="level"><option value="">全部</option>{
            "".join(
                f'<option value="{lv.value}" {"selected" if q.get("level") == lv.value else ""}>{e(LEVEL_LABELS[lv])}</option>'
                for lv in Level
            )
        }</select>
单位 <input name="unit" value="{e(q.get("unit", "") if actor.supervises else actor.unit or "")}" {
            "" if actor.supervises else "readonly"
        }>
<label><input type="checkbox" name="overdue" value="1" {"checked" if args.get("overdue_only") else ""}> 仅超期</label>
销号期间 <input type="date" name="from" value="{e(q.get("from", ""))}"> 至 <input type="date" name="to" value="{
            e(q.get("to", ""))
        }">
<button>筛选</button></form>"""
    ]
    if actor.supervises:
        out.append(OPEN_FORM)
    out.append(
        "<table><tr><th>编号</th><th>工单</th><th>单位</th><th>级别</th><th>督办期限</th><th>剩余/超期</th>"
        "<th>最近跟进</th><th>办理</th></tr>"
    )
    for r in rows:
        s = r.supervision
        orders = "<br>".join(f"{o['id']} {e(o['title'])}" for o in r.orders)
        if s.matter:
            orders = f"<b>{e(s.matter)}</b><br>{orders}"
        last = f"{_local(r.last.at, tz)} {e(r.last.actor)}：{e(r.last.text)}" if r.last else "—"
        forms = ""
        if s.state is State.OPEN:
            forms = (
                f'<form class="inline" data-api="/api/supervision/supervisions/{s.id}/follow_up">'
                '<input name="text" placeholder="跟进情况" required><button>跟进</button><span class="msg"></span></form>'
            )
            if actor.supervises:
                forms += (
                    f'<form class="inline" data-api="/api/supervision/supervisions/{s.id}/close">'
                    '<select name="result"><option value="resolved">办结</option><option value="unresolved">未办结</option>'
                    '</select><input name="reason" placeholder="原因（未办结必填）"><button>销号</button>'
                    '<span class="msg"></span></form>'
                )
        elif s.result is not None:
            forms = e(f"{'办结' if s.result.value == 'resolved' else '未办结'} {s.reason}")
        out.append(
            f"<tr><td>{s.id}</td><td>{orders}</td><td>{e(s.unit)}</td><td>{e(LEVEL_LABELS[s.level])}</td>"
            f"<td>{_local(s.deadline, tz)}</td><td>{_days(r)}</td><td>{last}</td><td>{forms}</td></tr>"
        )
    out.append(f"</table><p>共 {len(rows)} 件。</p>")
    if actor.supervises:
        out.append(await _measure(request))
        letters = request.app[LETTERS]
        late = await letters.list_for(actor, overdue=True)
        now = utc(letters.clock())
        out.append("<h2>超期未反馈的提醒函</h2><table><tr><th>文号</th><th>单位</th><th>期限</th><th>状态</th></tr>")
        for row in late:
            state_label = LETTER_STATE_LABELS[LetterState(row.state)]
            out.append(
                f'<tr class="late"><td><a href="/api/supervision/letters/{row.id}/html">{e(row.number)}</a></td>'
                f"<td>{e(row.unit_name)}</td><td>{_local(utc(row.deadline), tz)}</td><td>{e(state_label)}</td></tr>"
            )
        out.append(f"</table><p class=opts>统计时点 {_local(now, tz)}</p>")
    return _page("督办台账", "\n".join(out))


async def _measure(request: web.Request) -> str:
    """The 督办 closure measure for the month so far, or the period asked, with its options."""
    svc = request.app[SERVICE]
    q = request.query
    tz = svc.orders.calendar().tz
    today = utc(svc.clock()).astimezone(tz).date()
    start_d = q.get("from") or today.replace(day=1).isoformat()
    end_d = q.get("to") or today.isoformat()
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(start_d), dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(dt.date.fromisoformat(end_d) + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    except ValueError:
        return "<p class=msg>期间有误</p>"
    rate = await svc.closure(start, end, ClosureOptions(unit=q.get("unit") or None))
    return closure_html(rate, f"督办按期办结率（{start_d} 至 {end_d}）")


async def letters_page(request: web.Request) -> web.Response:
    actor = await _actor(request)
    letters = request.app[LETTERS]
    tz = letters.orders.calendar().tz
    rows = await letters.list_for(actor, request.query.get("unit") or None)
    now = utc(letters.clock())
    out = [LETTER_FORMS.replace("{rules}", _rule_boxes(list(letters.rules()))) if actor.supervises else ""]
    out.append("<table><tr><th>文号</th><th>单位</th><th>事由</th><th>期限</th><th>状态</th><th>办理</th></tr>")
    for row in rows:
        state = LetterState(row.state)
        late = state is not LetterState.ANSWERED and now > utc(row.deadline)
        cls = "unread" if state is LetterState.SENT else ""
        action = ""
        if actor.role == "unit" and state in (LetterState.SENT, LetterState.READ):
            action = (
                f'<form class="inline" data-api="/api/supervision/letters/{row.id}/acknowledge">'
                '<button>签收</button><span class="msg"></span></form>'
            )
        elif actor.role == "unit" and state is LetterState.ACKNOWLEDGED:
            action = (
                f'<form class="inline" data-api="/api/supervision/letters/{row.id}/answer">'
                '<input name="answer" placeholder="办理情况" required><button>反馈</button><span class="msg"></span></form>'
            )
        elif row.answer:
            action = e(row.answer)
        out.append(
            f'<tr class="{cls}"><td><a href="/api/supervision/letters/{row.id}/html">{e(row.number)}</a> '
            f'<a href="/api/supervision/letters/{row.id}/pdf">PDF</a></td><td>{e(row.unit_name)}</td>'
            f"<td>{e(row.facts[:80])}</td><td{' class=late' if late else ''}>{_local(utc(row.deadline), tz)}"
            f"{'（已超期）' if late else ''}</td><td>{e(LETTER_STATE_LABELS[state])}</td><td>{action}</td></tr>"
        )
    out.append(f"</table><p>共 {len(rows)} 份，未读在前。</p>")
    return _page("提醒函", "\n".join(out))


async def script(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "supervision.js", headers={"Content-Type": "text/javascript; charset=utf-8"})


def add_pages(app: web.Application) -> None:
    app.router.add_get("/supervision/", ledger_page)
    app.router.add_get("/supervision/letters", letters_page)
    app.router.add_get("/supervision/supervision.js", script)
