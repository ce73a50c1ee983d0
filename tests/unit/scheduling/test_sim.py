"""The SLA simulation: the real ACD core, the generated roster and the surge action, over one day."""

from __future__ import annotations

from scheduling.sim import SimConfig, plan_day, simulate_day


def test_the_roster_alone_meets_the_15_second_target_over_the_day() -> None:
    result = simulate_day(SimConfig(respond_to_surge=False, seed=7))
    assert sum(i.arrivals for i in result.intervals) > 7000
    assert result.day_rate >= 0.95
    assert result.actions == []
    assert result.roster.unassigned() == ()


def test_a_threefold_surge_is_back_on_target_in_the_next_interval_with_cloud_seats() -> None:
    surge = 20  # 10:00-11:00, the busiest hour
    helped = simulate_day(SimConfig(surge_interval=surge, seed=7, until_interval=surge + 3))
    alone = simulate_day(SimConfig(surge_interval=surge, seed=7, respond_to_surge=False, until_interval=surge + 3))
    planned_ratio = helped.intervals[surge].arrivals / helped.intervals[surge - 1].arrivals
    assert planned_ratio > 2.5  # the surge really is there
    assert helped.intervals[surge + 1].rate >= 0.95
    assert alone.intervals[surge + 1].rate < 0.5
    assert helped.cloud_seats_peak > 50
    surges = [a for a in helped.actions if a["action"] == "ActivateSurge"]
    assert surges and all(a["who"] and a["why"] for a in surges)
    first = min(a["at_s"] for a in surges if a["at_s"] >= surge * 1800)
    assert first <= surge * 1800 + 600  # called within ten minutes of the surge starting


def test_plan_day_staffs_every_interval_of_the_requirement() -> None:
    _, need, roster = plan_day(SimConfig(calls_per_day=3000))
    assert roster.shortfall({"voice": need}) == {}
