"""Synthetic order counts per (category, area) and 15-minute bucket for the spike tests.

A city of about a million people: ~820 orders a day over 300 series (20 categories × 15 areas,
Zipf-weighted), a working-day profile (the 08:00-11:00 rise, a lunch dip, quiet nights) and
weekends at 60 %. ``day_factor`` (coefficient of variation) makes whole days busier or quieter,
which real data does and a pure Poisson model does not.

``python -m tests.unit.reports.synthetic [days] [day_cv]`` prints the false-alarm rate per day.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from zoneinfo import ZoneInfo

from reports.core import spikes

TZ = ZoneInfo("Asia/Shanghai")
CATEGORIES = [f"类{i:02d}" for i in range(20)]
AREAS = [f"街道{i:02d}" for i in range(15)]
SERIES = [(c, a) for c in CATEGORIES for a in AREAS]
PER_DAY = 820.0
# Share of a working day's orders in each hour (sums to 1).
_HOURS = [
    0.3,
    0.2,
    0.15,
    0.15,
    0.2,
    0.4,
    1.0,
    2.5,
    7.0,
    9.0,
    9.0,
    7.5,
    4.5,
    5.5,
    7.5,
    7.5,
    7.0,
    6.0,
    4.5,
    3.5,
    3.0,
    2.5,
    1.5,
    0.8,
]
HOUR_SHARE = [h / sum(_HOURS) for h in _HOURS]


def weights() -> list[float]:
    raw = [1.0 / (1 + i) ** 0.9 for i in range(len(SERIES))]
    total = sum(raw)
    rnd = random.Random(7)
    shuffled = [w / total for w in raw]
    rnd.shuffle(shuffled)
    return shuffled


def poisson(rnd: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rnd.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1


def bucket_rate(t: dt.datetime) -> float:
    """Expected orders of the whole city in the 15-minute bucket starting at ``t``."""
    day = PER_DAY * (0.6 if t.weekday() >= 5 else 1.0)
    return day * HOUR_SHARE[t.hour] / 4


def simulate(
    days: int, day_cv: float = 0.0, seed: int = 1, options: spikes.SpikeOptions | None = None
) -> dict[str, float]:
    """Count false alarms over ``days`` of spike-free orders after ``options.weeks`` weeks of baseline."""
    options = options or spikes.SpikeOptions()
    rnd = random.Random(seed)
    w = weights()
    start = dt.datetime(2026, 1, 5, tzinfo=TZ)  # a Monday
    warm = options.weeks * 7
    # history[hour of week][week number] -> {series index: count} in that hour
    history: dict[int, dict[int, dict[int, int]]] = {}
    alarms = 0
    buckets = 0
    for d in range(warm + days):
        factor = max(0.2, rnd.gauss(1.0, day_cv)) if day_cv else 1.0
        for b in range(96):
            t = start + dt.timedelta(days=d, minutes=15 * b)
            how = t.weekday() * 24 + t.hour
            total = bucket_rate(t) * factor
            counts: dict[int, int] = {}
            for i, wi in enumerate(w):
                n = poisson(rnd, total * wi)
                if n:
                    counts[i] = n
            week_no = d // 7
            hours = history.setdefault(how, {})
            if d >= warm:
                base: dict[spikes.Key, int] = {}
                for back in range(1, options.weeks + 1):
                    for i, n in hours.get(week_no - back, {}).items():
                        base[SERIES[i]] = base.get(SERIES[i], 0) + n
                found = spikes.detect(t, {SERIES[i]: n for i, n in counts.items()}, base, options)
                alarms += len(found)
                buckets += 1
            this_week = hours.setdefault(week_no, {})
            for i, n in counts.items():
                this_week[i] = this_week.get(i, 0) + n
            hours.pop(week_no - options.weeks - 1, None)
    return {"days": days, "alarms": alarms, "per_day": alarms / days, "buckets": buckets}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 365
    cv = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    print(simulate(n, cv))
