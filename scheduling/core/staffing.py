"""Seats needed for a service-level target: voice by Erlang C or A, internet seats with chat concurrency.

Internet seats hold up to K conversations at once. A seat is modelled as K independent slots, so
n seats are an M/M/(n·K) queue in which a conversation occupies a slot for its handle time; the
first-response target ("first seat reply within T s") is met when a slot is free within T. This is
the usual approximation for concurrent chat; it is optimistic when seats slow down under load, so
the AHT given should be the handle time measured at that concurrency.

Shrinkage (breaks, training, meetings, absence) turns on-line seats into scheduled seats:
scheduled = ceil(on-line / (1 - shrinkage)).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scheduling.core import erlang

Channel = Literal["voice", "chat"]


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    """Seats for one interval and the figures predicted with exactly that many on line."""

    channel: Channel
    model: Literal["erlang_c", "erlang_a"]
    arrivals_per_hour: float
    aht_s: float
    traffic: float  # Erlangs
    concurrency: int
    seats: int  # seats on line (answering)
    scheduled_seats: int  # seats to roster once shrinkage is added
    shrinkage: float
    service_level: float
    within_s: float
    target: float
    asa_s: float
    occupancy: float
    wait_probability: float
    abandonment: float | None  # only with patience (Erlang A)


# What a hotline can have (a province's busiest hour is a few thousand calls): beyond these the
# Erlang searches grow with the traffic, and a request could hold a core for minutes. The HTTP
# API and the CLI refuse anything outside them with a message naming the bound (docs/security.md).
MAX_ARRIVALS_PER_HOUR = 100_000.0
MAX_AHT_S = 7_200.0
MAX_WITHIN_S = 3_600.0
MAX_PATIENCE_S = 3_600.0
MAX_CONCURRENCY = 20
MAX_SHRINKAGE = 0.9
MAX_TARGET = 0.9999


def _validate(
    arrivals_per_hour: float,
    aht_s: float,
    target: float,
    within_s: float,
    shrinkage: float,
    concurrency: int,
    patience_s: float | None = None,
) -> None:
    if not math.isfinite(arrivals_per_hour) or not 0 <= arrivals_per_hour <= MAX_ARRIVALS_PER_HOUR:
        raise ValueError(
            f"arrivals per hour must be between 0 and {MAX_ARRIVALS_PER_HOUR:g}, got {arrivals_per_hour!r}"
        )
    if not math.isfinite(aht_s) or not 0 < aht_s <= MAX_AHT_S:
        raise ValueError(f"AHT must be a number of seconds > 0 and <= {MAX_AHT_S:g}, got {aht_s!r}")
    if not (0.0 < target <= MAX_TARGET):
        raise ValueError(f"target must be > 0 and <= {MAX_TARGET} (e.g. 0.95), got {target!r}")
    if not math.isfinite(within_s) or not 0 <= within_s <= MAX_WITHIN_S:
        raise ValueError(f"within must be a number of seconds between 0 and {MAX_WITHIN_S:g}, got {within_s!r}")
    if not (0.0 <= shrinkage <= MAX_SHRINKAGE):
        raise ValueError(f"shrinkage must be in [0, {MAX_SHRINKAGE}] (e.g. 0.3), got {shrinkage!r}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency!r}")
    if patience_s is not None and (not math.isfinite(patience_s) or not 0 < patience_s <= MAX_PATIENCE_S):
        raise ValueError(f"patience must be a number of seconds > 0 and <= {MAX_PATIENCE_S:g}, got {patience_s!r}")


check_inputs = _validate  # for adapters that refuse bad input before queueing the computation


def with_shrinkage(seats: int, shrinkage: float) -> int:
    """Seats to schedule so that ``seats`` remain on line after ``shrinkage``."""
    if not (0.0 <= shrinkage < 1.0):
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage!r}")
    # The small epsilon keeps 10 / (1 - 0.5) at 20 despite binary rounding.
    return math.ceil(seats / (1.0 - shrinkage) - 1e-9)


def plan(
    arrivals_per_hour: float,
    aht_s: float,
    target: float,
    within_s: float,
    *,
    patience_s: float | None = None,
    shrinkage: float = 0.0,
    channel: Channel = "voice",
    concurrency: int = 1,
) -> StaffingPlan:
    """Fewest seats meeting ``target`` within ``within_s``; Erlang A when ``patience_s`` is given."""
    if channel == "voice" and concurrency != 1:
        raise ValueError("voice seats take one call at a time; concurrency applies to --channel chat")
    _validate(arrivals_per_hour, aht_s, target, within_s, shrinkage, concurrency, patience_s)
    traffic = arrivals_per_hour / 3600.0 * aht_s
    if patience_s is None:
        slots = erlang.erlang_c_agents_for_service_level(traffic, aht_s, target, within_s)
    else:
        slots = erlang.erlang_a_agents_for_service_level(traffic, aht_s, patience_s, target, within_s)
    seats = math.ceil(slots / concurrency)
    return evaluate(
        seats,
        arrivals_per_hour,
        aht_s,
        target,
        within_s,
        patience_s=patience_s,
        shrinkage=shrinkage,
        channel=channel,
        concurrency=concurrency,
    )


def evaluate(
    seats: int,
    arrivals_per_hour: float,
    aht_s: float,
    target: float,
    within_s: float,
    *,
    patience_s: float | None = None,
    shrinkage: float = 0.0,
    channel: Channel = "voice",
    concurrency: int = 1,
) -> StaffingPlan:
    """Predicted figures with ``seats`` on line (used for plans, rosters and intraday projections)."""
    _validate(arrivals_per_hour, aht_s, target, within_s, shrinkage, concurrency, patience_s)
    if seats < 0:
        raise ValueError(f"seats must be >= 0, got {seats!r}")
    traffic = arrivals_per_hour / 3600.0 * aht_s
    slots = seats * concurrency
    if patience_s is None:
        wait, level, asa = erlang.erlang_c_figures(slots, traffic, aht_s, within_s)
        occ = erlang.occupancy(slots, traffic)
        abandonment: float | None = None
        model: Literal["erlang_c", "erlang_a"] = "erlang_c"
    else:
        result = erlang.erlang_a(slots, traffic, aht_s, patience_s, within_s)
        wait, level, asa, occ = result.wait_probability, result.service_level, result.asa_s, result.occupancy
        abandonment = result.abandonment
        model = "erlang_a"
    return StaffingPlan(
        channel=channel,
        model=model,
        arrivals_per_hour=arrivals_per_hour,
        aht_s=aht_s,
        traffic=traffic,
        concurrency=concurrency,
        seats=seats,
        scheduled_seats=with_shrinkage(seats, shrinkage),
        shrinkage=shrinkage,
        service_level=level,
        within_s=within_s,
        target=target,
        asa_s=asa,
        occupancy=occ,
        wait_probability=wait,
        abandonment=abandonment,
    )


def seats_per_interval(
    arrivals: Sequence[float],
    interval_minutes: int,
    aht_s: float,
    target: float,
    within_s: float,
    *,
    patience_s: float | None = None,
    concurrency: int = 1,
    channel: Channel = "voice",
) -> list[int]:
    """On-line seats for each interval from its forecast arrival count (the roster's input)."""
    if interval_minutes <= 0:
        raise ValueError(f"interval_minutes must be > 0, got {interval_minutes!r}")
    per_hour = 60.0 / interval_minutes
    cache: dict[float, int] = {}
    out: list[int] = []
    for count in arrivals:
        # Forecasts repeat values (zeros at night, identical weekdays); each rate is solved once.
        if count not in cache:
            cache[count] = plan(
                count * per_hour,
                aht_s,
                target,
                within_s,
                patience_s=patience_s,
                channel=channel,
                concurrency=concurrency,
            ).seats
        out.append(cache[count])
    return out


def seats_within_budget(
    required: Sequence[int],
    traffic: Sequence[float],
    weights: Sequence[float],
    total: int,
    aht_s: float,
    within_s: float,
    *,
    minimum: int = 0,
) -> list[int]:
    """Whole seats per interval adding up to ``total``: each interval its ``required`` seats (at least
    ``minimum``), then the seats left, one at a time, to the interval where one more seat answers the
    most more contacts within ``within_s`` by Erlang C (its gain in service level x its ``weights``,
    the contacts it receives).

    This spreads a day's budget (say 1.10 x the Erlang C seat-hours) instead of rounding 1.10 x each
    interval up, which costs more than the budget; no interval falls below its own requirement, and the
    day's share answered in time, the KPI, gains what one seat can give. Ties go to the earlier interval.
    """
    if not len(required) == len(traffic) == len(weights):
        raise ValueError("required, traffic and weights need one value per interval")
    if any(a < 0 or not math.isfinite(a) for a in traffic) or any(w < 0 for w in weights):
        raise ValueError("traffic and weights must be finite numbers >= 0")
    seats = [max(minimum, n) for n in required]
    if total < sum(seats):
        raise ValueError(f"a budget of {total} seat-intervals is below the {sum(seats)} the intervals need")

    def gain(i: int) -> float:
        if traffic[i] == 0 or weights[i] == 0:
            return 0.0
        more = erlang.erlang_c_service_level(seats[i] + 1, traffic[i], aht_s, within_s)
        return weights[i] * (more - erlang.erlang_c_service_level(seats[i], traffic[i], aht_s, within_s))

    best = [(-gain(i), i) for i in range(len(seats))]
    heapq.heapify(best)
    for _ in range(total - sum(seats)):
        _, i = heapq.heappop(best)
        seats[i] += 1
        heapq.heappush(best, (-gain(i), i))
    return seats
