"""The slow-changing data around work orders: the loaded calendar years (and recomputing the
provisional deadlines they settle), the dispatch directory and the category tree."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.auth import UNIT_RE
from workorders.calendar_source import YearData, build_calendar
from workorders.core import deadlines as dl
from workorders.core.calendar import WorkCalendar, YearNotCovered
from workorders.core.lifecycle import Unit
from workorders.core.model import Order, State, order_from_dict, order_to_dict
from workorders.models import WoAudit, WoCalendarYear, WoCategory, WoOrder, WoUnit
from workorders.settings import WorkOrderSettings

logger = logging.getLogger(__name__)


class InputError(ValueError):
    """Bad input at the edge; the message names the field."""


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Columns hold UTC; SQLite gives naive values back, which are UTC too."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class CalendarAndDirectory:
    sessions: async_sessionmaker[AsyncSession]
    settings: WorkOrderSettings
    data_dir: Path
    clock: Callable[[], dt.datetime]
    calendar: WorkCalendar | None
    loaded_years: tuple[int, ...]

    # ---- calendar ------------------------------------------------------------------------------
    async def refresh_calendar(self) -> WorkCalendar:
        """Rebuild the calendar from the package, the loaded years and the settings; when a year
        was added, recompute every provisional deadline."""
        async with self.sessions() as s:
            rows = (await s.execute(select(WoCalendarYear))).scalars().all()
        years = [year_from_row(r) for r in rows]
        self.calendar = build_calendar(self.settings, years)
        new_years = tuple(sorted(y.year for y in years))
        if new_years != self.loaded_years:
            self.loaded_years = new_years
            await self.recompute_provisional()
        return self.calendar

    def cal(self) -> WorkCalendar:
        if self.calendar is None:
            self.calendar = build_calendar(self.settings)
        return self.calendar

    async def recompute_provisional(self) -> int:
        """Give orders with a provisional deadline their real one once their year is known."""
        cal = self.cal()
        limits = self.settings.limits()
        async with self.sessions() as s:
            rows = (await s.execute(select(WoOrder).where(WoOrder.provisional.is_(True)))).scalars().all()
        fixed = 0
        for row in rows:
            order = order_from_dict(row.core)
            if order.deadlines is None or order.order_type is None:
                continue
            try:
                new = dl.compute_deadlines(cal, limits, order.order_type, order.urgency, order.deadlines.dispatched_at)
            except YearNotCovered as exc:  # the year is still missing: stays provisional
                logger.info("order %s stays provisional: %s", row.id, exc)
                continue
            if order.deadlines.extended:
                new = dl.extend(new, order.deadlines.reply_by)
            cur = order.current
            assignments = order.assignments
            if cur is not None:
                upd = replace(cur, sign_by=new.sign_by, return_by=new.return_by)
                if not order.deadlines.extended:
                    upd = replace(upd, reply_by=new.reply_by)
                assignments = (*assignments[:-1], upd)
            fixed_order = replace(order, deadlines=new, assignments=assignments)
            async with self.sessions() as s, s.begin():
                res = await s.execute(
                    update(WoOrder)
                    .where(WoOrder.id == row.id, WoOrder.version == row.version)
                    .values(**columns(fixed_order), version=row.version + 1, updated_at=self.clock())
                    .execution_options(synchronize_session=False)
                )
                if getattr(res, "rowcount", 0) == 1:
                    fixed += 1
                    s.add(
                        audit_row(
                            row.id,
                            self.clock(),
                            "system",
                            "admin",
                            "recompute_deadlines",
                            order.state,
                            order.state,
                            "年度日历已加载，重算临时期限",
                            {},
                        )
                    )
        if fixed:
            logger.info("recomputed %d provisional deadlines", fixed)
        return fixed

    async def store_year(self, year: YearData) -> None:
        days = {
            "holidays": {d.isoformat(): n for d, n in sorted(year.holidays.items())},
            "workdays": {d.isoformat(): n for d, n in sorted(year.workdays.items())},
        }
        async with self.sessions() as s, s.begin():
            row = await s.get(WoCalendarYear, year.year)
            if row is None:
                s.add(WoCalendarYear(year=year.year, source=year.source[:200], loaded_at=self.clock(), days=days))
            else:
                row.source, row.loaded_at, row.days = year.source[:200], self.clock(), days
        await self.refresh_calendar()

    # ---- directory -----------------------------------------------------------------------------
    async def directory(self) -> dict[str, Unit]:
        async with self.sessions() as s:
            rows = (await s.execute(select(WoUnit))).scalars().all()
        return {r.code: Unit(r.code, r.name, r.tier, r.active) for r in rows}

    async def categories(self) -> list[dict[str, Any]]:
        async with self.sessions() as s:
            rows = (await s.execute(select(WoCategory).order_by(WoCategory.code))).scalars().all()
        return [{"code": r.code, "name": r.name, "parent": r.parent} for r in rows]

    async def put_directory(self, units: Sequence[Mapping[str, Any]], categories: Sequence[Mapping[str, Any]]) -> None:
        async with self.sessions() as s, s.begin():
            for u in units:
                code, name, tier = str(u.get("code", "")), str(u.get("name", "")), u.get("tier", 3)
                if not code or not name or tier not in (1, 2, 3):
                    raise InputError(f"unit {u!r}: needs code, name and tier 1, 2 or 3")
                if not UNIT_RE.match(code):
                    raise InputError(f"unit code {code!r}: 1-32 letters, digits or inner hyphens")
                row = await s.get(WoUnit, code)
                if row is None:
                    s.add(WoUnit(code=code, name=name, tier=tier, active=bool(u.get("active", True))))
                else:
                    row.name, row.tier, row.active = name, tier, bool(u.get("active", True))
            for c in categories:
                code = str(c.get("code", ""))
                if not code:
                    raise InputError(f"category {c!r}: needs code (a path such as 城建/物业)")
                parent = code.rsplit("/", 1)[0] if "/" in code else None
                row_c = await s.get(WoCategory, code)
                if row_c is None:
                    s.add(WoCategory(code=code, name=str(c.get("name") or code.rsplit("/", 1)[-1]), parent=parent))


def year_from_row(r: WoCalendarYear) -> YearData:
    return YearData(
        r.year,
        {dt.date.fromisoformat(k): v for k, v in r.days.get("holidays", {}).items()},
        {dt.date.fromisoformat(k): v for k, v in r.days.get("workdays", {}).items()},
        r.source,
    )


def columns(o: Order) -> dict[str, Any]:
    d = o.deadlines
    return {
        "state": o.state.value,
        "order_type": o.order_type.value if o.order_type else None,
        "urgency": o.urgency.value,
        "category": o.category,
        "lead_unit": o.lead_unit,
        "co_units": "," + ",".join(o.co_units) + "," if o.co_units else "",
        "dispatched_at": utc(d.dispatched_at) if d else None,
        "sign_by": utc(d.sign_by) if d else None,
        "reply_by": utc(d.reply_by) if d else None,
        "closed_at": utc(o.closed_at),
        "provisional": bool(d and d.provisional),
        "core": order_to_dict(o),
    }


def audit_row(
    order_id: int,
    at: dt.datetime,
    actor: str,
    role: str,
    action: str,
    a: State,
    b: State,
    reason: str,
    data: dict[str, Any],
) -> WoAudit:
    return WoAudit(
        order_id=order_id,
        at=at,
        actor=actor,
        role=role,
        action=action,
        from_state=a.value,
        to_state=b.value,
        reason=reason[:2000],
        data=data,
    )
