"""KPIs of DOMAIN.md computed from stored orders and contacts; every report states its options.

Periods are half-open, ``[start, end)``. ``as_of`` is the time the report is made: a limit
that has not yet run out on an order still open is undecided and left out of that rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from workorders.core.model import Assignment, Order, Satisfaction


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.numerator / self.denominator, 2) if self.denominator else None

    def as_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "percent": self.percent}


@dataclass(frozen=True)
class KpiOptions:
    count_basically_satisfied: bool = True  # 满意率 counts 基本满意 with 满意
    repeat_window_days: int = 7
    repeat_match_address: bool = False  # also match on the same address, not only the same number
    answer_threshold_s: float = 15.0
    exclude_abandons_shorter_than_s: float = 0.0  # 0: exclude none


@dataclass(frozen=True)
class Contact:
    """One citizen contact for the repeat rate (every order carries the contact it came from)."""

    at: dt.datetime
    phone: str
    address: str
    category: str


@dataclass(frozen=True)
class VoiceCall:
    """A voice contact that asked for a seat: wait runs from entering the seat queue."""

    queued_at: dt.datetime
    answered_at: dt.datetime | None = None
    abandoned_at: dt.datetime | None = None


def _in(t: dt.datetime | None, start: dt.datetime, end: dt.datetime) -> bool:
    return t is not None and start <= t < end


def _dispatches(o: Order) -> list[Assignment]:
    return [a for a in o.assignments if not a.rehandle]


def dispatch_accuracy(orders: Iterable[Order], start: dt.datetime, end: dt.datetime, unit: str | None = None) -> Rate:
    """Orders first dispatched in the period that were neither returned nor re-dispatched."""
    num = den = 0
    for o in orders:
        ds = _dispatches(o)
        if not ds or not _in(ds[0].dispatched_at, start, end) or (unit and ds[0].unit != unit):
            continue
        den += 1
        if len(ds) == 1 and not ds[0].returned:
            num += 1
    return Rate(num, den)


def _returned_in_time(a: Assignment) -> bool:
    return a.returned and a.return_requested_at is not None and a.return_requested_at <= a.return_by


def on_time_sign(
    orders: Iterable[Order], start: dt.datetime, end: dt.datetime, as_of: dt.datetime, unit: str | None = None
) -> Rate:
    """Dispatches in the period signed by sign_by. Left out: unsigned ones whose sign_by is after
    ``as_of``, and ones answered in time by a return the platform approved."""
    num = den = 0
    for o in orders:
        for a in _dispatches(o):
            if not _in(a.dispatched_at, start, end) or (unit and a.unit != unit):
                continue
            if a.signed_at is None and (a.sign_by >= as_of or _returned_in_time(a) or a.redispatched):
                continue
            den += 1
            if a.signed_at is not None and a.signed_at <= a.sign_by:
                num += 1
    return Rate(num, den)


def on_time_completion(
    orders: Iterable[Order], start: dt.datetime, end: dt.datetime, as_of: dt.datetime, unit: str | None = None
) -> Rate:
    """Assignments that fell due in the period (by the possibly extended reply_by) and were replied
    by then. A late return counts as overdue; a return approved in time was never due."""
    num = den = 0
    for o in orders:
        for a in o.assignments:
            if not _in(a.reply_by, start, end) or (unit and a.unit != unit):
                continue
            if _returned_in_time(a) or (a.redispatched and not a.returned):
                continue
            if a.replied_at is None and not a.returned and a.reply_by >= as_of:
                continue
            den += 1
            if a.replied_at is not None and a.replied_at <= a.reply_by:
                num += 1
    return Rate(num, den)


def _closed_after_callback(
    orders: Iterable[Order], start: dt.datetime, end: dt.datetime, unit: str | None
) -> list[Order]:
    return [
        o
        for o in orders
        if _in(o.closed_at, start, end) and o.reply_approved_at is not None and (not unit or o.lead_unit == unit)
    ]


def callback_rate(orders: Iterable[Order], start: dt.datetime, end: dt.datetime, unit: str | None = None) -> Rate:
    """Closed orders of the period whose callback reached the citizen ÷ closed orders eligible for one."""
    eligible = _closed_after_callback(orders, start, end, unit)
    return Rate(sum(1 for o in eligible if o.callback and o.callback.reached), len(eligible))


def satisfaction(
    orders: Iterable[Order], start: dt.datetime, end: dt.datetime, options: KpiOptions, unit: str | None = None
) -> Rate:
    good = {Satisfaction.SATISFIED}
    if options.count_basically_satisfied:
        good.add(Satisfaction.BASICALLY)
    reached = [
        o.callback for o in _closed_after_callback(orders, start, end, unit) if o.callback and o.callback.reached
    ]
    return Rate(sum(1 for c in reached if c.satisfaction in good), len(reached))


def resolution(orders: Iterable[Order], start: dt.datetime, end: dt.datetime, unit: str | None = None) -> Rate:
    """Confirmed solved ÷ reached callbacks on reasonable demands."""
    reached = [
        o.callback
        for o in _closed_after_callback(orders, start, end, unit)
        if o.callback and o.callback.reached and o.callback.reasonable
    ]
    return Rate(sum(1 for c in reached if c.resolved), len(reached))


def repeat_rate(contacts: Sequence[Contact], start: dt.datetime, end: dt.datetime, options: KpiOptions) -> Rate:
    """Contacts of the period with an earlier contact in the same category from the same number (or,
    as an option, the same address) within the window ÷ all contacts of the period. Give contacts
    from ``window`` before ``start`` too, so the first days of the period see their history."""
    window = dt.timedelta(days=options.repeat_window_days)
    ordered = sorted(contacts, key=lambda c: c.at)
    num = den = 0
    for i, c in enumerate(ordered):
        if not _in(c.at, start, end):
            continue
        den += 1
        for prev in ordered[:i]:
            if prev.category != c.category or c.at - prev.at > window:
                continue
            same_phone = bool(c.phone) and prev.phone == c.phone
            same_address = options.repeat_match_address and bool(c.address) and prev.address == c.address
            if same_phone or same_address:
                num += 1
                break
    return Rate(num, den)


def answer_rates(calls: Iterable[VoiceCall], options: KpiOptions) -> dict[str, Rate]:
    """15-second answer rate (short abandons excluded as the option says) and connection rate."""
    calls = list(calls)
    short = dt.timedelta(seconds=options.exclude_abandons_shorter_than_s)
    limit = dt.timedelta(seconds=options.answer_threshold_s)
    counted = [
        c
        for c in calls
        if not (c.answered_at is None and c.abandoned_at is not None and c.abandoned_at - c.queued_at < short)
    ]
    in_time = sum(1 for c in counted if c.answered_at is not None and c.answered_at - c.queued_at <= limit)
    answered = sum(1 for c in calls if c.answered_at is not None)
    return {"answer_rate_15s": Rate(in_time, len(counted)), "connection_rate": Rate(answered, len(calls))}


def report(
    orders: Sequence[Order],
    contacts: Sequence[Contact],
    start: dt.datetime,
    end: dt.datetime,
    as_of: dt.datetime,
    options: KpiOptions,
    unit: str | None = None,
) -> dict[str, Any]:
    rates = {
        "dispatch_accuracy": dispatch_accuracy(orders, start, end, unit),
        "on_time_sign": on_time_sign(orders, start, end, as_of, unit),
        "on_time_completion": on_time_completion(orders, start, end, as_of, unit),
        "callback_rate": callback_rate(orders, start, end, unit),
        "satisfaction": satisfaction(orders, start, end, options, unit),
        "resolution": resolution(orders, start, end, unit),
        "repeat_rate": repeat_rate(contacts, start, end, options),
    }
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "as_of": as_of.isoformat(),
        "unit": unit,
        # The voice options do not bear on work-order KPIs; the report names only the ones it used.
        "options": {k: v for k, v in asdict(options).items() if not k.startswith(("answer_", "exclude_abandons"))},
        "kpis": {k: v.as_dict() for k, v in rates.items()},
    }
