"""Read-only queries over the tables the reports are made from.

``workorders.api`` offers no reader of stored orders, and a feature may not import another's
models, so the work orders' two tables are named here as plain SQL tables with only the columns
read (never written). The ACD's interval figures are the kernel's (``hotline.storage``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, column, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.storage import IntervalFigures
from reports.core.figures import FigureRow, OrderRow
from workorders.core.model import order_from_dict

TS = DateTime(timezone=True)
WO_ORDERS = table(
    "wo_orders",
    column("id", Integer),
    column("created_at", TS),
    column("closed_at", TS),
    column("reply_by", TS),
    column("channel", String),
    column("category", String),
    column("address", String),
    column("title", String),
    column("lead_unit", String),
    column("core", JSON),
)
WO_UNITS = table("wo_units", column("code", String), column("name", String), column("active", Boolean))
# An order that falls due or closes in a period was created at most this long before it (the work
# orders' KPI reports look back as far: 10 working days plus the longest holiday block, and room).
LOOKBACK = dt.timedelta(days=60)


def utc(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive times; every feature writes them in UTC."""
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


Phrases = Callable[[str], Sequence[str]]


async def orders_for(
    s: AsyncSession, start: dt.datetime, end: dt.datetime, phrases: Phrases | None = None
) -> list[OrderRow]:
    """Every order that may count in ``[start, end)``: created in it, or created up to LOOKBACK
    before and not closed before it (closing, or falling due, in the period)."""
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)  # SQLite compares the text of UTC times
    o = WO_ORDERS.c
    q = (
        select(o.id, o.created_at, o.channel, o.category, o.address, o.title, o.lead_unit, o.core)
        .where(o.created_at >= start - LOOKBACK, o.created_at < end)
        .where(or_(o.created_at >= start, o.closed_at.is_(None), o.closed_at >= start, o.reply_by >= start))
        .order_by(o.id)
    )
    out = []
    for r in (await s.execute(q)).all():
        if not r.core:
            continue
        created = utc(r.created_at)
        assert created is not None
        out.append(
            OrderRow(
                id=r.id,
                created_at=created,
                channel=r.channel or "",
                category=r.category or "",
                address=r.address or "",
                title=r.title or "",
                lead_unit=r.lead_unit,
                order=order_from_dict(r.core),
                phrases=tuple(phrases(r.title)) if phrases and created >= start else (),
            )
        )
    return out


async def figures_for(s: AsyncSession, start: dt.datetime, end: dt.datetime) -> list[FigureRow]:
    f = IntervalFigures
    q = select(f.interval_start, f.queue, f.channel, f.figures).where(
        f.kind == "contacts", f.interval_start >= int(start.timestamp()), f.interval_start < int(end.timestamp())
    )
    return [FigureRow(r.interval_start, r.queue, r.channel, r.figures or {}) for r in (await s.execute(q)).all()]


async def units(s: AsyncSession) -> dict[str, str]:
    u = WO_UNITS.c
    return {r.code: r.name for r in (await s.execute(select(u.code, u.name).order_by(u.code))).all()}


async def recent(s: AsyncSession, windows: Sequence[tuple[dt.datetime, dt.datetime]]) -> list[dict[str, Any]]:
    """Orders created in any of ``windows`` (the spike watch's bucket and its baseline hours)."""
    if not windows:
        return []
    o = WO_ORDERS.c
    utc_windows = [(a.astimezone(dt.UTC), b.astimezone(dt.UTC)) for a, b in windows]
    cond = or_(*[(o.created_at >= a) & (o.created_at < b) for a, b in utc_windows])
    q = select(o.id, o.created_at, o.category, o.address, o.title).where(cond)
    return [
        {
            "id": r.id,
            "at": utc(r.created_at),
            "category": r.category or "",
            "address": r.address or "",
            "title": r.title,
        }
        for r in (await s.execute(q)).all()
    ]
