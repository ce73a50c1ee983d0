"""Intraday: re-forecast from the day so far, required vs scheduled vs logged-in vs ready, and alerts.

Everything comes in as data (forecast, actual counts, roster coverage, seat counts from the ACD's
interval statistics), so the console and the ACD service can call these on every interval tick.

Re-forecast: the remaining intervals are the plan scaled by r = (Σ w·actual + m) / (Σ w·plan + m)
over the intervals so far, the running one counted by its elapsed share; w halves every
``halflife`` intervals back (the latest intervals say most about the next ones) and m pseudo-calls
keep r near 1 while the day has seen few calls. For the running interval and the next alert
intervals the rate of the running interval alone raises the expectation when
its count is beyond Poisson noise, so a sudden surge is seen within minutes instead of after an
hour of weighted history.

Projection: the running interval uses the seats logged in now; later intervals use the roster's
scheduled seats × today's attendance (logged in ÷ scheduled now, at most 1), because seats absent
now are likely still absent in the next hour while extra seats now are not promised later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduling.core.staffing import Channel, evaluate, plan


@dataclass(frozen=True, slots=True)
class IntervalView:
    """One row of the intraday table for one skill group."""

    interval: int
    planned: float  # arrivals in the original forecast
    expected: float  # actual for past intervals, re-forecast for the rest
    actual: int | None  # arrivals counted so far (None: future)
    required: int  # seats on line for the target at the expected arrivals
    scheduled: int  # on seat in the roster
    logged_in: int | None  # None: future
    ready: int | None
    projected_seats: int
    projected_service_level: float


@dataclass(frozen=True, slots=True)
class Alert:
    group: str
    interval: int
    projected_service_level: float
    target: float
    projected_seats: int
    required: int
    missing: int  # seats to add: reserves called in or cloud seats
    message: str  # Chinese, for the shift manager's page


def reforecast(
    planned: Sequence[float],
    actual: Sequence[int],
    current: int,
    elapsed: float = 0.0,
    *,
    prior_calls: float = 30.0,
    halflife: float = 4.0,
) -> list[float]:
    """Expected arrivals per interval: actual before ``current``, scaled plan from ``current`` on.

    ``actual`` holds counts for intervals ``0..current`` (the last one partial, ``elapsed`` of it
    gone, 0..1).
    """
    if not (0 <= current < len(planned)):
        raise ValueError(f"current interval {current} is outside the day's {len(planned)} intervals")
    if not (0.0 <= elapsed <= 1.0):
        raise ValueError(f"elapsed must be a share of the interval in [0, 1], got {elapsed!r}")
    if len(actual) < current + 1 and not (len(actual) == current and elapsed == 0.0):
        raise ValueError("actual counts must cover every interval up to the current one")
    if prior_calls < 0 or halflife <= 0:
        raise ValueError("prior_calls must be >= 0 and halflife > 0")
    seen = list(actual[: current + 1]) + [0] * max(0, current + 1 - len(actual))
    num = den = prior_calls
    for i in range(current + 1):
        weight = 0.5 ** ((current - i) / halflife)
        share = elapsed if i == current else 1.0
        num += weight * seen[i]
        den += weight * planned[i] * share
    ratio = num / den if den > 0 else 1.0
    out = [float(seen[i]) for i in range(current)]
    out.append(seen[current] + planned[current] * (1.0 - elapsed) * ratio)
    out.extend(p * ratio for p in planned[current + 1 :])
    return out


def _known(i: int, current: int, now: int, history: Sequence[int]) -> int | None:
    if i == current:
        return now
    if i < current and i < len(history):
        return history[i]
    return None


def intraday_view(
    group: str,
    planned: Sequence[float],
    actual: Sequence[int],
    current: int,
    scheduled: Sequence[int],
    logged_in_now: int,
    ready_now: int,
    *,
    aht_s: float,
    target: float = 0.95,
    within_s: float = 15.0,
    patience_s: float | None = None,
    interval_minutes: int = 30,
    elapsed: float = 0.0,
    logged_in_history: Sequence[int] = (),
    ready_history: Sequence[int] = (),
    alert_intervals: int = 3,
    surge_sigmas: float = 3.0,
    only_alert_window: bool = False,
    channel: Channel = "voice",
    concurrency: int = 1,
) -> tuple[list[IntervalView], list[Alert]]:
    """Rows for every interval of the day and alerts for the next ``alert_intervals`` ones.

    ``only_alert_window`` computes rows just for the alert window (a cheap check every few minutes).
    """
    if len(scheduled) != len(planned):
        raise ValueError("scheduled seats and the forecast must cover the same intervals")
    if logged_in_now < 0 or ready_now < 0 or ready_now > logged_in_now:
        raise ValueError("seat counts must be >= 0 and ready seats cannot exceed logged-in seats")
    expected = reforecast(planned, actual, current, elapsed)
    # A sudden surge hides in the day's weighted ratio for an hour; the running interval's own rate
    # shows it within minutes. It can only raise the near-term expectation, never lower it.
    so_far = planned[current] * elapsed
    # Only a rise beyond Poisson noise (``surge_sigmas`` standard deviations) counts, or every busy few minutes
    # would call in seats.
    if elapsed > 0 and current < len(actual) and actual[current] > so_far + surge_sigmas * math.sqrt(so_far) + 1:
        # Past the noise test the count speaks for itself; a prior here would understate a surge.
        now_ratio = actual[current] / so_far
        for i in range(current, min(len(planned), current + alert_intervals)):
            if i == current:
                burst = actual[current] + planned[current] * (1.0 - elapsed) * now_ratio
            else:
                burst = planned[i] * now_ratio
            expected[i] = max(expected[i], burst)
    per_hour = 60.0 / interval_minutes
    attendance = min(1.0, logged_in_now / scheduled[current]) if scheduled[current] > 0 else 1.0
    rows: list[IntervalView] = []
    alerts: list[Alert] = []
    for i, arrivals in enumerate(expected):
        if only_alert_window and not (current <= i < current + alert_intervals):
            continue
        rate = arrivals * per_hour
        required = plan(
            rate, aht_s, target, within_s, patience_s=patience_s, channel=channel, concurrency=concurrency
        ).seats
        if i < current:
            seats = logged_in_history[i] if i < len(logged_in_history) else scheduled[i]
        elif i == current:
            seats = logged_in_now
        else:
            seats = math.floor(scheduled[i] * attendance + 1e-9)
        level = evaluate(
            seats, rate, aht_s, target, within_s, patience_s=patience_s, channel=channel, concurrency=concurrency
        ).service_level
        rows.append(
            IntervalView(
                interval=i,
                planned=planned[i],
                expected=arrivals,
                actual=actual[i] if i <= current and i < len(actual) else None,
                required=required,
                scheduled=scheduled[i],
                logged_in=_known(i, current, logged_in_now, logged_in_history),
                ready=_known(i, current, ready_now, ready_history),
                projected_seats=seats,
                projected_service_level=level,
            )
        )
        if current <= i < current + alert_intervals and level < target:
            missing = max(1, required - seats)
            minute = i * interval_minutes
            alerts.append(
                Alert(
                    group=group,
                    interval=i,
                    projected_service_level=level,
                    target=target,
                    projected_seats=seats,
                    required=required,
                    missing=missing,
                    message=(
                        f"{minute // 60:02d}:{minute % 60:02d} {group}：预计{within_s:g}秒接通率 {level:.1%}，"
                        f"低于目标 {target:.0%}；需增加 {missing} 名座席（召回预备座席或启用云座席）"
                    ),
                )
            )
    return rows, alerts


@dataclass(frozen=True)
class LiveSeat:
    """One seat as the ACD sees it now, for the per-group counts."""

    seat_id: str
    state: str  # the ACD's seat state: logged_out, not_ready, ready, reserved, busy, wrap_up
    max_chats: int


def group_counts(seats: Sequence[LiveSeat], on_shift: Mapping[str, str], group: str) -> tuple[int, int]:
    """(logged in, ready) seats of one skill group ("voice" or "internet").

    A seat whose shift of the published roster runs now counts for that shift's group only. A
    seat signed in without a current shift (a reserve called in, a cloud seat of a surge, a
    blended seat) counts for every group it can serve: voice always, internet when it takes chats.
    """
    logged_in = ready = 0
    for seat in seats:
        if seat.state == "logged_out":
            continue
        assigned = on_shift.get(seat.seat_id)
        free_agent = group != "internet" or seat.max_chats > 0
        if (assigned == group) if assigned is not None else free_agent:
            logged_in += 1
            ready += seat.state == "ready"
    return logged_in, ready
