"""Forecast on synthetic history with a known weekly profile, holidays, make-up workdays and trend."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

import pytest

from scheduling.core.forecast import backtest, count_by_interval, day_kind, forecast

HOLIDAYS = {date(2026, 5, 1), date(2026, 5, 4), date(2026, 5, 5)}
MAKEUP = {date(2026, 4, 26), date(2026, 5, 9)}
WEEKDAY_LEVEL = [1.0, 0.95, 0.9, 0.9, 0.85, 0.55, 0.5]


def working(day: date) -> bool:
    if day in HOLIDAYS:
        return False
    if day in MAKEUP:
        return True
    return day.weekday() < 5


def shape(slot: int) -> float:
    """Known intraday intensity: quiet nights, a morning peak and a smaller afternoon one."""
    hour = slot / 2
    return 0.05 + math.exp(-((hour - 10) ** 2) / 3) + 0.7 * math.exp(-((hour - 15) ** 2) / 4)


SHAPE_TOTAL = sum(shape(s) for s in range(48))


def expected_total(day: date, origin: date, base: float, weekly_growth: float) -> float:
    kind = day_kind(day, working)
    level = {"holiday": 0.35, "makeup": 0.9}.get(kind, WEEKDAY_LEVEL[day.weekday()])
    weeks = (day - origin).days / 7
    return base * level * (1 + weekly_growth * weeks)


def poisson(rng: random.Random, mean: float) -> int:
    # Normal approximation above 30 keeps generation fast; exact product method below.
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def synthetic(origin: date, days: int, base: float, growth: float, seed: int = 7) -> list[tuple[datetime, str]]:
    rng = random.Random(seed)
    out: list[tuple[datetime, str]] = []
    for offset in range(days):
        day = origin + timedelta(days=offset)
        total = expected_total(day, origin, base, growth)
        for slot in range(48):
            for channel, share in (("voice", 0.8), ("chat", 0.2)):
                for _ in range(poisson(rng, total * share * shape(slot) / SHAPE_TOTAL)):
                    second = rng.randrange(1800)
                    at = datetime.combine(day, datetime.min.time()) + timedelta(seconds=slot * 1800 + second)
                    out.append((at, channel))
    return out


ORIGIN = date(2026, 3, 16)  # a Monday; 8 weeks of history end on Sunday 10 May


def test_day_kinds_follow_the_injected_calendar() -> None:
    assert day_kind(date(2026, 5, 1), working) == "holiday"
    assert day_kind(date(2026, 5, 9), working) == "makeup"
    assert day_kind(date(2026, 5, 2), working) == "sat"
    assert day_kind(date(2026, 5, 6), working) == "wed"


def test_forecast_recovers_a_known_profile_level_and_trend() -> None:
    history = synthetic(ORIGIN, 56, base=3000, growth=0.02)
    result = forecast(history, date(2026, 5, 11), 7, is_working_day=working)
    for offset in range(7):
        day = date(2026, 5, 11) + timedelta(days=offset)
        truth = expected_total(day, ORIGIN, 3000, 0.02) * 0.8
        assert result.day_total("voice", day) == pytest.approx(truth, rel=0.06)
        guess = result.values["voice"][day]
        peak = max(range(48), key=lambda s: guess[s])
        assert peak in (19, 20, 21)  # the morning peak at 10:00
        # Poisson noise: ~9 calls in a night interval, ~50 in a weekend afternoon one, so bands are ~3 SD.
        for slot, tolerance in ((4, 0.3), (20, 0.15), (30, 0.15)):
            assert guess[slot] == pytest.approx(truth * shape(slot) / SHAPE_TOTAL, rel=tolerance)
    assert set(result.values) == {"voice", "chat"}


def test_holidays_and_makeup_days_get_their_own_levels() -> None:
    history = synthetic(ORIGIN, 56, base=3000, growth=0.0)

    # 2026-05-12 is a Tuesday; pretend it is a holiday and that Saturday 16 May is a make-up workday.
    def calendar(day: date) -> bool:
        if day == date(2026, 5, 12):
            return False
        if day == date(2026, 5, 16):
            return True
        return working(day)

    result = forecast(history, date(2026, 5, 11), 7, is_working_day=calendar)
    holiday = result.day_total("voice", date(2026, 5, 12))
    makeup = result.day_total("voice", date(2026, 5, 16))
    assert holiday == pytest.approx(3000 * 0.8 * 0.35, rel=0.15)
    assert makeup == pytest.approx(3000 * 0.8 * 0.9, rel=0.1)
    assert result.day_total("voice", date(2026, 5, 17)) == pytest.approx(3000 * 0.8 * 0.5, rel=0.1)


def test_backtest_reports_small_errors_on_held_out_days() -> None:
    history = synthetic(ORIGIN, 63, base=4000, growth=0.01)
    reports = {r.channel: r for r in backtest(history, 7, is_working_day=working)}
    voice = reports["voice"]
    assert voice.days == 7
    assert voice.daily_mape < 6
    assert voice.wape < 12
    # Interval MAPE is dominated by near-empty night intervals, so it is larger but still bounded.
    assert voice.wape < voice.interval_mape < 60
    assert reports["chat"].wape > voice.wape  # fewer chats, more Poisson noise


def test_counts_land_in_the_right_half_hour() -> None:
    counts = count_by_interval([(datetime(2026, 5, 1, 0, 29), "voice"), (datetime(2026, 5, 1, 23, 30), "voice")])
    row = counts["voice"][date(2026, 5, 1)]
    assert row[0] == 1 and row[47] == 1 and sum(row) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "days"),
        ({"interval_minutes": 7}, "divide"),
        ({"history_end": date(2026, 5, 11)}, "before"),
    ],
)
def test_bad_forecast_arguments_are_rejected(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"days": 3, "is_working_day": working}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        forecast([(datetime(2026, 5, 1, 9), "voice")], date(2026, 5, 11), **args)  # type: ignore[arg-type]


def test_empty_history_is_rejected_with_a_reason() -> None:
    with pytest.raises(ValueError, match="history"):
        forecast([], date(2026, 5, 11), 3, is_working_day=working)
