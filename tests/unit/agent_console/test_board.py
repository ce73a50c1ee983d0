"""The board's numbers by hand: China's day, today's and the last 30 minutes' rates, the chart
series and the seat's own day."""

from __future__ import annotations

import pytest

from agent_console.core.board import Activity, day_series, day_start, queue_board, rates, seat_today

# 2026-03-02 00:00 China time is 2026-03-01 16:00 UTC = 1772380800.
MIDNIGHT = 1772380800.0


def row(interval: float, queue: str, channel: str, **counts: int) -> dict[str, object]:
    base = {"interval": interval, "queue": queue, "channel": channel}
    base.update(counts)
    return base


def test_day_starts_at_china_midnight() -> None:
    assert day_start(MIDNIGHT) == MIDNIGHT
    assert day_start(MIDNIGHT + 86399.5) == MIDNIGHT
    assert day_start(MIDNIGHT - 1) == MIDNIGHT - 86400
    assert day_start(MIDNIGHT + 3600, utc_offset_s=0) == MIDNIGHT - 16 * 3600  # UTC midnight of 1 March


def test_queue_board_splits_today_and_the_last_half_hour() -> None:
    now = MIDNIGHT + 10 * 3600 + 20 * 60  # 10:20
    rows = [
        # yesterday: ignored
        row(MIDNIGHT - 900, "general", "voice", offered=9, voice_offered=9, voice_within=0),
        # 08:00: 10 voice offered, 8 within 15 s, 2 short abandons excluded
        row(
            MIDNIGHT + 8 * 3600,
            "general",
            "voice",
            offered=10,
            answered=9,
            voice_offered=10,
            voice_within=8,
            voice_short=2,
        ),
        # 09:45 ends at 10:00, before the window (09:50 onward)? No: 09:45-10:00 overlaps 09:50-10:20.
        row(MIDNIGHT + 9 * 3600 + 45 * 60, "general", "voice", offered=4, answered=2, voice_offered=4, voice_within=1),
        # 10:15: in the window
        row(MIDNIGHT + 10 * 3600 + 15 * 60, "general", "voice", offered=2, answered=2, voice_offered=2, voice_within=2),
        row(MIDNIGHT + 10 * 3600, "internet", "wechat", offered=5, internet_offered=5, replied_within=4),
    ]
    live = {"general": {"waiting": 3, "longest_wait_s": 12.5}, "internet": {"waiting": 0, "longest_wait_s": 0.0}}
    general, internet = queue_board(live, rows, now, 900)
    assert general["queue"] == "general" and general["waiting"] == 3 and general["longest_wait_s"] == 12.5
    assert general["offered"] == 16 and general["answered"] == 13
    assert general["sl15_today"] == pytest.approx((8 + 1 + 2) / (16 - 2))
    assert general["sl15_last30"] == pytest.approx((1 + 2) / (4 + 2))
    assert general["internet_rate_today"] is None
    assert internet["internet_rate_today"] == pytest.approx(0.8) and internet["sl15_today"] is None


def test_a_queue_with_nothing_today_shows_no_rate_rather_than_zero() -> None:
    (q,) = queue_board({"dialect": {"waiting": 0}}, [], MIDNIGHT + 100, 900)
    assert q["sl15_today"] is None and q["sl15_last30"] is None and q["offered"] == 0


def test_rates_divide_only_when_there_is_something_to_divide() -> None:
    zero = dict.fromkeys(
        (
            "offered",
            "answered",
            "answered_within",
            "abandoned",
            "voice_offered",
            "voice_short",
            "voice_within",
            "internet_offered",
            "replied_within",
        ),
        0.0,
    )
    assert rates(zero) == {"sl15": None, "internet_response_rate": None, "connection_rate": None}
    assert rates({**zero, "voice_offered": 2.0, "voice_short": 2.0})["sl15"] is None


def test_day_series_has_every_interval_up_to_now_with_all_queues_together() -> None:
    now = MIDNIGHT + 3600 + 60
    rows = [
        row(MIDNIGHT + 900, "general", "voice", offered=3, answered=2, voice_offered=3, voice_within=2),
        row(MIDNIGHT + 900, "business", "voice", offered=1, answered=1, voice_offered=1, voice_within=1),
        row(MIDNIGHT - 900, "general", "voice", offered=7),
    ]
    series = day_series(rows, now, 900)
    assert [p["interval"] for p in series] == [MIDNIGHT + i * 900 for i in range(5)]
    assert series[1]["offered"] == 4 and series[1]["sl15"] == pytest.approx(0.75)
    assert series[0]["offered"] == 0 and series[0]["sl15"] is None


def test_seat_today_counts_only_today_and_averages_accept_to_wrapup() -> None:
    now = MIDNIGHT + 12 * 3600
    acts = [
        Activity(MIDNIGHT - 60, "offer", "old", "voice"),
        Activity(MIDNIGHT + 100, "offer", "a", "voice"),
        Activity(MIDNIGHT + 105, "accept", "a", "voice"),
        Activity(MIDNIGHT + 405, "wrapup", "a", "voice"),
        Activity(MIDNIGHT + 500, "offer", "b", "wechat"),
        Activity(MIDNIGHT + 502, "accept", "b", "wechat"),
        Activity(MIDNIGHT + 602, "wrapup", "b", "wechat"),
        Activity(MIDNIGHT + 700, "offer", "c", "voice"),
        Activity(MIDNIGHT + 703, "reject", "c", "voice"),
        Activity(MIDNIGHT + 800, "offer", "d", "voice"),
    ]
    t = seat_today(acts, now)
    assert (t["offered"], t["accepted"], t["rejected"], t["missed"], t["wrapped"]) == (4, 2, 1, 1, 2)
    assert t["calls"] == 1 and t["chats"] == 1
    assert t["avg_handle_s"] == pytest.approx((300 + 100) / 2)
    assert t["accept_rate"] == pytest.approx(0.5)
    assert seat_today([], now)["avg_handle_s"] is None
    with pytest.raises(ValueError, match="unknown activity kind"):
        seat_today([Activity(MIDNIGHT, "dance", "x")], now)


def test_ivr_steps_read_the_ivr_record_and_skip_malformed_steps() -> None:
    from agent_console.core.context import ivr_steps

    data = {
        "ivr": {
            "path": [
                {"node": "welcome", "kind": "play"},
                {"node": "menu", "kind": "menu", "digits": "2"},
                "junk",
                {"kind": "menu"},
                {"node": "menu", "kind": "menu", "note": "max_visits"},
            ],
            "outcome": "queue:business",
        }
    }
    assert ivr_steps(data) == ["welcome", "menu（按 2）", "menu［max_visits］", "→ queue:business"]
    assert ivr_steps({"ivr_path": ["欢迎", 3]}) == ["欢迎", "3"]
    assert ivr_steps({"ivr": "broken"}) == [] and ivr_steps({}) == []
