"""``hotline bench roster``: a month's roster for 200 seats at 48 intervals a day.

The requirement comes from the project's own staffing: a 12345-like day (quiet nights, a morning
and an afternoon peak, quieter weekends) turned into arrivals per half hour and into seats with
Erlang C for 95% within 15 s. The roster must cover it; the result compares the roster's on-seat
hours with the required seat-hours.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from rich.console import Console
from rich.progress import Progress

from hotline.commands.bench import machine
from scheduling.core.roster import generate
from scheduling.core.shifts import Rules, Seat, default_templates, fixed_shift_on_seat_hours
from scheduling.core.staffing import seats_per_interval

WEEKDAY_VOLUME = (1.0, 0.97, 0.95, 0.95, 0.92, 0.7, 0.65)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seats", type=int, default=200, help="seats in the team (default 200)")
    parser.add_argument("--days", type=int, default=30, help="days in the roster (default 30)")
    parser.add_argument("--calls-per-day", type=float, default=None, help="weekday calls (default: set by --load)")
    parser.add_argument(
        "--load",
        type=float,
        default=0.7,
        help="required seat-hours as a share of the team's 40 h/week capacity, used to size the calls",
    )
    parser.add_argument("--aht", type=float, default=240.0, help="average handle time, seconds")
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--within", type=float, default=15.0)


def day_shape(slot: int) -> float:
    """Relative arrivals per half hour: a 12345 line's quiet night, 9-11 and 14-16 peaks."""
    hour = (slot + 0.5) / 2
    return 0.04 + math.exp(-((hour - 10) ** 2) / 4.5) + 0.8 * math.exp(-((hour - 15) ** 2) / 5)


def requirement(days: int, calls_per_day: float, aht: float, target: float, within: float) -> list[int]:
    shape = [day_shape(s) for s in range(48)]
    total = sum(shape)
    arrivals = [calls_per_day * WEEKDAY_VOLUME[d % 7] * shape[s] / total for d in range(days) for s in range(48)]
    return seats_per_interval(arrivals, 30, aht, target, within)


def fit_calls(seats: int, days: int, load: float, aht: float, target: float, within: float) -> float:
    """Weekday calls whose required seat-hours are ``load`` x the team's 40 h/week, by bisection."""
    capacity = seats * 40.0 * days / 7
    lo, hi = 0.0, 1.0
    while sum(requirement(days, hi, aht, target, within)) * 0.5 < load * capacity:
        lo, hi = hi, hi * 2
    for _ in range(30):
        mid = (lo + hi) / 2
        if sum(requirement(days, mid, aht, target, within)) * 0.5 < load * capacity:
            lo = mid
        else:
            hi = mid
    return round(lo, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.seats < 1 or args.days < 1:
        raise SystemExit("hotline bench roster: --seats and --days must be >= 1")
    if not (0 < args.load < 1):
        raise SystemExit("hotline bench roster: --load must be between 0 and 1")
    calls = args.calls_per_day
    if calls is None:
        calls = fit_calls(args.seats, args.days, args.load, args.aht, args.target, args.within)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("staffing per interval", total=3)
        need = requirement(args.days, calls, args.aht, args.target, args.within)
        progress.advance(task)
        progress.update(task, description="generating roster")
        seats = [Seat(f"S{i:04d}", frozenset({"voice"})) for i in range(args.seats)]
        started = time.perf_counter()
        roster = generate({"voice": need}, default_templates(), seats, Rules())
        seconds = time.perf_counter() - started
        progress.advance(task)
        progress.update(task, description="checking coverage")
        short = roster.shortfall({"voice": need})
        progress.advance(task)
    required = sum(need) * 0.5
    seat_hours = roster.on_seat_hours()
    return {
        "seconds": round(seconds, 3),
        "seat_hours": seat_hours,
        "required_seat_hours": required,
        "ratio": round(seat_hours / required, 4) if required else None,
        "paid_hours": roster.paid_hours(),
        "fixed_shift_seat_hours": fixed_shift_on_seat_hours(need, 48, 16, 30),
        "shifts": len(roster.shifts),
        "unassigned_shifts": len(roster.unassigned()),
        "short_slots": sum(len(v) for v in short.values()),
        "seats": args.seats,
        "days": args.days,
        "calls_per_weekday": calls,
        "peak_required": max(need),
        "machine": machine(),
    }
