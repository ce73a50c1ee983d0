"""Every statistic on a hand-made day with the numbers worked out by hand."""

from __future__ import annotations

import pytest

from acd.core import (
    AcdSettings,
    ContactAbandoned,
    ContactEnded,
    OfferAccepted,
    SeatNotReady,
    SeatReady,
    SeatReplied,
    Tick,
    WrapUpDone,
)
from acd.core.stats import Stats
from tests.unit.acd.helpers import Rig


def _voice_day(short_abandon_s: float) -> Rig:
    """Four calls: answered after 10 s and 20 s, abandoned after 3 s and 30 s."""
    r = Rig(AcdSettings(short_abandon_s=short_abandon_s, wrap_up_s={"voice": 0.0}))
    r.seat("s", now=0, ready=False)
    for i, t in enumerate((100, 101, 102, 103)):
        r.call(f"c{i}", t)
    r.feed(ContactAbandoned(105, "c2"))  # 3 s
    r.feed(SeatReady(110, "s"))
    r.feed(OfferAccepted(110, "c0", "s"))  # 10 s
    r.feed(ContactAbandoned(133, "c3"))  # 30 s
    r.feed(ContactEnded(140, "c0"))  # handled 30 s
    r.feed(OfferAccepted(141, "c1", "s"))  # 40 s
    r.feed(ContactEnded(151, "c1"))  # handled 10 s
    return r


def test_fifteen_second_rate_counts_every_abandon_by_default() -> None:
    (row,) = _voice_day(0.0).acd.interval_stats()
    assert (row["offered"], row["answered"], row["answered_within"], row["abandoned"]) == (4, 2, 1, 2)
    assert row["short_abandoned"] == 0
    assert row["sl15"] == pytest.approx(1 / 4)
    assert row["connection_rate"] == pytest.approx(2 / 4)
    assert row["asa_s"] == pytest.approx((10 + 40) / 2)
    assert row["aht_s"] == pytest.approx((30 + 10) / 2)


def test_short_abandons_leave_the_denominator_when_the_option_is_set() -> None:
    (row,) = _voice_day(5.0).acd.interval_stats()
    assert row["short_abandoned"] == 1
    assert row["sl15"] == pytest.approx(1 / 3)
    assert row["connection_rate"] == pytest.approx(2 / 4)  # the option touches the 15 s rate only


def test_internet_response_rate_uses_the_first_seat_reply_within_t() -> None:
    def rate(t: float) -> float:
        r = Rig(AcdSettings(internet_response_s=t, max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}))
        r.seat("s", now=0, ready=False)
        for i in range(3):
            r.call(f"w{i}", 10, channel="wechat" if i else "webchat")
        r.feed(SeatReady(20, "s"))
        for _ in range(3):
            if r.offers():
                r.feed(OfferAccepted(20, r.offers()[0][0], "s"))
        r.feed(SeatReplied(40, "w0"))  # 30 s after asking
        r.feed(SeatReplied(41, "w0"))  # a second reply does not count again
        r.feed(SeatReplied(100, "w1"))  # 90 s
        r.feed(ContactEnded(110, "w2"))  # never got a reply
        rows = r.acd.stats.report(by=("queue",))
        return float(rows[0]["internet_response_rate"])

    assert rate(60.0) == pytest.approx(1 / 3)
    assert rate(100.0) == pytest.approx(2 / 3)


def test_occupancy_is_working_time_over_available_time() -> None:
    r = Rig(AcdSettings(wrap_up_s={"voice": 10.0}))
    r.seat("s", now=0)  # ready 0-100
    r.call("c", 100)  # reserved 100-105
    r.feed(OfferAccepted(105, "c", "s"))  # busy 105-160
    r.feed(ContactEnded(160, "c"))  # wrap-up 160-170
    r.feed(WrapUpDone(170, "s"))  # ready 170-200
    r.feed(SeatNotReady(200, "s", "break"))  # not counted: 200-300
    r.feed(SeatReady(300, "s"))
    r.feed(Tick(400))  # ready 300-400 is only booked when the state changes
    r.feed(SeatNotReady(400, "s", "break"))
    assert r.acd.stats.occupancy() == pytest.approx(70 / 300)


def test_rows_split_by_quarter_hour_and_merge_into_half_hours() -> None:
    r = Rig(AcdSettings(wrap_up_s={"voice": 0.0}))
    r.seat("s", now=0)
    for t, cid in ((10, "a"), (905, "b"), (1799, "c")):
        r.call(cid, t)
        r.feed(OfferAccepted(t + 20, cid, "s"))  # 20 s: late
        r.feed(ContactEnded(t + 30, cid))
    quarter = [(x["interval"], x["offered"], x["answered_within"]) for x in r.acd.interval_stats(900)]
    assert quarter == [(0, 1, 0), (900, 2, 0)]
    half = r.acd.interval_stats(1800)
    assert [(x["interval"], x["offered"], x["asa_s"]) for x in half] == [(0, 3, 20.0)]
    with pytest.raises(ValueError, match="multiple of 900"):
        r.acd.interval_stats(1000)


def test_seat_time_is_split_over_interval_boundaries() -> None:
    stats = Stats(900, 0.0, 60.0)
    stats.seat_state_time("busy", 800.0, 1000.0)
    stats.seat_state_time("ready", 1000.0, 1100.0)
    assert stats.seat_time == {(0, "busy"): 100.0, (900, "busy"): 100.0, (900, "ready"): 100.0}
    assert stats.occupancy(900, 900) == pytest.approx(0.5)
    assert stats.occupancy(0, 900) == pytest.approx(1.0)


def test_live_view_shows_waiting_longest_wait_and_seats_by_state() -> None:
    r = Rig(AcdSettings(wrap_up_s={"voice": 0.0}))
    r.seat("s", now=0, ready=False)
    r.call("a", 10)
    r.call("b", 25)
    r.feed(Tick(40))
    live = r.acd.live_stats()
    assert live["queues"]["q"] == {"queue": "q", "waiting": 2, "longest_wait_s": 30.0}
    assert live["seats"]["not_ready"] == 1 and live["seats"]["ready"] == 0
    assert live["totals"][0]["offered"] == 2
