"""Staffing plans: voice by Erlang C/A, internet seats with concurrency, shrinkage, per-interval seats."""

from __future__ import annotations

import math

import pytest

from scheduling.core import erlang
from scheduling.core.staffing import evaluate, plan, seats_per_interval, seats_within_budget, with_shrinkage


def test_voice_plan_for_the_textbook_case() -> None:
    result = plan(600, 240, 0.80, 15)
    assert result.seats == 46
    assert result.model == "erlang_c"
    assert result.traffic == pytest.approx(40.0)
    assert result.service_level >= 0.80
    assert result.occupancy == pytest.approx(40 / 46)
    assert result.abandonment is None


def test_shrinkage_turns_on_line_seats_into_scheduled_seats() -> None:
    result = plan(600, 240, 0.80, 15, shrinkage=0.3)
    assert result.seats == 46
    assert result.scheduled_seats == math.ceil(46 / 0.7)
    assert with_shrinkage(10, 0.5) == 20
    assert with_shrinkage(10, 0.0) == 10
    with pytest.raises(ValueError, match="shrinkage"):
        with_shrinkage(10, 1.0)


def test_patience_switches_to_erlang_a_and_reports_abandonment() -> None:
    result = plan(600, 240, 0.95, 15, patience_s=120)
    assert result.model == "erlang_a"
    assert result.abandonment is not None and 0 < result.abandonment < 0.05
    assert result.seats == erlang.erlang_a_agents_for_service_level(40.0, 240, 120, 0.95, 15)
    assert result.service_level >= 0.95


def test_chat_seats_hold_several_conversations() -> None:
    # 300 chats/h of 10 minutes = 50 Erlangs of conversation slots; with 3 per seat a third of the slots.
    single = plan(300, 600, 0.95, 60, channel="chat", concurrency=1)
    triple = plan(300, 600, 0.95, 60, channel="chat", concurrency=3)
    slots = erlang.erlang_c_agents_for_service_level(50.0, 600, 0.95, 60)
    assert single.seats == slots
    assert triple.seats == math.ceil(slots / 3)
    assert triple.service_level >= 0.95
    assert triple.concurrency == 3


def test_voice_rejects_concurrency() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        plan(100, 200, 0.9, 15, concurrency=2)


def test_evaluate_reports_an_understaffed_interval_honestly() -> None:
    result = evaluate(30, 600, 240, 0.95, 15)
    assert result.service_level == 0.0
    assert result.asa_s == math.inf
    assert result.occupancy == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-5, 240, 0.9, 15), "arrivals"),
        ((100, 0, 0.9, 15), "AHT"),
        ((100, 240, 1.5, 15), "target"),
        ((100, 240, 0.9, -3), "within"),
        ((math.inf, 240, 0.9, 15), "arrivals"),
    ],
)
def test_bad_staffing_inputs_name_the_field(args: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(*args)


def test_seats_per_interval_converts_half_hour_counts_to_hourly_rates() -> None:
    seats = seats_per_interval([0, 300, 300, 150], 30, 240, 0.8, 15)
    assert seats[0] == 0
    assert seats[1] == seats[2] == 46  # 300 per half hour is the textbook 600 per hour
    assert seats[3] == plan(300, 240, 0.8, 15).seats


def test_a_budget_gives_each_interval_its_requirement_and_the_rest_where_it_answers_most() -> None:
    required = [2, 40, 40, 0]
    traffic = [0.5, 33.0, 30.0, 0.0]
    calls = [5.0, 120.0, 110.0, 0.0]
    seats = seats_within_budget(required, traffic, calls, 88, 240, 15, minimum=1)
    assert sum(seats) == 88
    assert all(n >= max(1, r) for n, r in zip(seats, required, strict=True))
    assert seats[3] == 1  # no traffic: the minimum and no more

    # each extra seat went where Erlang C gains the most answered calls: no seat moved elsewhere gains more
    def answered(i: int, n: int) -> float:
        return calls[i] * erlang.erlang_c_service_level(n, traffic[i], 240, 15) if traffic[i] else 0.0

    for i, j in ((a, b) for a in range(4) for b in range(4) if a != b and seats[a] > max(1, required[a])):
        moved = answered(i, seats[i] - 1) + answered(j, seats[j] + 1)
        assert moved <= answered(i, seats[i]) + answered(j, seats[j]) + 1e-9


def test_a_budget_below_the_requirements_is_refused() -> None:
    with pytest.raises(ValueError, match="below the 5"):
        seats_within_budget([2, 3], [1.0, 1.0], [1.0, 1.0], 4, 240, 15)
    with pytest.raises(ValueError, match="below the 2"):  # the minimum counts where nothing is required
        seats_within_budget([0, 0], [0.0, 0.0], [0.0, 0.0], 1, 240, 15, minimum=1)
    with pytest.raises(ValueError, match="one value per interval"):
        seats_within_budget([2], [1.0, 1.0], [1.0], 4, 240, 15)
