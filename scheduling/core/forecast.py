"""Contact forecast per interval and channel from a list of (timestamp, channel) arrivals.

Model, per channel (multiplicative, chosen because a 12345 line's days differ in volume far more
than in shape):
- each day has a kind: mon…sun for ordinary days, ``holiday`` for a weekday that is not a working
  day (statutory holidays), ``makeup`` for a weekend day that is a working day (调休上班);
- kind factor f_k = mean daily total of kind k ÷ mean daily total, over the last ``weeks`` weeks;
  a kind with no days in the history borrows the pooled factor of its family (holiday ← weekend
  days, makeup ← weekdays);
- trend: least squares line through the last ``trend_days`` deseasonalised daily totals
  (total ÷ f_k), projected forward; ``trend_days=0`` uses their mean;
- intraday shape per kind: the kind's pooled share of arrivals in each interval (same fallback).
Forecast(day, interval) = level(day) × f_kind(day) × share_kind(interval).

Timestamps are local wall-clock times; the caller converts time zones. The working-day calendar is
injected as ``is_working_day(date) -> bool`` so tests and the work-order calendar can supply theirs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FAMILY = {"holiday": ("sat", "sun"), "makeup": ("mon", "tue", "wed", "thu", "fri")}

WorkingDay = Callable[[date], bool]


def day_kind(day: date, is_working_day: WorkingDay) -> str:
    """mon…sun for ordinary days, ``holiday`` for a weekday off, ``makeup`` for a weekend workday."""
    weekday = day.weekday()
    working = is_working_day(day)
    if weekday < 5 and not working:
        return "holiday"
    if weekday >= 5 and working:
        return "makeup"
    return WEEKDAYS[weekday]


def _family(kind: str) -> tuple[str, ...]:
    if kind in _FAMILY:
        return _FAMILY[kind]
    return WEEKDAYS[:5] if WEEKDAYS.index(kind) < 5 else WEEKDAYS[5:]


@dataclass(frozen=True, slots=True)
class Forecast:
    """Expected arrivals: ``values[channel][day]`` is one float per interval of that day."""

    interval_minutes: int
    values: Mapping[str, Mapping[date, tuple[float, ...]]]

    def day_total(self, channel: str, day: date) -> float:
        return sum(self.values[channel][day])


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Errors of a forecast on held-out days (percentages)."""

    channel: str
    days: int
    interval_mape: float  # over intervals with at least one actual arrival
    daily_mape: float
    wape: float  # Σ|error| ÷ Σ actual over all intervals: stable when intervals are nearly empty


def count_by_interval(
    arrivals: Iterable[tuple[datetime, str]], interval_minutes: int = 30
) -> dict[str, dict[date, list[int]]]:
    """Arrivals bucketed per channel, day and interval (days without arrivals are absent)."""
    _check_interval(interval_minutes)
    per_day = 24 * 60 // interval_minutes
    counts: dict[str, dict[date, list[int]]] = defaultdict(dict)
    for at, channel in arrivals:
        if not isinstance(at, datetime):
            raise ValueError(f"arrival time must be a datetime, got {at!r}")
        days = counts[channel]
        row = days.get(at.date())
        if row is None:
            row = days[at.date()] = [0] * per_day
        row[(at.hour * 60 + at.minute) // interval_minutes] += 1
    return dict(counts)


def _check_interval(interval_minutes: int) -> None:
    if interval_minutes <= 0 or (24 * 60) % interval_minutes:
        raise ValueError(f"interval_minutes must divide a day (e.g. 15, 30, 60), got {interval_minutes!r}")


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _fit_channel(
    counts: Mapping[date, Sequence[int]],
    first: date,
    last: date,
    per_day: int,
    is_working_day: WorkingDay,
    weeks: int,
    trend_days: int,
) -> tuple[dict[str, float], dict[str, list[float]], float, float, date]:
    window = _days(max(first, last - timedelta(days=7 * weeks - 1)), last)
    zero = [0] * per_day
    totals = {d: float(sum(counts.get(d, zero))) for d in window}
    kinds = {d: day_kind(d, is_working_day) for d in window}
    overall = sum(totals.values()) / len(window)
    by_kind: dict[str, list[float]] = defaultdict(list)
    slot_sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * per_day)
    for d in window:
        by_kind[kinds[d]].append(totals[d])
        row = counts.get(d, zero)
        sums = slot_sums[kinds[d]]
        for i, c in enumerate(row):
            sums[i] += c
    shares: dict[str, list[float]] = {}
    members_of: dict[str, list[str]] = {}
    for kind in (*WEEKDAYS, "holiday", "makeup"):
        members = [kind] if by_kind.get(kind) else [k for k in _family(kind) if by_kind.get(k)]
        if not members:  # no day of the family at all: fall back to every day of the window
            members = list(by_kind)
        members_of[kind] = members
        own = _shape([slot_sums[k] for k in members], per_day)
        # Half of an ordinary day's shape comes from its family (weekdays or weekend): shapes within
        # a family differ little, and pooling halves the noise of a single weekday's eight samples.
        family = [k for k in _family(kind) if by_kind.get(k)] if kind in WEEKDAYS else []
        if family and family != members:
            pooled = _shape([slot_sums[k] for k in family], per_day)
            own = [(a + b) / 2 for a, b in zip(own, pooled, strict=True)]
        shares[kind] = own
    # Backfitting: kind factors measured against the trend line, the line against deseasonalised
    # totals. Factors taken against the plain mean would absorb the trend whenever a kind's days sit
    # unevenly in the window (a May Day holiday late in the window looks busier than it is).
    level = [overall] * len(window)
    factors: dict[str, float] = {}
    intercept, slope = overall, 0.0
    for _ in range(4):
        ratio: dict[str, list[float]] = defaultdict(list)
        for i, d in enumerate(window):
            if level[i] > 0:
                ratio[kinds[d]].append(totals[d] / level[i])
        for kind, members in members_of.items():
            pooled = [r for k in members for r in ratio.get(k, [])]
            factors[kind] = sum(pooled) / len(pooled) if pooled else 1.0
        intercept, slope = _line(
            [(i, totals[d] / factors[kinds[d]]) for i, d in enumerate(window) if factors[kinds[d]] > 0]
        )
        level = [max(intercept + slope * i, 0.0) for i in range(len(window))]
    # The forecast's level comes from the recent days only, so a change of trend shows quickly.
    recent = [
        (i, totals[d] / factors[kinds[d]])
        for i, d in enumerate(window)
        if factors[kinds[d]] > 0 and i >= len(window) - trend_days
    ]
    if trend_days <= 1 or len(recent) < 3:
        ys = [totals[d] / factors[kinds[d]] for d in window if factors[kinds[d]] > 0]
        return factors, shares, (sum(ys) / len(ys) if ys else 0.0), 0.0, window[0]
    intercept, slope = _line(recent)
    return factors, shares, intercept, slope, window[0]


def _shape(rows: Sequence[Sequence[float]], per_day: int) -> list[float]:
    slots = [sum(row[i] for row in rows) for i in range(per_day)]
    mass = sum(slots)
    return [v / mass for v in slots] if mass > 0 else [1.0 / per_day] * per_day


def _line(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares intercept and slope; flat through the mean when there is no spread in t."""
    if not points:
        return 0.0, 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (y - mean_y) for t, y in points) / var if var > 0 else 0.0
    return mean_y - slope * mean_t, slope


def forecast(
    arrivals: Iterable[tuple[datetime, str]],
    start: date,
    days: int,
    *,
    is_working_day: WorkingDay,
    interval_minutes: int = 30,
    weeks: int = 8,
    trend_days: int = 28,
    history_end: date | None = None,
) -> Forecast:
    """Forecast ``days`` days from ``start`` for every channel seen in ``arrivals``.

    The history runs from the first arrival's day to ``history_end`` (default: the day before
    ``start``); days in between without arrivals count as zero traffic.
    """
    _check_interval(interval_minutes)
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days!r}")
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks!r}")
    if trend_days < 0:
        raise ValueError(f"trend_days must be >= 0, got {trend_days!r}")
    last = history_end or (start - timedelta(days=1))
    if last >= start:
        raise ValueError("history must end before the first forecast day")
    per_day = 24 * 60 // interval_minutes
    counts = count_by_interval(((at, ch) for at, ch in arrivals if at.date() <= last), interval_minutes)
    if not counts:
        raise ValueError("no arrivals before the forecast start: a forecast needs history")
    values: dict[str, dict[date, tuple[float, ...]]] = {}
    for channel, by_day in sorted(counts.items()):
        first = min(by_day)
        factors, shares, intercept, slope, origin = _fit_channel(
            by_day, first, last, per_day, is_working_day, weeks, trend_days
        )
        out: dict[date, tuple[float, ...]] = {}
        for d in _days(start, start + timedelta(days=days - 1)):
            level = max(0.0, intercept + slope * (d - origin).days)
            kind = day_kind(d, is_working_day)
            total = level * factors[kind]
            out[d] = tuple(total * share for share in shares[kind])
        values[channel] = out
    return Forecast(interval_minutes=interval_minutes, values=values)


def accuracy(predicted: Forecast, actual: Mapping[str, Mapping[date, Sequence[int]]], channel: str) -> Accuracy:
    """MAPE and WAPE of ``predicted`` against actual counts for the forecast's days."""
    days = sorted(predicted.values[channel])
    per_day = 24 * 60 // predicted.interval_minutes
    zero = [0] * per_day
    interval_errors: list[float] = []
    daily_errors: list[float] = []
    abs_sum = actual_sum = 0.0
    for d in days:
        real = actual.get(channel, {}).get(d, zero)
        guess = predicted.values[channel][d]
        for a, g in zip(real, guess, strict=True):
            abs_sum += abs(g - a)
            actual_sum += a
            if a > 0:
                interval_errors.append(abs(g - a) / a)
        total = sum(real)
        if total > 0:
            daily_errors.append(abs(sum(guess) - total) / total)

    def pct(values: list[float]) -> float:
        return 100.0 * sum(values) / len(values) if values else math.nan

    return Accuracy(
        channel=channel,
        days=len(days),
        interval_mape=pct(interval_errors),
        daily_mape=pct(daily_errors),
        wape=100.0 * abs_sum / actual_sum if actual_sum > 0 else math.nan,
    )


def backtest(
    arrivals: Sequence[tuple[datetime, str]],
    holdout_days: int,
    *,
    is_working_day: WorkingDay,
    interval_minutes: int = 30,
    weeks: int = 8,
    trend_days: int = 28,
) -> list[Accuracy]:
    """Hold out the last ``holdout_days`` whole days, forecast them from the rest, report errors."""
    if holdout_days < 1:
        raise ValueError(f"holdout_days must be >= 1, got {holdout_days!r}")
    if not arrivals:
        raise ValueError("no arrivals: a backtest needs history")
    last_day = max(at for at, _ in arrivals).date()
    start = last_day - timedelta(days=holdout_days - 1)
    if min(at for at, _ in arrivals).date() >= start:
        raise ValueError(f"history shorter than {holdout_days} held-out days plus at least one training day")
    predicted = forecast(
        arrivals,
        start,
        holdout_days,
        is_working_day=is_working_day,
        interval_minutes=interval_minutes,
        weeks=weeks,
        trend_days=trend_days,
    )
    actual = count_by_interval((a for a in arrivals if a[0].date() >= start), interval_minutes)
    return [accuracy(predicted, actual, channel) for channel in sorted(predicted.values)]
