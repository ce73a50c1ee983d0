"""The shift manager's page (排班与现场调度), server-rendered in Chinese with an inline SVG chart.

Actions (surge, end of surge) go through the JSON API from a small same-origin script, so the page
itself only reads. All user text is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline import auth
from scheduling.http import CHINA, MANAGERS, SERVICE, compute, intraday_for, parse_day, staffing_inputs
from scheduling.services import day_chart, load_actions

STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
SEAT_STATES = {"ready": "空闲", "reserved": "振铃", "busy": "通话", "wrap_up": "话后", "not_ready": "示忙"}
SURGE_STATES = {"idle": "未启用", "active": "启用中", "ending": "收尾中（通话结束后退出）"}


def e(value: Any) -> str:
    return html.escape(str(value))


def chart_svg(required: list[int], scheduled: list[int], interval_minutes: int = 30) -> str:
    """Bars: scheduled seats on seat; red steps: required seats; x axis in hours."""
    n = max(len(required), len(scheduled), 1)
    top = max([*required, *scheduled, 1])
    width, height, left, bottom = 720, 220, 36, 24
    bar = (width - left) / n
    scale = (height - bottom - 10) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="排班与需求对比">'
    ]
    for i, v in enumerate(scheduled):
        short = i < len(required) and v < required[i]
        color = "#e07b39" if short else "#3a7bd5"
        h = v * scale
        parts.append(
            f'<rect x="{left + i * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar - 1:.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{_clock(i, interval_minutes)} 排班 {v}</title></rect>'
        )
    points = []
    for i, v in enumerate(required):
        y = height - bottom - v * scale
        points.append(f"{left + i * bar:.1f},{y:.1f} {left + (i + 1) * bar:.1f},{y:.1f}")
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#d62728" stroke-width="2"/>')
    for hour in range(0, 25, 3):
        x = left + hour * 60 / interval_minutes * bar
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">{hour:02d}</text>')
    parts.append(
        f'<text x="2" y="14" font-size="11">{top}</text><text x="2" y="{height - bottom}" font-size="11">0</text></svg>'
    )
    return "".join(parts)


def _local(at: dt.datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC
    return aware.astimezone(CHINA).strftime("%m-%d %H:%M")


def _clock(i: int, minutes: int) -> str:
    m = i * minutes
    return f"{m // 60:02d}:{m % 60:02d}"


async def _staffing_block(request: web.Request) -> str:
    query = request.query
    if not query.get("arrivals_per_hour"):
        return ""
    try:
        r = await compute(request, staffing_inputs(query))
    except (web.HTTPBadRequest, web.HTTPServiceUnavailable) as exc:
        return f'<p class="err">输入有误：{e(exc.text or "")}</p>'
    asa = "无法接通（座席不足）" if not math.isfinite(r.asa_s) else f"{r.asa_s:.1f} 秒"
    rows = [
        ("在线座席", r.seats),
        (f"排班座席（含 {r.shrinkage:.0%} 损耗）", r.scheduled_seats),
        (f"{r.within_s:g} 秒服务水平", f"{r.service_level:.2%}"),
        ("平均应答速度", asa),
        ("座席占用率", f"{r.occupancy:.1%}"),
    ]
    if r.abandonment is not None:
        rows.append(("预计放弃率", f"{r.abandonment:.2%}"))
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    model = "Erlang A（含放弃）" if r.model == "erlang_a" else "Erlang C"
    return f"<table><caption>测算结果：{model}</caption>{body}</table>"


async def _intraday_block(request: web.Request) -> str:
    try:
        rows, alerts = await intraday_for(request)
    except web.HTTPBadRequest as exc:
        return f'<p class="err">当日实时：{e(exc.text or "")}</p>'
    now = next((r.interval for r in rows if r.logged_in is not None and r.actual is not None), 0)
    current = max((r.interval for r in rows if r.logged_in is not None), default=now)
    shown = [r for r in rows if current - 2 <= r.interval <= current + 4]
    body = "".join(
        f"<tr><td>{_clock(r.interval, 30)}</td><td>{r.planned:.0f}</td><td>{r.expected:.0f}</td>"
        f"<td>{r.required}</td><td>{r.scheduled}</td><td>{'' if r.logged_in is None else r.logged_in}</td>"
        f"<td>{'' if r.ready is None else r.ready}</td><td>{r.projected_service_level:.1%}</td></tr>"
        for r in shown
    )
    warn = "".join(f'<p class="err">⚠ {e(a.message)}</p>' for a in alerts)
    return (
        "<h2>当日实时：需求 / 排班 / 登录 / 就绪</h2>"
        + warn
        + "<table><tr><th>时段</th><th>预测来话</th><th>修正来话</th>"
        "<th>需求座席</th><th>排班在席</th><th>已登录</th><th>就绪</th><th>预计接通率</th></tr>" + body + "</table>"
    )


@auth.require_roles(*MANAGERS)
async def page(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    q = request.query
    day = parse_day(q.get("day"))
    roster = q.get("roster", "")
    sections = [f"<h1>排班与现场调度</h1><p>值班长：{e(request[auth.ACCOUNT].username)}</p>"]
    desk = service.desk
    live = []
    try:
        states = service.acd.core.seats_by_state()
        live.append("、".join(f"{SEAT_STATES.get(k, k)} {v}" for k, v in states.items() if k != "logged_out"))
        queues = service.acd.core.live_stats()["queues"]
        live.append(
            "；".join(f"{e(n)} 排队 {v['waiting']}（最长 {v['longest_wait_s']:.0f} 秒）" for n, v in queues.items())
        )
    except Exception:  # the page must render even when the ACD is not running
        live.append("话务引擎未运行")
    sections.append(
        f'<h2>实时状态</h2><p>应急扩容：<b id="surge">{e(SURGE_STATES.get(desk.surge_state, desk.surge_state))}</b>'
        f"，云座席 {len(desk.surge_seats)} 名</p><p>{e(live[0])}</p><p>{e(live[1]) if len(live) > 1 else ''}</p>"
    )
    sections.append(
        '<h2>应急扩容（启用云座席）</h2><form id="surge-form"><label>原因 <input name="why" required></label> '
        '<label>云座席（工号:外线号码，逗号分隔）<input name="seats" placeholder="9001:13900000001"></label> '
        '<label>技能 <input name="skill" value="general"></label> '
        '<label>时长（分钟，空=直到排队清空）<input name="minutes" type="number" min="1"></label> '
        '<button type="submit">启用</button> <button type="button" id="end-surge">结束扩容</button></form>'
        '<p id="msg" role="status"></p>'
    )
    form_values = {k: q.get(k, "") for k in ("arrivals_per_hour", "aht", "target", "within", "patience", "shrinkage")}
    inputs = "".join(
        f'<label>{label} <input name="{k}" value="{e(form_values[k])}"></label> '
        for k, label in (
            ("arrivals_per_hour", "每小时来话"),
            ("aht", "平均处理时长(秒)"),
            ("target", "目标(如0.95)"),
            ("within", "接通时限(秒)"),
            ("patience", "平均耐心(秒,可空)"),
            ("shrinkage", "损耗率(如0.3)"),
        )
    )
    sections.append(
        f'<h2>座席测算</h2><form method="get">{inputs}<button>测算</button></form>{await _staffing_block(request)}'
    )
    if roster:
        if service.sessions is None:
            sections.append("<p>未连接数据库，无法读取排班。</p>")
        else:
            lines = await day_chart(service.sessions, roster, day, CHINA)
            if not lines:
                sections.append(f"<p>排班 {e(roster)} 在 {day} 没有数据。</p>")
            for group, line in sorted(lines.items()):
                short = sum(1 for r, s in zip(line["required"], line["scheduled"], strict=False) if s < r)
                sections.append(
                    f"<h2>{e(roster)} · {day} · {e(group)}：排班（柱）与需求（红线）</h2>"
                    f"{chart_svg(line['required'], line['scheduled'])}<p>缺员时段：{short} 个</p>"
                )
    if roster and day == dt.datetime.now(CHINA).date():
        sections.append(await _intraday_block(request))
    if service.sessions is not None:
        rows = await load_actions(service.sessions, dt.datetime.now(dt.UTC) - dt.timedelta(hours=24))
        body = "".join(
            f"<tr><td>{e(_local(r.at))}</td><td>{e(r.who)}</td><td>{e(r.kind)}</td><td>{e(r.why)}</td></tr>"
            for r in reversed(rows[-50:])
        )
        sections.append(
            f"<h2>操作记录（24 小时）</h2><table><tr><th>时间</th><th>操作人</th><th>操作</th>"
            f"<th>原因</th></tr>{body}</table>"
        )
    doc = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>排班与现场调度</title>'
        "<style>body{font-family:sans-serif;margin:1.5em;max-width:1000px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.err{color:#b00}label{margin-right:8px}"
        "</style></head><body>" + "".join(sections) + '<script src="/scheduling/app.js"></script></body></html>'
    )
    return web.Response(text=doc, content_type="text/html", headers=HEADERS)


async def script(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "app.js", headers={"Content-Type": "text/javascript; charset=utf-8"})


def add_pages(app: web.Application) -> None:
    app.router.add_get("/scheduling", page)
    app.router.add_get("/scheduling/app.js", script)
