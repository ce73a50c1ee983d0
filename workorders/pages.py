"""Chinese pages for dispatchers and member units: a small static app over the JSON API, and a
server-rendered KPI page with inline SVG charts. All user text is escaped."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline import auth
from workorders.core import kpi
from workorders.http import SERVICE
from workorders.reports import kpi_report, parse_period

STATIC = Path(__file__).parent / "static"
NAMES = {
    "dispatch_accuracy": "派单准确率",
    "on_time_sign": "按时签收率",
    "on_time_completion": "按时办结率",
    "callback_rate": "回访率",
    "satisfaction": "群众满意率",
    "resolution": "实际解决率",
    "repeat_rate": "重复来电率",
}
# Other features' figures for the same period and unit, rendered under the chart (HTML, escaped
# by the section): ``async section(start, end, unit) -> str``; knowledge adds its units' table.
KPI_SECTIONS = web.AppKey("workorders_kpi_sections", list)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


async def script(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "app.js", headers={"Content-Type": "text/javascript; charset=utf-8"})


def bar_chart(kpis: dict[str, Any], targets: dict[str, float]) -> str:
    """One horizontal bar per KPI, 0-100 %, with the target as a red tick."""
    row_h, label_w, bar_w = 34, 130, 420
    rows = []
    for i, (key, rate) in enumerate(kpis.items()):
        y = 10 + i * row_h
        pct = rate["percent"]
        width = 0 if pct is None else bar_w * pct / 100
        shown = "无数据" if pct is None else f"{pct:.2f}%  ({rate['numerator']}/{rate['denominator']})"
        rows.append(
            f'<text x="0" y="{y + 17}" font-size="14">{html.escape(NAMES.get(key, key))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="22" fill="#eee"/>'
            f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="22" fill="#3a7bd5"/>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 17}" font-size="13">{html.escape(shown)}</text>'
        )
        if key in targets:
            tx = label_w + bar_w * targets[key] / 100
            rows.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 3}" y2="{y + 25}" stroke="#d33" stroke-width="2"/>'
            )
    height = 20 + len(kpis) * row_h
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{height}" role="img" '
        f'aria-label="KPI 图表">{"".join(rows)}</svg>'
    )


async def kpi_page(request: web.Request) -> web.Response:
    try:
        acc = await auth.authenticate(request)
    except web.HTTPUnauthorized:
        raise web.HTTPFound("/workorders/#login") from None
    svc = request.app[SERVICE]
    tz = svc.settings.tz
    today = svc.clock().astimezone(tz).date()
    q = request.query
    start_s = q.get("from") or today.replace(day=1).isoformat()
    end_s = q.get("to") or today.isoformat()
    unit = acc.unit_id if acc.role == "unit" else (q.get("unit") or None)
    basic = "true" in q.getall("basic_satisfied", ["true"])  # unchecked box: only the hidden "false"
    error = ""
    body = ""
    try:
        start, end = parse_period(start_s, end_s, tz)
        options = kpi.KpiOptions(count_basically_satisfied=basic, repeat_window_days=svc.settings.repeat_window_days)
        rep = await kpi_report(svc, start, end, unit, options)
        body = bar_chart(rep["kpis"], rep["targets"])
        opts = "；".join(f"{html.escape(k)} = {html.escape(str(v))}" for k, v in rep["options"].items())
        body += f"<p class=opts>口径：{opts}；统计时点 {html.escape(rep['as_of'])}；红线为目标值。</p>"
        for section in request.app.get(KPI_SECTIONS, []):
            body += await section(start, end, unit)
    except ValueError as exc:
        error = f"<p class=err>{html.escape(str(exc))}</p>"
    e = html.escape
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>工单考核指标</title>
<style>body{{font-family:sans-serif;margin:2em}} .err{{color:#b00}} .opts{{color:#555;font-size:13px}}
form input{{margin-right:1em}}</style></head><body>
<h1>工单考核指标</h1><p><a href="/workorders/">返回工单列表</a></p>
<form method="get">起 <input type="date" name="from" value="{e(start_s)}"> 止 <input type="date" name="to" value="{e(end_s)}">
单位 <input name="unit" value="{e(unit or "")}" {"readonly" if acc.role == "unit" else ""}>
<input type="hidden" name="basic_satisfied" value="false"><label><input type="checkbox" name="basic_satisfied" value="true" {"checked" if basic else ""}> 满意率含基本满意</label>
<button>查询</button></form>{error}{body}
<p>生成于 {e(dt.datetime.now(tz).strftime("%Y-%m-%d %H:%M"))}</p></body></html>"""
    return web.Response(text=page, content_type="text/html", headers=SECURITY_HEADERS)


def add_pages(app: web.Application, sections: list[Any] | None = None) -> None:
    app.router.add_get("/workorders/", index)
    app.router.add_get("/workorders/app.js", script)
    app.router.add_get("/workorders/kpi", kpi_page)
    app[KPI_SECTIONS] = sections if sections is not None else []  # ctx.deps.kpi_sections: features add theirs
