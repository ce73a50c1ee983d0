"""The spike detector on synthetic series: a burst found within 15 minutes, a normal Monday
morning not flagged, and the false-alarm rate per day on spike-free weeks."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from reports.core import spikes
from reports.core.spikes import SpikeOptions, detect, poisson_sf
from tests.unit.reports import synthetic
from tests.unit.reports.synthetic import TZ

WATER = ("城建/供水", "如城街道")


def test_poisson_tail_matches_hand_values() -> None:
    assert poisson_sf(0, 2.0) == 1.0
    assert poisson_sf(1, 2.0) == pytest.approx(1 - 0.1353352832, rel=1e-9)
    # P(X >= 5 | 1.0) = 1 - e^-1 (1 + 1 + 1/2 + 1/6 + 1/24)
    assert poisson_sf(5, 1.0) == pytest.approx(0.0036598468, rel=1e-7)
    assert poisson_sf(40, 0.05) > 0 and poisson_sf(3, 0.0) == 0.0


def test_baseline_is_the_same_weekday_and_hour_of_previous_weeks() -> None:
    b = dt.datetime(2026, 3, 9, 9, 30, tzinfo=TZ)  # a Monday
    windows = spikes.baseline_windows(spikes.bucket_of(b + dt.timedelta(minutes=7)), 2)
    assert windows == [
        (dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ), dt.datetime(2026, 3, 2, 10, 0, tzinfo=TZ)),
        (dt.datetime(2026, 2, 23, 9, 0, tzinfo=TZ), dt.datetime(2026, 2, 23, 10, 0, tzinfo=TZ)),
    ]


def history(rnd: random.Random, t: dt.datetime, options: SpikeOptions) -> dict[spikes.Key, int]:
    """Baseline counts for every series: the same hour of ``options.weeks`` previous weeks."""
    w = synthetic.weights()
    base: dict[spikes.Key, int] = {}
    for back in range(1, options.weeks + 1):
        for q in range(4):
            hour = t.replace(minute=15 * q) - dt.timedelta(weeks=back)
            for key, wi in zip(synthetic.SERIES, w, strict=True):
                base[key] = base.get(key, 0) + synthetic.poisson(rnd, synthetic.bucket_rate(hour) * wi)
    return base


def test_a_burst_of_water_cuts_in_one_street_is_found_within_15_minutes() -> None:
    options = SpikeOptions()
    rnd = random.Random(3)
    t = dt.datetime(2026, 3, 11, 14, 0, tzinfo=TZ)  # a Wednesday afternoon
    base = history(rnd, t, options)
    base[WATER] = 3  # 停水 in 如城街道: three in the same hour of eight weeks
    # The burst: one report a minute from 14:02; the detector runs every minute on the bucket so far.
    found_at = None
    for minute in range(1, 16):
        now = t + dt.timedelta(minutes=minute)
        current = {WATER: max(0, minute - 1)}
        if detect(spikes.bucket_of(t), current, base, options):
            found_at = now
            break
    assert found_at is not None and found_at - t <= dt.timedelta(minutes=15)
    assert found_at - t <= dt.timedelta(minutes=7)  # five reports are enough against this baseline


def test_a_normal_monday_morning_rise_is_not_flagged() -> None:
    options = SpikeOptions()
    alarms = 0
    for seed in range(20):
        rnd = random.Random(100 + seed)
        t = dt.datetime(2026, 3, 9, 9, 0, tzinfo=TZ)  # Monday 09:00, the busiest hour
        base = history(rnd, t, options)
        w = synthetic.weights()
        for q in range(4):
            b = t + dt.timedelta(minutes=15 * q)
            current = {
                k: synthetic.poisson(rnd, synthetic.bucket_rate(b) * wi)
                for k, wi in zip(synthetic.SERIES, w, strict=True)
            }
            alarms += len(detect(b, {k: n for k, n in current.items() if n}, base, options))
    # 20 Monday mornings, 4 buckets each: with alpha = 0.01 per bucket, about 0.8 false alarms expected
    assert alarms <= 2


def test_a_busy_series_is_tested_against_its_own_rate() -> None:
    options = SpikeOptions()
    busy = ("城建/物业", "城南街道")
    # 40 per hour in the baseline (10 per bucket): 14 in a bucket is normal, 35 is not.
    base = {busy: 40 * options.weeks}
    t = dt.datetime(2026, 3, 9, 9, 0, tzinfo=TZ)
    assert detect(t, {busy: 14}, base, options) == []
    [spike] = detect(t, {busy: 35}, base, options)
    assert spike.expected == pytest.approx((320 + 0.5) / 32, rel=1e-3) and spike.count == 35


def test_few_orders_are_never_a_spike_and_bonferroni_counts_every_series() -> None:
    options = SpikeOptions(min_count=5)
    t = dt.datetime(2026, 3, 9, 3, 0, tzinfo=TZ)
    assert detect(t, {WATER: 4}, {}, options) == []
    [s] = detect(t, {WATER: 5}, {("x", "y"): 1, ("z", "w"): 2}, options)
    assert s.threshold == pytest.approx(0.01 / 3)


def test_false_alarms_on_four_spike_free_weeks_stay_below_one_a_day() -> None:
    result = synthetic.simulate(28, day_cv=0.1, seed=11)
    assert result["buckets"] == 28 * 96
    assert result["per_day"] < 1.0
