"""The planning pipeline: channels pooled into groups, each staffed by its own model."""

from __future__ import annotations

import datetime as dt

from scheduling.core.forecast import Forecast
from scheduling.core.shifts import Seat
from scheduling.core.staffing import plan
from scheduling.planning import PlanOptions, arrivals_by_group, plan_roster, requirement

DAY = dt.date(2026, 5, 11)


def test_web_chat_and_wechat_pool_into_internet_and_use_chat_concurrency() -> None:
    values = {
        "voice": {DAY: tuple([300.0] * 48)},
        "webchat": {DAY: tuple([40.0] * 48)},
        "wechat": {DAY: tuple([20.0] * 48)},
    }
    predicted = Forecast(30, values)
    assert arrivals_by_group(predicted, DAY, 1)["internet"] == [60.0] * 48
    options = PlanOptions(aht_s=240, chat_aht_s=300, concurrency=3, target=0.8, within_s=15)
    need = requirement(predicted, DAY, 1, options)
    assert need["voice"] == [46] * 48  # the textbook case
    chat = plan(120, 300, 0.8, 60, channel="chat", concurrency=3).seats
    assert need["internet"] == [chat] * 48


def test_plan_roster_covers_the_forecast_it_returns() -> None:
    history = [
        (dt.datetime(2026, 5, 4, 9) + dt.timedelta(days=d, minutes=m), "voice")
        for d in range(7)
        for m in range(0, 480, 4)
    ]
    seats = [Seat(f"S{i}", frozenset({"voice"})) for i in range(20)]
    need, roster, arrivals = plan_roster(history, DAY, 2, seats, is_working_day=lambda d: d.weekday() < 5)
    assert set(need) == {"voice"} and len(arrivals["voice"]) == 96
    assert abs(sum(arrivals["voice"][:48]) - 120) < 6  # every history day held 120 calls
    assert sum(arrivals["voice"][:18]) < 1  # nobody calls before 09:00 in the history
    assert roster.shortfall(need) == {}
    assert max(need["voice"]) > 0
