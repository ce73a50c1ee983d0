"""Intraday re-forecast, the required/scheduled/logged-in/ready table and below-target alerts."""

from __future__ import annotations

import pytest

from scheduling.core.intraday import intraday_view, reforecast
from scheduling.core.staffing import evaluate, plan

PLAN = [100.0] * 48


def test_reforecast_keeps_the_plan_when_the_day_runs_to_plan() -> None:
    out = reforecast(PLAN, [100] * 20, 19, elapsed=1.0)
    assert out[:19] == [100.0] * 19
    assert out[25] == pytest.approx(100.0)


def test_reforecast_scales_the_rest_of_the_day_by_the_recent_ratio() -> None:
    out = reforecast(PLAN, [150] * 20, 19, elapsed=1.0, prior_calls=0)
    assert out[30] == pytest.approx(150.0)
    # The prior pulls an early, thin signal toward the plan.
    early = reforecast(PLAN, [3], 0, elapsed=0.02, prior_calls=30)
    assert 100 < early[5] < 200


def test_reforecast_weights_recent_intervals_more() -> None:
    actual = [100] * 10 + [200] * 4
    out = reforecast(PLAN, actual, 13, elapsed=1.0, prior_calls=0, halflife=2)
    plain = (sum(actual) / (14 * 100)) * 100
    assert out[20] > plain


def test_reforecast_counts_the_running_interval_by_its_elapsed_share() -> None:
    out = reforecast(PLAN, [100] * 10 + [50], 10, elapsed=0.5, prior_calls=0, halflife=1e9)
    # 50 calls in half an interval is on plan: the rest of the interval expects 50 more.
    assert out[10] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"current": 48}, "outside"), ({"elapsed": 1.5}, "elapsed"), ({"current": 10, "actual": [1, 2]}, "cover")],
)
def test_reforecast_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"planned": PLAN, "actual": [100] * 48, "current": 3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        reforecast(**args)  # type: ignore[arg-type]


def test_view_uses_logged_in_now_and_attendance_later_and_alerts_below_target() -> None:
    need = plan(200, 240, 0.95, 15).seats  # 100 per half hour
    scheduled = [need] * 48
    rows, alerts = intraday_view(
        "voice",
        PLAN,
        [100] * 20,
        19,
        scheduled,
        logged_in_now=need - 4,
        ready_now=2,
        aht_s=240,
        elapsed=1.0,
    )
    now = rows[19]
    assert now.logged_in == need - 4 and now.ready == 2 and now.projected_seats == need - 4
    assert rows[20].projected_seats == int(need * (need - 4) / need)
    assert rows[30].logged_in is None and rows[30].actual is None
    assert [a.interval for a in alerts] == [19, 20, 21]
    first = alerts[0]
    assert first.missing == need - (need - 4)
    assert first.projected_service_level == pytest.approx(evaluate(need - 4, 200, 240, 0.95, 15).service_level)
    assert "低于目标" in first.message and first.message.startswith("09:30")


def test_view_raises_no_alert_when_staffed_to_the_requirement() -> None:
    need = plan(200, 240, 0.95, 15).seats
    rows, alerts = intraday_view("voice", PLAN, [100] * 20, 19, [need] * 48, need, 5, aht_s=240, elapsed=1.0)
    assert alerts == []
    assert all(r.required == need for r in rows[19:])


def test_view_flags_a_surge_from_the_actual_counts() -> None:
    need = plan(200, 240, 0.95, 15).seats
    actual = [100] * 19 + [300]  # the running interval has three times the plan
    _, alerts = intraday_view("voice", PLAN, actual, 19, [need] * 48, need, 0, aht_s=240, elapsed=1.0)
    assert alerts and alerts[0].required > need


def test_view_rejects_inconsistent_seat_counts() -> None:
    with pytest.raises(ValueError, match="ready"):
        intraday_view("voice", PLAN, [100] * 2, 1, [10] * 48, 3, 5, aht_s=240)
    with pytest.raises(ValueError, match="same intervals"):
        intraday_view("voice", PLAN, [100] * 2, 1, [10] * 47, 3, 1, aht_s=240)


def test_group_counts_follow_the_roster_and_let_unrostered_seats_serve_what_they_can() -> None:
    from scheduling.core.intraday import LiveSeat, group_counts

    seats = [
        LiveSeat("v1", "ready", 0),  # on a voice shift now
        LiveSeat("v2", "busy", 3),  # on a voice shift, though it could chat
        LiveSeat("i1", "ready", 3),  # on an internet shift
        LiveSeat("r1", "ready", 3),  # a reserve called in: no shift, takes both
        LiveSeat("c1", "not_ready", 0),  # a cloud seat of a surge: voice only
        LiveSeat("gone", "logged_out", 3),
    ]
    on_shift = {"v1": "voice", "v2": "voice", "i1": "internet", "gone": "voice"}
    assert group_counts(seats, on_shift, "voice") == (4, 2)  # v1, v2, r1, c1; ready v1, r1
    assert group_counts(seats, on_shift, "internet") == (2, 2)  # i1, r1
    assert group_counts([], on_shift, "voice") == (0, 0)
