"""The 督办 closure measure beside the work orders' KPIs: in ``hotline kpi`` (``KPI_CLI_SECTIONS``)
and on the KPI page (``ctx.deps.kpi_sections``), for the same period and unit."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from collections.abc import Awaitable, Callable
from typing import Any

from supervision.core.measure import Closure, ClosureOptions
from supervision.services import SupervisionService
from workorders.core.calendar import CHINA_TZ


def lines(rate: dict[str, Any]) -> list[str]:
    pct = "n/a" if rate["percent"] is None else f"{rate['percent']:.2f}%"
    opts = ", ".join(f"{k}={v}" for k, v in rate["options"].items())
    return [f"{'supervision_closure':>20}: {pct:>8}  ({rate['numerator']}/{rate['denominator']})  options: {opts}"]


def cli_section(
    start: dt.datetime, end: dt.datetime, unit: str | None, resolved_only: bool = False
) -> tuple[str, dict[str, Any], list[str]]:
    """``hotline kpi``'s supervision part: its own engine, one run."""
    from sqlalchemy.exc import SQLAlchemyError

    from hotline.settings import load_settings
    from hotline.storage import make_engine, make_sessionmaker
    from supervision.orders import NoOrders
    from supervision.settings import load_supervision_settings

    async def go() -> dict[str, Any]:
        settings = load_settings()
        engine = make_engine(settings.effective_database_url)
        svc = SupervisionService(make_sessionmaker(engine), load_supervision_settings(settings), NoOrders())
        try:
            return (await svc.closure(start, end, ClosureOptions(resolved_only, unit))).as_dict()
        finally:
            await engine.dispose()

    try:
        rate = asyncio.run(go())
    except (OSError, SQLAlchemyError) as exc:
        return "supervision", {"error": type(exc).__name__}, [f"supervision: unavailable ({type(exc).__name__})"]
    return "supervision", {"closure": rate}, lines(rate)


def register_cli() -> None:
    """Adds the closure measure to ``hotline kpi`` when the work orders' command is there."""
    try:
        from workorders.api import KPI_CLI_SECTIONS
    except ImportError:  # no work orders: no `hotline kpi`
        return
    if cli_section not in KPI_CLI_SECTIONS:
        KPI_CLI_SECTIONS.append(cli_section)


def closure_html(rate: Closure, title: str = "督办按期办结率") -> str:
    pct = "无到期督办件" if rate.percent is None else f"{rate.percent:.2f}%"
    o = rate.options
    return (
        f"<h2>{html.escape(title)}</h2><p><b>{pct}</b>（{rate.numerator}/{rate.denominator}）</p>"
        "<p class=opts>口径：期限落在期间内且已到期的督办件中，在期限前销号的件数 ÷ 到期件数；撤销的不计；"
        f"{'仅办结的销号计入' if o.resolved_only else '未办结销号也计为已销号'}（resolved_only = {o.resolved_only}）；"
        f"单位 {html.escape(o.unit or '全部')}；统计时点 {html.escape(rate.as_of.astimezone(CHINA_TZ).strftime('%Y-%m-%d %H:%M'))}。</p>"
    )


def page_section(svc: SupervisionService) -> Callable[[dt.datetime, dt.datetime, str | None], Awaitable[str]]:
    async def section(start: dt.datetime, end: dt.datetime, unit: str | None) -> str:
        return closure_html(await svc.closure(start, end, ClosureOptions(unit=unit)))

    return section
