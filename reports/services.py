"""The reports' service: makes, stores and serves reports, and watches for spikes.

A report is made once for its period and stored (``rp_reports``); opening it again reads the
stored figures, so yesterday's report stays the document it was. Making it again (``replace``)
recomputes it from the stored orders and figures, which gives the same figures unless the orders
changed since. The computing runs in a thread: a month of orders must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reports import source
from reports.core import build, spikes
from reports.core.figures import OrderRow, Selection, area_of
from reports.models import RpReport, RpSpikeAlert
from reports.quality import QualityChecks
from reports.settings import ReportSettings
from workorders.core.calendar import WorkCalendar, YearNotCovered

logger = logging.getLogger(__name__)
KINDS = ("daily", "monthly", "topic")
Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


class NotFound(Exception):
    pass


def _phrases(text: str) -> list[str]:
    from reports.phrases import phrases

    return phrases(text)


def with_phrases(rows: list[OrderRow], start: dt.datetime) -> list[OrderRow]:
    return [dataclasses.replace(r, phrases=tuple(_phrases(r.title))) if r.created_at >= start else r for r in rows]


def month_bounds(year: int, month: int, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, month, 1, tzinfo=tz)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def day_bounds(day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)


def first_working_day(year: int, month: int, cal: WorkCalendar) -> dt.date:
    """The month's first working day by the work orders' calendar; a year it does not cover falls
    back to the first weekday (the report is late by a holiday at worst, never skipped)."""
    day = dt.date(year, month, 1)
    while True:
        try:
            if cal.is_workday(day):
                return day
        except YearNotCovered:
            if day.weekday() < 5:
                return day
        day += dt.timedelta(days=1)


class ReportService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: ReportSettings,
        *,
        tz: Callable[[], dt.tzinfo] | None = None,
        calendar: Callable[[], WorkCalendar] = WorkCalendar,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        publish: Publish | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self._tz = tz or (lambda: settings.tz)
        self.calendar = calendar
        self.clock = clock
        self.publish = publish
        # the clock is read through the service, so a test (or a bench) that sets it sets both
        self.quality = QualityChecks(sessions, lambda: self.tz, lambda: self.clock())

    @property
    def tz(self) -> dt.tzinfo:
        return self._tz()

    def now(self) -> dt.datetime:
        return self.clock().astimezone(self.tz)

    # -- reports -----------------------------------------------------------------------------
    async def _store(self, kind: str, key: str, data: dict[str, Any], by: str, replace: bool) -> dict[str, Any]:
        async with self.sessions() as s, s.begin():
            row = (
                await s.execute(select(RpReport).where(RpReport.kind == kind, RpReport.key == key))
            ).scalar_one_or_none()
            if row is not None and not replace:
                return dict(row.data)  # made meanwhile by another round: the first one stands
            if row is None:
                s.add(RpReport(kind=kind, key=key, generated_at=self.clock(), generated_by=by, data=data))
            else:
                row.data, row.generated_at, row.generated_by = data, self.clock(), by
        return data

    async def stored(self, kind: str, key: str) -> dict[str, Any] | None:
        async with self.sessions() as s:
            row = (await s.execute(select(RpReport.data).where(RpReport.kind == kind, RpReport.key == key))).scalar()
        return dict(row) if row is not None else None

    async def listing(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(RpReport.kind, RpReport.key, RpReport.generated_at, RpReport.generated_by)
        if kind:
            q = q.where(RpReport.kind == kind)
        async with self.sessions() as s:
            rows = (await s.execute(q.order_by(RpReport.generated_at.desc(), RpReport.id.desc()).limit(limit))).all()
        return [
            {
                "kind": r.kind,
                "key": r.key,
                "generated_at": source.utc(r.generated_at).isoformat(),  # type: ignore[union-attr]
                "generated_by": r.generated_by,
            }
            for r in rows
        ]

    async def _load(
        self, start: dt.datetime, end: dt.datetime, figures: bool = True
    ) -> tuple[list[OrderRow], Any, dict[str, str]]:
        async with self.sessions() as s:
            rows = await source.orders_for(s, start, end)
            figs = await source.figures_for(s, start, end) if figures else []
            units = await source.units(s)
        return rows, figs, units

    async def daily(self, day: dt.date, *, replace: bool = False, by: str = "schedule") -> dict[str, Any]:
        key = day.isoformat()
        if not replace and (kept := await self.stored("daily", key)) is not None:
            return kept
        start, end = day_bounds(day, self.tz)
        rows, figs, _ = await self._load(start, end)
        as_of, options = self.now(), self.settings.options()
        data = await asyncio.to_thread(lambda: build.daily(with_phrases(rows, start), figs, start, end, as_of, options))
        return await self._store("daily", key, data, by, replace)

    async def monthly(self, year: int, month: int, *, replace: bool = False, by: str = "schedule") -> dict[str, Any]:
        key = f"{year:04d}-{month:02d}"
        if not replace and (kept := await self.stored("monthly", key)) is not None:
            return kept
        start, end = month_bounds(year, month, self.tz)
        rows, figs, units = await self._load(start, end)
        as_of, options = self.now(), self.settings.options()
        data = await asyncio.to_thread(
            lambda: build.monthly(with_phrases(rows, start), figs, units, start, end, as_of, options)
        )
        return await self._store("monthly", key, data, by, replace)

    async def topic(
        self, start: dt.datetime, end: dt.datetime, category: str | None, area: str | None, *, by: str = ""
    ) -> tuple[str, dict[str, Any]]:
        """A topic report, made anew each time it is asked for and stored under its selection."""
        key = f"{category or ''}|{area or ''}|{start.isoformat()}|{end.isoformat()}"[:200]
        rows, _, _ = await self._load(start, end, figures=False)
        as_of, options, sel = self.now(), self.settings.options(), Selection(category, area)
        data = await asyncio.to_thread(
            lambda: build.topic(with_phrases([r for r in rows if sel(r)], start), sel, start, end, as_of, options)
        )
        return key, await self._store("topic", key, data, by, True)

    async def get(self, kind: str, key: str) -> dict[str, Any]:
        found = await self.stored(kind, key)
        if found is None:
            raise NotFound(f"{kind} {key}")
        return found

    # -- the schedule --------------------------------------------------------------------------
    async def scheduled(self) -> list[str]:
        """Yesterday's daily report once the day's time has come; last month's unit report from the
        first working day of this month. Made only when not yet stored: a restart repeats nothing."""
        now, made = self.now(), list[str]()
        if now.time() < self.settings.at:
            return made
        yesterday = now.date() - dt.timedelta(days=1)
        if await self.stored("daily", yesterday.isoformat()) is None:
            await self.daily(yesterday)
            made.append(f"daily {yesterday}")
        if now.date() >= first_working_day(now.year, now.month, self.calendar()):
            prev = (now.replace(day=1) - dt.timedelta(days=1)).date()
            key = f"{prev.year:04d}-{prev.month:02d}"
            if await self.stored("monthly", key) is None:
                await self.monthly(prev.year, prev.month)
                made.append(f"monthly {key}")
        return made

    async def quality_round(self) -> list[str]:
        """Yesterday's data quality run, at the daily report's time, once. A round of its own (the
        plugin's), so that a failing check never holds back the reports."""
        now = self.now()
        if now.time() < self.settings.at:
            return []
        yesterday = now.date() - dt.timedelta(days=1)
        if await self.quality.stored(yesterday) is not None:
            return []
        await self.quality.run(yesterday)
        return [f"quality {yesterday}"]

    # -- spikes ------------------------------------------------------------------------------
    async def spike_round(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Test the current 15-minute bucket; store and announce each new spike. Returns new alerts."""
        now = (now or self.clock()).astimezone(self.tz)
        options = self.settings.spikes()
        bucket = spikes.bucket_of(now)
        windows = [(bucket, bucket + spikes.BUCKET), *spikes.baseline_windows(bucket, options.weeks)]
        async with self.sessions() as s:
            rows = await source.recent(s, windows)
        current: dict[spikes.Key, list[dict[str, Any]]] = {}
        baseline: dict[spikes.Key, int] = {}
        for r in rows:
            key = (r["category"], area_of(r["address"]))
            if r["at"] >= bucket:
                current.setdefault(key, []).append(r)
            else:
                baseline[key] = baseline.get(key, 0) + 1
        found = spikes.detect(bucket, {k: len(v) for k, v in current.items()}, baseline, options)
        new = []
        for sp in found:
            behind = sorted(current[(sp.category, sp.area)], key=lambda r: r["id"])
            orders = {"ids": [r["id"] for r in behind], "titles": [r["title"] for r in behind][:20]}
            alert = await self._keep_alert(sp, orders)
            if alert is not None:
                new.append(alert)
                if self.publish is not None:
                    await self.publish("reports.spike", alert)
        return new

    async def _keep_alert(self, sp: spikes.Spike, orders: dict[str, Any]) -> dict[str, Any] | None:
        at = sp.bucket_start.astimezone(dt.UTC)
        try:
            async with self.sessions() as s, s.begin():
                done = await s.execute(
                    update(RpSpikeAlert)
                    .where(
                        RpSpikeAlert.category == sp.category,
                        RpSpikeAlert.area == sp.area,
                        RpSpikeAlert.bucket_start == at,
                    )
                    .values(count=sp.count, p_value=sp.p_value, orders=orders)
                )
                if done.rowcount:  # type: ignore[attr-defined]
                    return None  # already announced: only its count grows
                row = RpSpikeAlert(
                    category=sp.category,
                    area=sp.area,
                    bucket_start=at,
                    count=sp.count,
                    expected=sp.expected,
                    p_value=sp.p_value,
                    raised_at=self.clock(),
                    orders=orders,
                )
                s.add(row)
        except IntegrityError:  # another engine raised it first
            return None
        return alert_json(row, self.tz)

    async def alerts(self, since: dt.datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(RpSpikeAlert)
        if since is not None:
            q = q.where(RpSpikeAlert.raised_at >= since)
        async with self.sessions() as s:
            rows = (await s.execute(q.order_by(RpSpikeAlert.id.desc()).limit(limit))).scalars().all()
        return [alert_json(r, self.tz) for r in rows]

    async def acknowledge(self, alert_id: int, username: str) -> dict[str, Any]:
        async with self.sessions() as s, s.begin():
            row = await s.get(RpSpikeAlert, alert_id)
            if row is None:
                raise NotFound(f"alert {alert_id}")
            row.acknowledged_by = row.acknowledged_by or username
            return alert_json(row, self.tz)


def alert_json(r: RpSpikeAlert, tz: dt.tzinfo) -> dict[str, Any]:
    bucket = source.utc(r.bucket_start)
    raised = source.utc(r.raised_at)
    assert bucket is not None and raised is not None
    return {
        "id": r.id,
        "category": r.category,
        "area": r.area,
        "bucket_start": bucket.astimezone(tz).isoformat(),
        "count": r.count,
        "expected": r.expected,
        "p_value": r.p_value,
        "raised_at": raised.astimezone(tz).isoformat(),
        "orders": r.orders.get("ids", []),
        "titles": r.orders.get("titles", []),
        "acknowledged_by": r.acknowledged_by,
    }
