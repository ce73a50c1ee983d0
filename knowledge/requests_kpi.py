"""Member units' knowledge-base KPIs for a period: loads the rows and hands them to the pure core
(``knowledge.core.unit_kpi``); the same report serves /api/kb/kpi, ``hotline kpi`` and the KPI page."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from knowledge.core import unit_kpi as uk
from knowledge.core.model import State
from knowledge.index import utc
from knowledge.requests_store import E, F, Q, V, flag_of, query_of
from knowledge.services import KnowledgeService

NAMES = {
    "uploaded": "上传条目数（新建/导入）",
    "on_time_submission": "按时报送率",
    "response_rate": "政务信息响应率",
    "correction_rate": "纠错率",
    "expiring_30d": "30 日内到期条目",
}
TARGETS = {"response_rate": 95.0, "correction_rate": 100.0}


def _period_rows(rows: Iterable[Any], start: dt.datetime, end: dt.datetime, key: str) -> list[Any]:
    return [r for r in rows if (at := utc(r[key])) is not None and start <= at < end]


async def kpi_report(kb: KnowledgeService, start: dt.datetime, end: dt.datetime, unit: str | None) -> dict[str, Any]:
    as_of = kb.clock().astimezone(dt.UTC)
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    today = kb.today()
    async with kb.engine.connect() as conn:
        qs = [query_of(r) for r in (await conn.execute(select(Q).where(Q.c.asked_at >= start))).mappings()]
        fs = [flag_of(r) for r in (await conn.execute(select(F).where(F.c.raised_at >= start))).mappings()]
        found = (
            await conn.execute(
                select(E.c.id, E.c.unit, V.c.action, V.c.from_state, V.c.at, V.c.data)
                .join(E, E.c.pk == V.c.entry_pk)
                .where(V.c.at >= start, V.c.action.in_(["create", "import", "submit"]))
                .order_by(V.c.at, V.c.id)
            )
        ).mappings()
        versions = _period_rows(list(found), start, end, "at")
        valid_to = (await conn.execute(select(E.c.unit, E.c.valid_to).where(E.c.state == State.PUBLISHED.value))).all()
    # An entry submitted more than once in the period counts once, by its last submission.
    last_submit: dict[str, uk.Submission] = {}
    for r in versions:
        if r["action"] == "submit" and "late" in (r["data"] or {}):
            last_submit[r["id"]] = uk.Submission(r["unit"], utc(r["at"]), bool(r["data"]["late"]))  # type: ignore[arg-type]
    units = sorted(
        {q.unit for q in qs} | {f.unit for f in fs} | {r["unit"] for r in versions} | {u for u, _ in valid_to}
    )
    if unit:
        units = [unit]

    def figures(u: str | None) -> dict[str, Any]:
        new = [r for r in versions if r["from_state"] == "" and (u is None or r["unit"] == u)]
        created = sum(1 for r in new if r["action"] == "create")
        return {
            "uploaded": {"created": created, "imported": len(new) - created, "total": len(new)},
            "on_time_submission": uk.on_time_submission(last_submit.values(), start, end, u).as_dict(),
            "response_rate": uk.response_rate(qs, start, end, as_of, u).as_dict(),
            "correction_rate": uk.correction_rate(fs, start, end, as_of, u).as_dict(),
            "expiring_30d": uk.expiring((d for w, d in valid_to if u is None or w == u), today),
        }

    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "unit": unit,
        "as_of": as_of.isoformat(),
        "options": {
            "query_limit_working_days": kb.settings.query_working_days,
            "correction_limit_working_days": kb.settings.correction_working_days,
            "submit_working_days_ahead": kb.settings.submit_working_days_ahead,
            "expiring_within_days": uk.EXPIRING_DAYS,
        },
        "targets": TARGETS,
        "units": [{"unit": u, **figures(u)} for u in units],
        "total": figures(unit),
    }


def _rate(r: dict[str, Any]) -> str:
    shown = "无数据" if r["percent"] is None else f"{r['percent']:.2f}%"
    extra = f"，未到期 {r['pending']}" if r.get("pending") else ""
    return f"{shown}（{r['numerator']}/{r['denominator']}{extra}）"


def rows_text(rep: dict[str, Any]) -> list[str]:
    """The report as lines for ``hotline kpi``."""
    out = ["knowledge base (热线百科) by unit:"]
    for row in [*rep["units"], {"unit": "合计", **rep["total"]}]:
        up = row["uploaded"]
        out.append(
            f"  {row['unit']}: 上传 {up['total']}（新建 {up['created']}，导入 {up['imported']}）；"
            f"按时报送 {_rate(row['on_time_submission'])}；响应率 {_rate(row['response_rate'])}；"
            f"纠错率 {_rate(row['correction_rate'])}；30 日内到期 {row['expiring_30d']}"
        )
    out.append("options: " + ", ".join(f"{k}={v}" for k, v in rep["options"].items()))
    return out


def table_html(rep: dict[str, Any]) -> str:
    """The report as a table for the KPI page (every value escaped)."""
    e = html.escape
    head = "".join(f"<th>{e(n)}</th>" for n in NAMES.values())
    body = []
    for row in [*rep["units"], {"unit": "合计", **rep["total"]}]:
        up = row["uploaded"]
        cells = [
            f"{up['total']}（新建 {up['created']}，导入 {up['imported']}）",
            _rate(row["on_time_submission"]),
            _rate(row["response_rate"]),
            _rate(row["correction_rate"]),
            str(row["expiring_30d"]),
        ]
        body.append(f"<tr><td>{e(row['unit'])}</td>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    o = rep["options"]
    return (
        "<h2>热线百科单位考核</h2><table border=1 cellpadding=4 style='border-collapse:collapse'>"
        f"<tr><th>单位</th>{head}</tr>{''.join(body)}</table>"
        f"<p class=opts>口径：响应时限 {e(str(o['query_limit_working_days']))} 个工作日；"
        f"纠错时限 {e(str(o['correction_limit_working_days']))} 个工作日；"
        f"提前报送 {e(str(o['submit_working_days_ahead']))} 个工作日；未到期的求助与纠错不计入比率；"
        "驳回的纠错不计入纠错率。目标：响应率 ≥ 95%，纠错率 100%。</p>"
    )


def cli_section(start: dt.datetime, end: dt.datetime, unit: str | None) -> tuple[str, dict[str, Any], list[str]]:
    """``hotline kpi``'s knowledge part (workorders.api.KPI_CLI_SECTIONS): its own engine, one run."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from hotline.settings import load_settings
    from hotline.storage import make_engine
    from knowledge.settings import load_knowledge_settings

    async def go() -> dict[str, Any]:
        settings = load_settings()
        engine = make_engine(settings.effective_database_url)
        kb = KnowledgeService(engine, load_knowledge_settings(settings))
        try:
            return await kpi_report(kb, start, end, unit)
        finally:
            await engine.dispose()

    try:
        rep = asyncio.run(go())
    except (OSError, SQLAlchemyError) as exc:
        return "knowledge", {"error": type(exc).__name__}, [f"knowledge base: unavailable ({type(exc).__name__})"]
    return "knowledge", rep, rows_text(rep)


def register_cli() -> None:
    """Adds the knowledge figures to ``hotline kpi`` when the work orders' command is there."""
    try:
        from workorders.api import KPI_CLI_SECTIONS
    except ImportError:  # no work orders: no `hotline kpi`
        return
    if cli_section not in KPI_CLI_SECTIONS:
        KPI_CLI_SECTIONS.append(cli_section)
