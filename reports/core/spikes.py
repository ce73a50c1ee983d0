"""Spikes of demands (热点突增): counts per (category, area) in a 15-minute bucket tested against the
same weekday and hour of previous weeks.

The test, for each series (category, area) with ``count`` orders so far in the current bucket:

- baseline rate ``λ`` per bucket = (orders of the series in the same weekday-and-hour of the
  previous ``weeks`` weeks + ``prior``) ÷ (buckets in that baseline), never below ``floor``:
  the hour (four buckets) rather than the one bucket, so 4 × weeks buckets are averaged and a
  normal Monday-morning rise is in its own baseline;
- the Poisson upper tail ``p = P(X ≥ count | λ)``;
- a spike when ``count ≥ min_count`` and ``p < alpha / m``, ``m`` being the number of series
  tested in that bucket (Bonferroni: the chance of any false alarm in a bucket stays below
  ``alpha`` when the counts are Poisson with the baseline's rate).

A bucket still filling is tested with its partial count against the whole bucket's rate: a
partial count is never above the final one, so testing every minute raises no alarm that the
end of the bucket would not, and a burst is found as soon as its count passes the test.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BUCKET = dt.timedelta(minutes=15)
Key = tuple[str, str]  # category, area


@dataclass(frozen=True)
class SpikeOptions:
    weeks: int = 8  # weeks of baseline
    alpha: float = 0.01  # family-wise false-alarm probability per bucket
    min_count: int = 5  # fewer orders than this are never a spike
    prior: float = 0.5  # added to the baseline count: an unseen series is not rate 0
    floor: float = 0.05  # the lowest rate per bucket a series is tested against

    @property
    def buckets(self) -> int:
        return self.weeks * 4  # the same hour of ``weeks`` previous weeks, four buckets an hour


@dataclass(frozen=True)
class Spike:
    category: str
    area: str
    bucket_start: dt.datetime
    count: int
    expected: float
    p_value: float
    threshold: float


def bucket_of(t: dt.datetime) -> dt.datetime:
    """The start of the 15-minute bucket holding ``t`` (in ``t``'s own time zone)."""
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def baseline_windows(bucket_start: dt.datetime, weeks: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """The same weekday-and-hour of each previous week: ``[hour start, hour end)``.

    Local wall-clock arithmetic: across a DST change the hour is the same hour of the day."""
    hour = bucket_start.replace(minute=0)
    return [
        (hour - dt.timedelta(weeks=w), hour - dt.timedelta(weeks=w) + dt.timedelta(hours=1))
        for w in range(1, weeks + 1)
    ]


def poisson_sf(count: int, lam: float) -> float:
    """P(X ≥ count) for X ~ Poisson(lam), summed from the far side so small tails stay exact."""
    if count <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    # Terms k = count, count+1, ... until they stop adding anything.
    log_term = -lam + count * math.log(lam) - math.lgamma(count + 1)
    term = math.exp(log_term)
    total, k = term, count
    while term > total * 1e-17 and k < count + 10_000:
        k += 1
        term *= lam / k
        total += term
    return min(1.0, total)


def rate(baseline_count: int, options: SpikeOptions) -> float:
    return max(options.floor, (baseline_count + options.prior) / options.buckets)


def detect(
    bucket_start: dt.datetime,
    current: Mapping[Key, int],
    baseline: Mapping[Key, int],
    options: SpikeOptions,
) -> list[Spike]:
    """Spikes among the series of ``current`` (counts so far in the bucket) against ``baseline``
    (counts in the baseline windows, per series). ``m`` counts every series seen in either."""
    m = max(1, len(set(current) | set(baseline)))
    threshold = options.alpha / m
    out = []
    for key in sorted(current):
        count = current[key]
        if count < options.min_count:
            continue
        lam = rate(baseline.get(key, 0), options)
        p = poisson_sf(count, lam)
        if p < threshold:
            out.append(Spike(key[0], key[1], bucket_start, count, round(lam, 4), p, threshold))
    return out


def count(keys: Iterable[Key]) -> dict[Key, int]:
    out: dict[Key, int] = {}
    for k in keys:
        out[k] = out.get(k, 0) + 1
    return out
