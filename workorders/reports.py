"""KPI reports from stored orders: loads what a period needs and hands it to the pure core."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from workorders.admin import utc
from workorders.core import kpi
from workorders.core.model import order_from_dict
from workorders.core.period import parse_period
from workorders.models import WoOrder

if TYPE_CHECKING:
    from workorders.services import WorkOrderService

# An order that falls due, signs or closes in the period was created at most this long before
# it: 10 working days plus the longest holiday block, with room to spare.
LOOKBACK = dt.timedelta(days=60)
__all__ = ["kpi_report", "parse_period"]


async def kpi_report(
    svc: WorkOrderService, start: dt.datetime, end: dt.datetime, unit: str | None, options: kpi.KpiOptions
) -> dict[str, Any]:
    since = start - LOOKBACK
    async with svc.sessions() as s:
        rows = (
            await s.execute(
                select(WoOrder.core, WoOrder.created_at, WoOrder.citizen_phone, WoOrder.address, WoOrder.category)
                .where(WoOrder.created_at >= since, WoOrder.created_at < end)
                .order_by(WoOrder.id)
            )
        ).all()
    orders = [order_from_dict(r.core) for r in rows if r.core]
    window = dt.timedelta(days=options.repeat_window_days)
    contacts = [
        kpi.Contact(utc(r.created_at) or start, r.citizen_phone, r.address, r.category or "")
        for r in rows
        if (utc(r.created_at) or start) >= start - window
    ]
    report = kpi.report(orders, contacts, start, end, svc.clock().astimezone(svc.settings.tz), options, unit)
    report["targets"] = {k: 98.0 for k in ("dispatch_accuracy", "on_time_sign", "on_time_completion")} | {
        "satisfaction": 95.0,
        "resolution": 95.0,
    }
    return report
