"""HTTP API under /api/reports and the reports page (documented in reports/openapi.py).

Supervisors, managers and administrators only. A report is given as JSON, or drawn as an HTML
page, a PDF or XLSX (``?format=``) from its stored figures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiohttp import web

from hotline import auth, offload
from hotline.auth import api_error as _err
from hotline.auth import json_object as _json
from reports import quality_page, render
from reports.services import NotFound, ReportService, day_bounds, month_bounds
from workorders.api import parse_period

SERVICE = web.AppKey("reports", ReportService)
READERS = ("supervisor", "manager", "admin")
FORMATS = ("json", "html", "pdf", "xlsx")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _svc(request: web.Request) -> ReportService:
    return request.app[SERVICE]


def _who(request: web.Request) -> str:
    return str(request[auth.ACCOUNT].username)


async def respond(request: web.Request, data: dict[str, Any], name: str) -> web.Response:
    fmt = request.query.get("format", "json")
    if fmt not in FORMATS:
        raise _err(web.HTTPBadRequest, "bad request", f"format 须为 {'、'.join(FORMATS)} 之一")
    if fmt == "json":
        return web.json_response(data)
    if fmt == "html":
        return web.Response(text=render.html(data), content_type="text/html", charset="utf-8")
    if fmt == "pdf":  # on the process's one PDF thread, shared with the 提醒函; 503 when it is full
        body = await offload.pdf("reports", render.pdf, data)
    else:
        body = await asyncio.to_thread(render.xlsx, data)  # openpyxl: no PDF lane needed
    ctype = "application/pdf" if fmt == "pdf" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(
        body=body, content_type=ctype, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    )


# A period's look-back (60 days for the KPIs, a week for duplicates) and its end must stay within
# what a datetime holds: year 0 or 9999-12-31 was a 500 (the OpenAPI fuzzer found "0000-08").
YEARS = range(2000, 2100)


def _day(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise _err(web.HTTPBadRequest, "bad request", f"日期 {text!r} 须为 YYYY-MM-DD") from None
    if day.year not in YEARS:
        raise _err(web.HTTPBadRequest, "bad request", f"日期 {text!r} 须在 2000 至 2099 年之间")
    return day


def _month(text: str) -> tuple[int, int]:
    m = _MONTH.match(text)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) not in YEARS:
        raise _err(web.HTTPBadRequest, "bad request", f"月份 {text!r} 须为 YYYY-MM（2000 至 2099 年）")
    return int(m.group(1)), int(m.group(2))


async def _kept_or_made(
    request: web.Request, kind: str, key: str, end: dt.datetime, make: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """A stored report; one not yet made is made now if its period is over (a period still
    running has no report to keep: POST makes a preliminary one)."""
    svc = _svc(request)
    kept = await svc.stored(kind, key)
    if kept is not None:
        return kept
    if svc.now() < end:
        raise _err(web.HTTPNotFound, "not found", f"{key} 尚未结束，暂无报告；可用 POST 生成临时报告")
    return await make()


@auth.require_roles(*READERS)
async def get_daily(request: web.Request) -> web.Response:
    svc, day = _svc(request), _day(request.match_info["date"])
    _, end = day_bounds(day, svc.tz)
    data = await _kept_or_made(request, "daily", day.isoformat(), end, lambda: svc.daily(day, by=_who(request)))
    return await respond(request, data, f"daily-{day.isoformat()}")


@auth.require_roles(*READERS)
async def make_daily(request: web.Request) -> web.Response:
    body = await _json(request)
    day = _day(str(body.get("date", "")))
    data = await _svc(request).daily(day, replace=bool(body.get("replace", True)), by=_who(request))
    return web.json_response(data, status=201)


@auth.require_roles(*READERS)
async def get_monthly(request: web.Request) -> web.Response:
    svc = _svc(request)
    year, month = _month(request.match_info["month"])
    _, end = month_bounds(year, month, svc.tz)
    key = f"{year:04d}-{month:02d}"
    data = await _kept_or_made(request, "monthly", key, end, lambda: svc.monthly(year, month, by=_who(request)))
    return await respond(request, data, f"monthly-{key}")


@auth.require_roles(*READERS)
async def make_monthly(request: web.Request) -> web.Response:
    body = await _json(request)
    year, month = _month(str(body.get("month", "")))
    data = await _svc(request).monthly(year, month, replace=bool(body.get("replace", True)), by=_who(request))
    return web.json_response(data, status=201)


@auth.require_roles(*READERS)
async def get_topic(request: web.Request) -> web.Response:
    svc, q = _svc(request), request.query
    try:
        start, end = parse_period(q.get("from", ""), q.get("to", ""), svc.tz)
    except ValueError as exc:
        raise _err(web.HTTPBadRequest, "bad request", str(exc)) from None
    if end - start > dt.timedelta(days=366):
        raise _err(web.HTTPBadRequest, "bad request", "专题报告的区间不得超过一年")
    category, area = q.get("category") or None, q.get("area") or None
    _, data = await svc.topic(start, end, category, area, by=_who(request))
    return await respond(request, data, "topic")


def _quality_day(request: web.Request, text: str | None) -> dt.date:
    """The date asked for (years 2000-2099, as every report's); yesterday (local) when none is given."""
    if not text:
        return _svc(request).now().date() - dt.timedelta(days=1)
    return _day(text)


@auth.require_roles(*READERS)
async def get_quality(request: web.Request) -> web.Response:
    """A day's data quality findings: stored, or checked now once the day is over."""
    svc = _svc(request)
    day = _quality_day(request, request.query.get("date"))
    kept = await svc.quality.stored(day)
    if kept is None:
        _, end = day_bounds(day, svc.tz)
        if svc.now() < end:
            raise _err(web.HTTPNotFound, "not found", f"{day} 尚未结束，暂无质检结果；可用 POST 立即检查")
        kept = await svc.quality.run(day, by=_who(request))
    return web.json_response(kept)


@auth.require_roles(*READERS)
async def make_quality(request: web.Request) -> web.Response:
    body = await _json(request)
    day = _quality_day(request, str(body.get("date") or "") or None)
    data = await _svc(request).quality.run(day, replace=bool(body.get("replace", True)), by=_who(request))
    return web.json_response(data, status=201)


@auth.require_roles(*READERS)
async def list_reports(request: web.Request) -> web.Response:
    kind = request.query.get("kind")
    return web.json_response({"reports": await _svc(request).listing(kind)})


@auth.require_roles(*READERS)
async def list_alerts(request: web.Request) -> web.Response:
    return web.json_response({"alerts": await _svc(request).alerts()})


@auth.require_roles(*READERS)
async def ack_alert(request: web.Request) -> web.Response:
    try:
        alert_id = int(request.match_info["id"])
        if not 1 <= alert_id <= 2**31 - 1:  # beyond the column's integer: no such alert, not a database error
            raise NotFound(str(alert_id))
        return web.json_response(await _svc(request).acknowledge(alert_id, _who(request)))
    except (ValueError, NotFound):
        raise _err(web.HTTPNotFound, "not found", "无此预警") from None


@auth.require_roles(*READERS)
async def page(request: web.Request) -> web.Response:
    """The reports page: stored reports (each in every format), spike alerts, and forms to ask."""
    svc = _svc(request)
    reports, alerts = await svc.listing(limit=60), await svc.alerts(limit=30)
    quality = quality_page.section(await svc.quality.latest())
    base = {"daily": "/api/reports/daily/", "monthly": "/api/reports/monthly/"}
    rows = []
    for r in reports:
        if r["kind"] not in base:
            continue
        url = base[r["kind"]] + escape(r["key"])
        links = " ".join(f'<a href="{url}?format={f}">{f.upper()}</a>' for f in ("html", "pdf", "xlsx"))
        label = render.KIND_LABELS[r["kind"]]
        rows.append(
            f"<tr><td>{label}</td><td>{escape(r['key'])}</td><td>{escape(r['generated_at'][:16])}</td><td>{links}</td></tr>"
        )
    arows = "".join(
        f"<tr><td>{escape(a['bucket_start'][:16])}</td><td>{escape(a['category'])}</td><td>{escape(a['area'])}</td>"
        f"<td>{a['count']}</td><td>{a['expected']:.2f}</td><td>{', '.join(str(i) for i in a['orders'][:20])}</td></tr>"
        for a in alerts
    )
    html = f"""<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>报表</title>
<style>{render.CSS}</style></head><body><h1>报表与热点预警</h1>
<h2>热点突增预警</h2><table><tr><th>时段</th><th>分类</th><th>区域</th><th>件数</th><th>基线</th><th>工单</th></tr>{arows}</table>
{quality}
<h2>已生成报告</h2><table><tr><th>类型</th><th>期间</th><th>生成时间</th><th>下载</th></tr>{"".join(rows)}</table>
<h2>专题报告</h2><form method=get action="/api/reports/topic"><input type=hidden name=format value=html>
分类 <input name=category> 区域 <input name=area> 自 <input name=from type=date required> 至 <input name=to type=date required>
<button>生成</button></form></body></html>"""
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/reports", page)
    r.add_get("/api/reports", list_reports)
    r.add_get("/api/reports/daily/{date}", get_daily)
    r.add_post("/api/reports/daily", make_daily)
    r.add_get("/api/reports/monthly/{month}", get_monthly)
    r.add_post("/api/reports/monthly", make_monthly)
    r.add_get("/api/reports/topic", get_topic)
    r.add_get("/api/reports/quality", get_quality)
    r.add_post("/api/reports/quality", make_quality)
    r.add_get("/api/reports/alerts", list_alerts)
    r.add_post("/api/reports/alerts/{id}/ack", ack_alert)
