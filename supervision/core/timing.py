"""Deadlines in working days on the work orders' calendar, and days left or overdue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from workorders.core.calendar import Instant, WorkCalendar, YearNotCovered

MAX_DAYS = 60.0


def deadline(calendar: WorkCalendar, opened_at: dt.datetime, working_days: float) -> Instant:
    """``working_days`` of working time after ``opened_at``: opened at 16:30 on a working day with
    1 day, due 16:30 the next working day. A year the calendar lacks raises ``YearNotCovered``: a
    supervisor asks, so the answer names the year rather than guessing."""
    if not 0 < working_days <= MAX_DAYS:
        raise ValueError(f"督办期限须在 0 到 {MAX_DAYS:g} 个工作日之间")
    return calendar.add_working_days(opened_at, working_days)


@dataclass(frozen=True)
class DaysLeft:
    days: float  # working days to the deadline; negative once past it
    overdue: bool
    provisional: bool  # a year between now and the deadline is not loaded yet


def days_left(calendar: WorkCalendar, now: dt.datetime, due: dt.datetime) -> DaysLeft:
    """Working days from ``now`` to ``due`` (one decimal), overdue once ``now`` is past ``due``. A year
    the calendar lacks gives a provisional figure (weekends and fixed holidays) instead of an error:
    the ledger must still show every row."""
    try:
        span, provisional = calendar.working_between(now, due), False
    except YearNotCovered:  # the ledger is a view of every row, not a query for that year
        span, provisional = calendar.working_between(now, due, allow_provisional=True), True
    days = round(span / calendar.hours.day_length, 1)
    return DaysLeft(days, now > due, provisional)
