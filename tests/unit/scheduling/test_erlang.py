"""Erlang C / Erlang A against independent computations: exact rationals and a direct Markov chain."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.core.erlang import (
    erlang_a,
    erlang_a_abandonment,
    erlang_a_agents_for_service_level,
    erlang_a_asa,
    erlang_a_service_level,
    erlang_b,
    erlang_c_agents_for_service_level,
    erlang_c_asa,
    erlang_c_service_level,
    erlang_c_wait_probability,
    occupancy,
)


def exact_erlang_c(agents: int, traffic: Fraction) -> Fraction:
    """Textbook formula with factorials, in exact rationals: a check that shares no code with the module."""
    term = Fraction(1)
    below = Fraction(0)
    for k in range(agents):
        below += term
        term = term * traffic / (k + 1)
    top = term * agents / (agents - traffic)
    return top / (below + top)


def markov_chain_erlang_a(agents: int, lam: float, mu: float, theta: float, within: float) -> tuple[float, float]:
    """Service level and abandonment of M/M/n+M from the truncated chain and a tagged-caller walk.

    The tagged caller who finds j waiting ahead moves forward at rate nμ + kθ and hangs up at rate θ;
    the chance to be answered by ``within`` comes from uniformizing that small chain.
    """
    cap = agents + 400
    weights = [1.0]
    for state in range(1, cap + 1):
        death = min(state, agents) * mu + max(0, state - agents) * theta
        weights.append(weights[-1] * lam / death)
    total = sum(weights)
    probs = [w / total for w in weights]
    queued = sum((s - agents) * p for s, p in enumerate(probs) if s > agents)
    abandonment = theta * queued / lam
    # p[k]: tagged caller still waiting with k ahead; absorbed mass "answered" accumulates.
    ahead = [probs[agents + j] for j in range(cap - agents + 1)]
    rate_max = agents * mu + (len(ahead) + 1) * theta
    answered_in_time = 0.0
    poisson = math.exp(-rate_max * within)
    steps = int(rate_max * within + 12 * math.sqrt(rate_max * within) + 50)
    cumulative_answered = 0.0
    for step in range(steps + 1):
        answered_in_time += poisson * cumulative_answered
        # One uniformized jump of the tagged caller's chain.
        new = [0.0] * len(ahead)
        answered_now = ahead[0] * agents * mu / rate_max
        for k, p in enumerate(ahead):
            if p == 0.0:
                continue
            move = (agents * mu + k * theta) / rate_max
            leave = theta / rate_max
            if k > 0:
                new[k - 1] += p * move
            new[k] += p * (1 - move - leave)
        ahead = new
        cumulative_answered += answered_now
        poisson *= rate_max * within / (step + 1)
    no_wait = sum(probs[:agents])
    return no_wait + answered_in_time, abandonment


def test_textbook_600_calls_per_hour_needs_46_seats_for_80_in_15() -> None:
    traffic = 600 * 240 / 3600
    assert traffic == 40
    assert erlang_c_agents_for_service_level(traffic, 240, 0.80, 15) == 46
    assert erlang_c_service_level(45, traffic, 240, 15) < 0.80 <= erlang_c_service_level(46, traffic, 240, 15)


@pytest.mark.parametrize(("agents", "traffic"), [(46, Fraction(40)), (3, Fraction(5, 2)), (120, Fraction(1003, 10))])
def test_wait_probability_matches_exact_factorial_formula(agents: int, traffic: Fraction) -> None:
    assert erlang_c_wait_probability(agents, float(traffic)) == pytest.approx(
        float(exact_erlang_c(agents, traffic)), rel=1e-12
    )


def test_service_level_and_asa_follow_from_the_exact_wait_probability() -> None:
    c = float(exact_erlang_c(46, Fraction(40)))
    assert erlang_c_service_level(46, 40.0, 240, 15) == pytest.approx(1 - c * math.exp(-6 * 15 / 240), rel=1e-12)
    assert erlang_c_asa(46, 40.0, 240) == pytest.approx(c * 240 / 6, rel=1e-12)
    # Hand-checked: C(46, 40) is about 0.2650, so the ASA is about 10.6 s.
    assert 10.5 < erlang_c_asa(46, 40.0, 240) < 10.7


def test_erlang_b_of_one_seat_is_a_over_one_plus_a() -> None:
    assert erlang_b(1, 3.0) == pytest.approx(0.75)
    assert erlang_b(0, 3.0) == 1.0


def test_zero_traffic_needs_no_seats_and_never_waits() -> None:
    assert erlang_c_agents_for_service_level(0.0, 240, 0.95, 15) == 0
    assert erlang_c_wait_probability(0, 0.0) == 0.0
    assert erlang_c_service_level(0, 0.0, 240, 15) == 1.0
    assert erlang_c_asa(0, 0.0, 240) == 0.0
    assert occupancy(0, 0.0) == 0.0
    assert erlang_a(0, 0.0, 240, 60, 15).service_level == 1.0
    assert erlang_a_agents_for_service_level(0.0, 240, 60, 0.95, 15) == 0


@pytest.mark.parametrize("agents", [0, 1, 39, 40])
def test_traffic_at_or_above_seats_gives_zero_service_level_without_nan(agents: int) -> None:
    assert erlang_c_wait_probability(agents, 40.0) == 1.0
    assert erlang_c_service_level(agents, 40.0, 240, 15) == 0.0
    assert erlang_c_asa(agents, 40.0, 240) == math.inf
    assert occupancy(agents, 40.0) == 1.0


def test_very_large_load_stays_finite_and_consistent() -> None:
    traffic = 50_000 * 300 / 3600  # about 4,167 Erlangs
    seats = erlang_c_agents_for_service_level(traffic, 300, 0.95, 15)
    assert traffic < seats < traffic * 1.05
    level = erlang_c_service_level(seats, traffic, 300, 15)
    assert 0.95 <= level < 1.0
    assert erlang_c_service_level(seats - 1, traffic, 300, 15) < 0.95
    result = erlang_a(seats, traffic, 300, 90, 15)
    for value in (result.service_level, result.abandonment, result.asa_s, result.mean_wait_s, result.occupancy):
        assert math.isfinite(value)
    assert result.service_level >= level  # impatient callers leave the queue shorter for the rest


def test_overloaded_erlang_a_is_stable_and_abandons_the_excess() -> None:
    # 1.5x overload: with abandonment the queue stays finite; at least a third must hang up.
    result = erlang_a(40, 60.0, 240, 60, 15)
    assert result.abandonment >= 1 / 3 - 1e-9
    assert 60.0 * (1 - result.abandonment) <= 40.0  # seats cannot answer more than they can hold
    assert 0 <= result.service_level < 1 - result.abandonment
    assert math.isfinite(result.asa_s)


@pytest.mark.parametrize(
    ("agents", "calls_per_hour", "aht", "patience", "within"),
    [(5, 60, 240, 60, 15), (12, 160, 200, 120, 20), (8, 200, 180, 30, 15), (20, 500, 150, 300, 10)],
)
def test_erlang_a_matches_a_direct_markov_chain(
    agents: int, calls_per_hour: float, aht: float, patience: float, within: float
) -> None:
    lam = calls_per_hour / 3600
    expected_sl, expected_ab = markov_chain_erlang_a(agents, lam, 1 / aht, 1 / patience, within)
    result = erlang_a(agents, lam * aht, aht, patience, within)
    assert result.service_level == pytest.approx(expected_sl, abs=2e-5)
    assert result.abandonment == pytest.approx(expected_ab, rel=1e-6)
    assert erlang_a_service_level(agents, lam * aht, aht, patience, within) == result.service_level
    assert erlang_a_abandonment(agents, lam * aht, aht, patience) == result.abandonment


def test_erlang_a_obeys_littles_law_on_abandonment() -> None:
    result = erlang_a(46, 40.0, 240, 120, 15)
    assert result.mean_wait_s == pytest.approx(result.abandonment * 120, rel=1e-9)


def test_erlang_a_with_endless_patience_approaches_erlang_c() -> None:
    result = erlang_a(46, 40.0, 240, 1e6, 15)
    assert result.service_level == pytest.approx(erlang_c_service_level(46, 40.0, 240, 15), abs=1e-3)
    assert result.wait_probability == pytest.approx(erlang_c_wait_probability(46, 40.0), abs=1e-3)
    assert erlang_a_asa(46, 40.0, 240, 1e6) == pytest.approx(erlang_c_asa(46, 40.0, 240), rel=1e-2)


def test_erlang_a_agents_are_the_fewest_that_meet_the_target() -> None:
    seats = erlang_a_agents_for_service_level(40.0, 240, 120, 0.95, 15)
    assert erlang_a_service_level(seats, 40.0, 240, 120, 15) >= 0.95
    assert erlang_a_service_level(seats - 1, 40.0, 240, 120, 15) < 0.95
    assert seats <= erlang_c_agents_for_service_level(40.0, 240, 0.95, 15)


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang_c_wait_probability(-1, 3.0),
        lambda: erlang_c_wait_probability(3, -0.5),
        lambda: erlang_c_wait_probability(3, math.nan),
        lambda: erlang_c_service_level(3, 1.0, 0.0, 15),
        lambda: erlang_c_agents_for_service_level(3.0, 240, 1.0, 15),
        lambda: erlang_c_agents_for_service_level(3.0, 240, 0.9, -1),
        lambda: erlang_a(3, 1.0, 240, 0.0, 15),
        lambda: erlang_a(5000, 4000.0, 300, 1e9, 15),  # refused at once, not after minutes of summing
    ],
)
def test_bad_inputs_raise_value_error_with_the_name(call: object) -> None:
    with pytest.raises(ValueError, match=r"must|too long"):
        call()  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(traffic=st.floats(0.01, 400), aht=st.floats(20, 900), within=st.floats(0, 60), target=st.floats(0.05, 0.99))
def test_erlang_c_answer_is_minimal_and_service_level_is_monotone(
    traffic: float, aht: float, within: float, target: float
) -> None:
    seats = erlang_c_agents_for_service_level(traffic, aht, target, within)
    assert seats > traffic
    assert erlang_c_service_level(seats, traffic, aht, within) >= target
    assert erlang_c_service_level(seats - 1, traffic, aht, within) < target
    levels = [erlang_c_service_level(n, traffic, aht, within) for n in range(seats - 1, seats + 4)]
    assert levels == sorted(levels)
    assert all(0.0 <= v <= 1.0 for v in levels)


@settings(max_examples=30, deadline=None)
@given(traffic=st.floats(0.1, 150), aht=st.floats(30, 600), patience=st.floats(5, 900), agents=st.integers(1, 200))
def test_erlang_a_probabilities_stay_in_range(traffic: float, aht: float, patience: float, agents: int) -> None:
    result = erlang_a(agents, traffic, aht, patience, 15)
    for value in (result.service_level, result.abandonment, result.wait_probability, result.occupancy):
        assert 0.0 <= value <= 1.0
    assert result.service_level <= 1.0 - result.abandonment + 1e-9
    more = erlang_a(agents + 1, traffic, aht, patience, 15)
    assert more.service_level >= result.service_level - 1e-9
    assert more.abandonment <= result.abandonment + 1e-12
