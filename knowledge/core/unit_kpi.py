"""Member units' knowledge-base measures (DOMAIN.md, wave 2), pure: the adapter loads the rows.

Periods are half-open, ``[start, end)``. ``as_of`` is the time the report is made: a question or
flag still open whose limit has not yet run out is undecided and left out of its rate (it may
still be answered in time), as the work-order KPIs do; the report counts them as ``pending``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from knowledge.core.requests import Flag, FlagState, Query
from workorders.core.kpi import Rate

EXPIRING_DAYS = 30


@dataclass(frozen=True)
class Submission:
    """An entry submitted for review with an effective date (the one-working-day-ahead rule)."""

    unit: str
    submitted_at: dt.datetime
    late: bool


@dataclass(frozen=True)
class Counted:
    rate: Rate
    pending: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.rate.as_dict(), "pending": self.pending}


def _in(t: dt.datetime, start: dt.datetime, end: dt.datetime) -> bool:
    return start <= t < end


def response_rate(
    queries: Iterable[Query], start: dt.datetime, end: dt.datetime, as_of: dt.datetime, unit: str | None = None
) -> Counted:
    """政务信息响应率 = questions answered within the limit ÷ questions asked in the period."""
    num = den = pending = 0
    for q in queries:
        if not _in(q.asked_at, start, end) or (unit and q.unit != unit):
            continue
        if q.answered_at is None and q.due_at >= as_of:
            pending += 1
            continue
        den += 1
        if q.answered_at is not None and q.answered_at <= q.due_at:
            num += 1
    return Counted(Rate(num, den), pending)


def correction_rate(
    flags: Iterable[Flag], start: dt.datetime, end: dt.datetime, as_of: dt.datetime, unit: str | None = None
) -> Counted:
    """纠错率 = flagged entries corrected within the limit ÷ entries flagged in the period. A flag a
    supervisor dismissed (the entry was right) flagged no error and is left out."""
    num = den = pending = 0
    for f in flags:
        if not _in(f.raised_at, start, end) or (unit and f.unit != unit) or f.state is FlagState.DISMISSED:
            continue
        if f.state is FlagState.OPEN and f.due_at >= as_of:
            pending += 1
            continue
        den += 1
        if f.state is FlagState.CORRECTED and f.resolved_at is not None and f.resolved_at <= f.due_at:
            num += 1
    return Counted(Rate(num, den), pending)


def on_time_submission(
    subs: Iterable[Submission], start: dt.datetime, end: dt.datetime, unit: str | None = None
) -> Rate:
    """Entries submitted ≥ 1 working day before the policy's effective date ÷ entries with an
    effective date (those submitted in the period)."""
    num = den = 0
    for s in subs:
        if not _in(s.submitted_at, start, end) or (unit and s.unit != unit):
            continue
        den += 1
        if not s.late:
            num += 1
    return Rate(num, den)


def expiring(valid_to: Iterable[dt.date | None], today: dt.date, days: int = EXPIRING_DAYS) -> int:
    """Published entries whose validity ends within ``days`` from ``today`` (today included)."""
    last = today + dt.timedelta(days=days)
    return sum(1 for d in valid_to if d is not None and today <= d <= last)
