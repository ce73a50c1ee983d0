"""A stored report drawn as an HTML page (SVG charts, no scripts), a PDF (WeasyPrint) and XLSX.

Everything comes from the report's dict: the same stored report gives the same document.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from reports.core.charts import columns, hbar

FIELD_LABELS = {
    "answer_rate_15s": "人工座席15秒接通率",
    "connection_rate": "接通率",
    "internet_response_rate": "互联网座席实时响应率",
    "dispatch_accuracy": "派单准确率",
    "on_time_sign": "按时签收率",
    "on_time_completion": "按时办结率",
    "callback_rate": "回访率",
    "satisfaction": "群众满意率",
    "resolution": "实际解决率",
}
CHANNEL_LABELS = {
    "voice": "电话",
    "webchat": "网页在线",
    "wechat": "微信",
    "callback": "回拨",
    "api": "接口",
    "": "其他",
}
KIND_LABELS = {"daily": "运行日报", "monthly": "月度通报", "topic": "专题报告"}
CSS = """
body{font-family:'WenQuanYi Micro Hei','Noto Sans CJK SC',sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:22px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}td,th{border:1px solid #bbb;padding:3px 7px}
th{background:#eef3fa}td.n{text-align:right}.opt{color:#555;font-size:12px}.charts svg{margin:4px 8px 4px 0}
.miss{color:#b00}@page{size:A4;margin:14mm}
"""


def _pct(rate: dict[str, Any]) -> str:
    return "—" if rate.get("percent") is None else f"{rate['percent']:.2f}%"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    empty = True
    for row in rows:
        empty = False
        out.append("<tr>")
        for v in row:
            cls = ' class="n"' if isinstance(v, int | float) else ""
            out.append(f"<td{cls}>{escape(str(v))}</td>")
        out.append("</tr>")
    if empty:
        out.append(f'<tr><td colspan="{len(head)}">无</td></tr>')
    out.append("</table>")
    return "".join(out)


def rate_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(figure, value, numerator/denominator, target, options) for the report's rates."""
    opts, targets = data.get("options", {}), data.get("targets", {})
    found: list[tuple[str, dict[str, Any]]] = []
    contacts = data.get("contacts") or {}
    for key in ("answer_rate_15s", "connection_rate", "internet_response_rate"):
        if key in contacts:
            found.append((key, contacts[key]))
    orders = data.get("orders") or {}
    for key in ("on_time_completion", "satisfaction"):
        if key in orders:
            found.append((key, orders[key]))
    out = []
    for key, rate in found:
        target = targets.get(key)
        opt = opts.get(key, {})
        out.append(
            (
                FIELD_LABELS.get(key, key),
                _pct(rate),
                f"{rate['numerator']}/{rate['denominator']}",
                f"≥{target:g}%" if target else "",
                "；".join(f"{k}={v}" for k, v in opt.items()),
            )
        )
    return out


def _named(items: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(str(i["name"]), float(i["count"])) for i in items]


def html(data: dict[str, Any]) -> str:
    title = escape(data.get("title", "报告"))
    p = data.get("period", {})
    parts = [
        f"<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>{title}</title><style>{CSS}</style>",
        f"</head><body><h1>{title}</h1>",
        f'<p class="opt">统计区间 {escape(p.get("from", ""))} 至 {escape(p.get("to", ""))}（不含）；'
        f"生成于 {escape(p.get('as_of', ''))}</p>",
        "<h2>主要指标</h2>",
        _table(("指标", "数值", "分子/分母", "目标", "口径选项"), rate_rows(data)),
    ]
    contacts = data.get("contacts")
    if contacts:
        parts.append("<h2>分渠道话务量</h2>")
        chans = contacts.get("by_channel", {})
        parts.append(
            _table(
                ("渠道", "请求座席", "接通", "放弃", "队列满未进入", "非服务时间", "回拨"),
                (
                    (
                        CHANNEL_LABELS.get(c, c),
                        f["offered"],
                        f["answered"],
                        f["abandoned"],
                        f["blocked"],
                        f["closed"],
                        f["callbacks"],
                    )
                    for c, f in chans.items()
                ),
            )
        )
        parts.append(
            f'<p class="opt">放弃 {contacts["abandoned"]}（其中短时放弃 {contacts["short_abandoned"]}）；'
            f"队列满未进入 {contacts['blocked']}、非服务时间来电 {contacts['closed_hours']} 另计，不计入放弃。</p>"
        )
    orders = data.get("orders", {})
    parts.append("<h2>工单</h2>")
    parts.append(
        _table(
            ("新建", "办结", "超期（应办结未按时）", "受理要情"),
            [(orders.get("new", 0), orders.get("closed", 0), orders.get("overdue", 0), orders.get("major", 0))],
        )
    )
    charts = []
    if data.get("by_hour"):
        charts.append(columns("分时段新建工单", [f"{h}时" for h in range(24)], data["by_hour"]))
    if data.get("by_day"):
        charts.append(columns("每日工单", [d["day"][5:] for d in data["by_day"]], [d["count"] for d in data["by_day"]]))
    if orders.get("new_by_channel"):
        charts.append(
            hbar("工单来源渠道", [(CHANNEL_LABELS.get(k, k), float(v)) for k, v in orders["new_by_channel"].items()])
        )
    charts.append(hbar("诉求分类 TOP", _named(data.get("top_categories", []))))
    charts.append(hbar("区域 TOP", _named(data.get("top_areas", []))))
    charts.append(hbar("热词 TOP", _named(data.get("top_phrases", []))))
    parts.append('<h2>图表</h2><div class="charts">' + "".join(charts) + "</div>")
    for key, label in (("top_subcategories", "细分类"), ("top_areas", "区域"), ("top_phrases", "热词")):
        parts.append(f"<h2>{label}排行</h2>")
        parts.append(_table(("名称", "件数"), ((i["name"], i["count"]) for i in data.get(key, []))))
    if data.get("kind") == "monthly":
        parts.extend(_monthly(data))
    if data.get("kind") == "topic":
        parts.append("<h2>承办单位</h2>")
        parts.append(_table(("单位", "件数"), ((i["name"], i["count"]) for i in data.get("by_unit", []))))
    cases = data.get("major_cases", data.get("cases", []))
    parts.append("<h2>受理要情</h2>" if "major_cases" in data else "<h2>工单清单</h2>")
    parts.append(
        _table(
            ("工单号", "时间", "标题", "分类", "区域", "承办单位", "紧急程度", "状态"),
            (
                (
                    c["id"],
                    c["created_at"][:16],
                    c["title"],
                    c["category"],
                    c["area"],
                    c["unit"] or "",
                    c["urgency"],
                    c["state"],
                )
                for c in cases
            ),
        )
    )
    parts.append("</body></html>")
    return "".join(parts)


def _monthly(data: dict[str, Any]) -> list[str]:
    keys = ("dispatch_accuracy", "on_time_sign", "on_time_completion", "satisfaction", "resolution")
    parts = ["<h2>各单位指标</h2>"]
    parts.append(
        _table(
            ("单位", "工单", *(FIELD_LABELS[k] for k in keys), "热点"),
            (
                (
                    u["name"],
                    u["orders"],
                    *(f"{_pct(u[k])} ({u[k]['numerator']}/{u[k]['denominator']})" for k in keys),
                    "、".join(i["name"] for i in u["hot"]["top_subcategories"][:3]),
                )
                for u in data.get("units", [])
            ),
        )
    )
    names = {u["unit"]: u["name"] for u in data.get("units", [])}
    for key, ranking in data.get("rankings", {}).items():
        if key not in keys:
            continue
        parts.append(
            hbar(
                f"{FIELD_LABELS[key]}排名",
                [(names.get(r["unit"], r["unit"]), r["percent"] or 0.0) for r in ranking[:15]],
                unit="%",
            )
        )
    return parts


def pdf(data: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    out: bytes = HTML(string=html(data)).write_pdf()
    return out


def xlsx(data: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    p = data.get("period", {})
    ws.append([data.get("title", "")])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["统计区间", p.get("from"), p.get("to"), "生成于", p.get("as_of")])
    ws.append([])
    ws.append(["指标", "数值", "分子/分母", "目标", "口径选项"])
    for row in rate_rows(data):
        ws.append(list(row))
    orders = data.get("orders", {})
    ws.append([])
    ws.append(["新建工单", orders.get("new", 0)])
    ws.append(["办结工单", orders.get("closed", 0)])
    ws.append(["超期", orders.get("overdue", 0)])
    ws.append(["受理要情", orders.get("major", 0)])
    contacts = data.get("contacts")
    if contacts:
        ws.append([])
        ws.append(["渠道", "请求座席", "接通", "放弃", "队列满未进入", "非服务时间", "回拨"])
        for c, f in contacts.get("by_channel", {}).items():
            ws.append(
                [
                    CHANNEL_LABELS.get(c, c),
                    f["offered"],
                    f["answered"],
                    f["abandoned"],
                    f["blocked"],
                    f["closed"],
                    f["callbacks"],
                ]
            )
    for key, label in (
        ("top_categories", "分类"),
        ("top_subcategories", "细分类"),
        ("top_areas", "区域"),
        ("top_phrases", "热词"),
        ("by_unit", "承办单位"),
    ):
        if key in data:
            sheet = wb.create_sheet(label)
            sheet.append(["名称", "件数"])
            for i in data[key]:
                sheet.append([i["name"], i["count"]])
    if data.get("by_hour"):
        sheet = wb.create_sheet("分时段")
        sheet.append(["小时", "新建工单"])
        for h, v in enumerate(data["by_hour"]):
            sheet.append([h, v])
    if data.get("by_day"):
        sheet = wb.create_sheet("按日")
        sheet.append(["日期", "工单"])
        for d in data["by_day"]:
            sheet.append([d["day"], d["count"]])
    if data.get("units"):
        keys = (
            "dispatch_accuracy",
            "on_time_sign",
            "on_time_completion",
            "callback_rate",
            "satisfaction",
            "resolution",
        )
        sheet = wb.create_sheet("单位指标")
        sheet.append(
            [
                "单位代码",
                "单位",
                "工单",
                *(f"{FIELD_LABELS[k]}(%)" for k in keys),
                *(f"{FIELD_LABELS[k]}分子/分母" for k in keys),
            ]
        )
        for u in data["units"]:
            sheet.append(
                [
                    u["unit"],
                    u["name"],
                    u["orders"],
                    *(u[k]["percent"] for k in keys),
                    *(f"{u[k]['numerator']}/{u[k]['denominator']}" for k in keys),
                ]
            )
        sheet = wb.create_sheet("排名")
        sheet.append(["指标", "名次", "单位", "数值(%)", "分子", "分母"])
        for key, ranking in data.get("rankings", {}).items():
            for r in ranking:
                sheet.append(
                    [FIELD_LABELS.get(key, key), r["rank"], r["unit"], r["percent"], r["numerator"], r["denominator"]]
                )
    cases = data.get("major_cases", data.get("cases"))
    if cases is not None:
        sheet = wb.create_sheet("受理要情" if "major_cases" in data else "工单清单")
        sheet.append(["工单号", "时间", "标题", "分类", "区域", "承办单位", "紧急程度", "状态"])
        for c in cases:
            sheet.append(
                [c["id"], c["created_at"], c["title"], c["category"], c["area"], c["unit"], c["urgency"], c["state"]]
            )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
