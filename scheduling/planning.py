"""The planning pipeline: history → forecast → seats per interval → roster.

Voice arrivals are staffed for the 15-second target with Erlang C (or A with patience); web chat
and WeChat arrivals are pooled into the ``internet`` group and staffed for the first-response
target with chat concurrency. The roster covers both groups with the seats given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scheduling.core import forecast as fc
from scheduling.core.roster import generate
from scheduling.core.shifts import Roster, Rules, Seat, default_templates
from scheduling.core.staffing import seats_per_interval


@dataclass(frozen=True, slots=True)
class PlanOptions:
    aht_s: float = 240.0
    target: float = 0.95
    within_s: float = 15.0
    patience_s: float | None = None
    chat_aht_s: float = 300.0
    chat_within_s: float = 60.0
    concurrency: int = 3
    interval_minutes: int = 30


def group_of(channel: str) -> str:
    return "voice" if channel == "voice" else "internet"


def arrivals_by_group(predicted: fc.Forecast, start: dt.date, days: int) -> dict[str, list[float]]:
    """Forecast arrivals per interval, channels pooled into voice and internet."""
    per_day = 24 * 60 // predicted.interval_minutes
    arrivals: dict[str, list[float]] = {}
    for channel, by_day in predicted.values.items():
        line = arrivals.setdefault(group_of(channel), [0.0] * (per_day * days))
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            for i, value in enumerate(by_day.get(day, ())):
                line[offset * per_day + i] += value
    return arrivals


def requirement(predicted: fc.Forecast, start: dt.date, days: int, options: PlanOptions) -> dict[str, list[int]]:
    """On-line seats per interval and group over ``days`` days from ``start``."""
    arrivals = arrivals_by_group(predicted, start, days)
    out: dict[str, list[int]] = {}
    for group, line in arrivals.items():
        # Rounded to a tenth of a call so repeated shapes hit the staffing cache.
        rounded = [round(v, 1) for v in line]
        if group == "voice":
            out[group] = seats_per_interval(
                rounded,
                predicted.interval_minutes,
                options.aht_s,
                options.target,
                options.within_s,
                patience_s=options.patience_s,
            )
        else:
            out[group] = seats_per_interval(
                rounded,
                predicted.interval_minutes,
                options.chat_aht_s,
                options.target,
                options.chat_within_s,
                concurrency=options.concurrency,
                channel="chat",
            )
    return out


def plan_roster(
    history: Sequence[tuple[dt.datetime, str]],
    start: dt.date,
    days: int,
    seats: Sequence[Seat],
    *,
    is_working_day: Callable[[dt.date], bool],
    options: PlanOptions | None = None,
    rules: Rules | None = None,
) -> tuple[dict[str, list[int]], Roster, dict[str, list[float]]]:
    """Required seats per group, the roster, and the forecast arrivals it was built from."""
    options = options or PlanOptions()
    predicted = fc.forecast(
        history, start, days, is_working_day=is_working_day, interval_minutes=options.interval_minutes
    )
    need = requirement(predicted, start, days, options)
    rules = rules or Rules(slot_minutes=options.interval_minutes)
    return need, generate(need, default_templates(), seats, rules), arrivals_by_group(predicted, start, days)
