"""Working-time arithmetic on China's official calendar, with no I/O and no clock reads.

The calendar is a value: the holiday and make-up workday sets and the covered years come in
from the caller (the package data, loaded yearly files, settings overrides). A day in a year
that is not covered raises :class:`YearNotCovered` unless the caller asks for a provisional
answer (weekends and fixed-date holidays only), in which case the result says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

# Holidays that fall on the same Gregorian date every year (元旦, 劳动节 two days, 国庆 three days),
# the only ones a provisional deadline may assume before the State Council's notice is loaded.
FIXED_DATE_HOLIDAYS: tuple[tuple[int, int], ...] = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
# A deadline search that walks further than this is a configuration error (no working time at all).
_MAX_DAYS = 3 * 366


class YearNotCovered(Exception):
    """A date falls in a year whose holidays are not known; load the year's calendar first."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the working calendar does not cover {year}: load that year's holidays with `hotline calendar load FILE`"
        )
        self.year = year


class CalendarError(ValueError):
    """A wrong calendar setting or input (bad working hours, naive datetime)."""


@dataclass(frozen=True)
class WorkingHours:
    """The working periods of one working day, in local time, sorted and not overlapping."""

    periods: tuple[tuple[dt.time, dt.time], ...] = (
        (dt.time(8, 30), dt.time(12, 0)),
        (dt.time(13, 30), dt.time(17, 30)),
    )

    def __post_init__(self) -> None:
        if not self.periods:
            raise CalendarError("working hours: at least one period is needed")
        last = dt.time(0, 0)
        for i, (start, end) in enumerate(self.periods):
            if end <= start:
                raise CalendarError(f"working hours: period {start}-{end} ends before it starts")
            if i and start < last:
                raise CalendarError("working hours: periods must be sorted and must not overlap")
            last = end

    @property
    def day_length(self) -> dt.timedelta:
        total = dt.timedelta()
        for start, end in self.periods:
            total += dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, start)
        return total

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """``"08:30-12:00,13:30-17:30"`` -> WorkingHours; raises CalendarError naming the bad part."""
        periods = []
        for part in text.split(","):
            try:
                a, b = part.strip().split("-")
                periods.append((dt.time.fromisoformat(a.strip()), dt.time.fromisoformat(b.strip())))
            except ValueError:
                raise CalendarError(f"working hours: {part.strip()!r} is not HH:MM-HH:MM") from None
        return cls(tuple(periods))


@dataclass(frozen=True)
class Instant:
    """A computed time and whether it rests on a provisional (not yet published) calendar year."""

    at: dt.datetime
    provisional: bool = False


@dataclass(frozen=True)
class WorkCalendar:
    """Working days = weekdays not in ``holidays`` plus the make-up ``workdays`` (调休上班)."""

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    years: frozenset[int] = frozenset()
    hours: WorkingHours = field(default_factory=WorkingHours)
    tz: dt.tzinfo = CHINA_TZ
    fixed_holidays: tuple[tuple[int, int], ...] = FIXED_DATE_HOLIDAYS

    @classmethod
    def build(
        cls,
        holidays: Iterable[dt.date],
        workdays: Iterable[dt.date],
        years: Iterable[int],
        hours: WorkingHours | None = None,
        tz: dt.tzinfo = CHINA_TZ,
    ) -> WorkCalendar:
        return cls(frozenset(holidays), frozenset(workdays), frozenset(years), hours or WorkingHours(), tz)

    # ---- days ---------------------------------------------------------------------------------
    def day_kind(self, day: dt.date, allow_provisional: bool = False) -> tuple[bool, bool]:
        """(is a working day, answer is provisional) for ``day``."""
        if day.year in self.years:
            if day in self.workdays:
                return True, False
            return day.weekday() < 5 and day not in self.holidays, False
        if not allow_provisional:
            raise YearNotCovered(day.year)
        return day.weekday() < 5 and (day.month, day.day) not in self.fixed_holidays, True

    def is_workday(self, day: dt.date) -> bool:
        return self.day_kind(day)[0]

    # ---- instants -----------------------------------------------------------------------------
    def local(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None:
            raise CalendarError(f"{moment.isoformat()} has no time zone; give an offset such as +08:00")
        return moment.astimezone(self.tz)

    def _periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        return [
            (dt.datetime.combine(day, a, tzinfo=self.tz), dt.datetime.combine(day, b, tzinfo=self.tz))
            for a, b in self.hours.periods
        ]

    def add_working(self, start: dt.datetime, amount: dt.timedelta, allow_provisional: bool = False) -> Instant:
        """``start`` plus ``amount`` of working time; a start outside working time counts from the next
        working instant, and an end exactly on a period's close stays there (the close of the day)."""
        if amount < dt.timedelta(0):
            return self.sub_working(start, -amount, allow_provisional)
        t = self.local(start)
        remaining = amount
        provisional = False
        day = t.date()
        for _ in range(_MAX_DAYS):
            working, prov = self.day_kind(day, allow_provisional)
            provisional = provisional or prov
            if working:
                for a, b in self._periods(day):
                    if b <= t:
                        continue
                    begin = max(a, t)
                    available = b - begin
                    if remaining <= available:
                        return Instant(begin + remaining, provisional)
                    remaining -= available
            day += dt.timedelta(days=1)
        raise CalendarError("no working time found within three years; check the working hours and holidays")

    def sub_working(self, end: dt.datetime, amount: dt.timedelta, allow_provisional: bool = False) -> Instant:
        """The latest instant that still has ``amount`` of working time before ``end``."""
        t = self.local(end)
        remaining = amount
        provisional = False
        day = t.date()
        for _ in range(_MAX_DAYS):
            working, prov = self.day_kind(day, allow_provisional)
            provisional = provisional or prov
            if working:
                for a, b in reversed(self._periods(day)):
                    if a >= t:
                        continue
                    finish = min(b, t)
                    available = finish - a
                    if remaining <= available:
                        return Instant(finish - remaining, provisional)
                    remaining -= available
            day -= dt.timedelta(days=1)
        raise CalendarError("no working time found within three years; check the working hours and holidays")

    def add_working_hours(self, start: dt.datetime, hours: float, allow_provisional: bool = False) -> Instant:
        return self.add_working(start, dt.timedelta(hours=hours), allow_provisional)

    def add_working_days(self, start: dt.datetime, days: float, allow_provisional: bool = False) -> Instant:
        """N working days = N x one working day's length of working time, added like working hours."""
        return self.add_working(start, self.hours.day_length * days, allow_provisional)

    def sub_working_days(self, end: dt.datetime, days: float, allow_provisional: bool = False) -> Instant:
        return self.sub_working(end, self.hours.day_length * days, allow_provisional)

    def add_clock_hours(self, start: dt.datetime, hours: float) -> Instant:
        """Clock-hour limits run around the clock, nights and holidays included."""
        return Instant(self.local(start) + dt.timedelta(hours=hours), False)

    def working_between(self, a: dt.datetime, b: dt.datetime, allow_provisional: bool = False) -> dt.timedelta:
        """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        if b < a:
            return -self.working_between(b, a, allow_provisional)
        start, stop = self.local(a), self.local(b)
        total = dt.timedelta()
        day = start.date()
        while day <= stop.date():
            if self.day_kind(day, allow_provisional)[0]:
                for p, q in self._periods(day):
                    lo, hi = max(p, start), min(q, stop)
                    if hi > lo:
                        total += hi - lo
            day += dt.timedelta(days=1)
        return total
