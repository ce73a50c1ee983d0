"""A call talking through an engine restart: the seat it was talking to gets it back (busy from
its first moment when it signs in again), nothing is counted twice, and it ends cleanly whether
or not the seat came back."""

from __future__ import annotations

import pytest

from acd.core import (
    Acd,
    AcdSettings,
    ContactArrived,
    ContactEnded,
    OfferAccepted,
    SeatLoggedIn,
    SeatReplied,
    TalkResumed,
    WrapUpDone,
    event_from_dict,
    event_to_dict,
)
from tests.unit.acd.helpers import Rig

NO_WRAP = AcdSettings(wrap_up_s={"voice": 0.0, "chat": 0.0})


def resumed(now: float = 100.0, contact: str = "c1", seat: str = "s") -> TalkResumed:
    return TalkResumed(now, contact, "q", seat, enqueued_at=40.0, answered_at=55.0, caller="13800000001")


def test_a_seat_that_signs_in_again_is_busy_on_its_call_and_gets_no_offer_for_another() -> None:
    r = Rig(NO_WRAP)
    r.feed(resumed())
    r.call("c2", 101.0)  # waiting meanwhile
    out = r.seat("s", now=102.0)  # signs in ready: busy on its call, not offered c2
    assert r.state("s") == "busy" and r.offers() == []
    assert r.acd.seat_state("s")["voice"] == "c1" and r.acd.contacts["c1"].seat == "s"
    assert out and out[0].state == "busy"
    r.feed(ContactEnded(130.0, "c1"))  # the talk ends: ready, and now c2 is offered
    assert r.offers() == [("c2", "s")]
    (row,) = r.acd.interval_stats()
    # c1 counted nothing again (offered and answered before the restart); c2 was offered once.
    assert (row["offered"], row["answered"], row["handled"]) == (1, 0, 1)
    assert row["handle_sum"] == pytest.approx(75.0)  # from its first answer at 55 s to 130 s


def test_a_seat_given_back_its_full_hand_of_chats_is_offered_no_more_until_one_ends() -> None:
    r = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    for n in range(3):
        r.feed(TalkResumed(100.0, f"w{n}", "q", "s", 40.0 + n, 50.0 + n, caller=f"wx{n}", channel="webchat"))
    r.call("w3", 101.0, channel="webchat")  # waiting meanwhile
    r.seat("s", now=102.0)
    assert r.acd.seat_state("s")["chats"] == ["w0", "w1", "w2"] and r.offers() == []
    r.feed(ContactEnded(110.0, "w1"))
    assert r.offers() == [("w3", "s")]


def test_a_seat_signing_in_not_ready_is_not_ready_again_after_the_call() -> None:
    r = Rig(NO_WRAP)
    r.feed(resumed())
    r.seat("s", now=102.0, ready=False)
    assert r.state("s") == "busy"
    r.feed(ContactEnded(110.0, "c1"))
    assert r.state("s") == "not_ready"


def test_a_seat_already_signed_in_gets_its_call_back_at_once_and_keeps_its_pause() -> None:
    r = Rig(AcdSettings(wrap_up_s={"voice": 5.0, "chat": 0.0}))
    r.seat("s", now=90.0, ready=False)
    r.feed(resumed())
    assert r.state("s") == "busy" and "s" not in r.acd.detached
    r.feed(ContactEnded(110.0, "c1"))
    assert r.state("s") == "wrap_up"
    r.feed(WrapUpDone(111.0, "s"))
    assert r.state("s") == "not_ready"


def test_a_call_that_ends_before_its_seat_returns_is_closed_without_a_seat() -> None:
    r = Rig(NO_WRAP)
    r.feed(resumed())
    assert r.acd.detached == {"s": ["c1"]}
    r.feed(ContactEnded(120.0, "c1"))
    assert "c1" not in r.acd.contacts and r.acd.detached == {}
    r.seat("s", now=121.0)
    assert r.state("s") == "ready"


def test_refusals_change_nothing() -> None:
    r = Rig(NO_WRAP)
    r.seat("s", now=1.0)
    r.call("c0", 2.0)
    r.feed(OfferAccepted(3.0, "c0", "s"))
    before = r.acd.snapshot()
    for bad in (
        resumed(contact="c0"),  # already in the engine
        resumed(seat="s"),  # the seat is on another call
        TalkResumed(100.0, "c9", "nowhere", "t", 1.0, 2.0),  # unknown queue
    ):
        with pytest.raises(ValueError):
            r.feed(bad)
    r.feed(resumed(contact="c1", seat="t"))
    with pytest.raises(ValueError):
        r.feed(resumed(contact="c2", seat="t"))  # t already has a call waiting for it
    after = r.acd.snapshot()
    assert [c["id"] for c in after["contacts"]] == [c["id"] for c in before["contacts"]] + ["c1"]


def test_a_waiting_talk_survives_the_cores_snapshot_and_the_event_log() -> None:
    r = Rig(NO_WRAP)
    r.feed(resumed())
    copy = Acd.restore(r.acd.snapshot())
    assert copy.detached == {"s": ["c1"]}
    copy.handle(SeatLoggedIn(102.0, "s", (("general", 3),), ready=True))
    assert copy.seat_state("s")["voice"] == "c1"
    assert event_from_dict(event_to_dict(resumed())) == resumed()


def test_a_resumed_call_is_not_taken_by_routing() -> None:
    r = Rig(NO_WRAP)
    r.feed(resumed())
    r.seat("other", now=101.0)
    assert r.offers() == [] and r.state("other") == "ready"
    r.feed(ContactArrived(102.0, "c3", "voice", "q"))
    assert r.offers() == [("c3", "other")]


def chat(contact: str, seat: str = "s", now: float = 100.0, replied: bool = False) -> TalkResumed:
    return TalkResumed(now, contact, "q", seat, enqueued_at=30.0, answered_at=31.0, channel="webchat", replied=replied)


def test_a_seats_chats_come_back_to_it_when_it_signs_in_and_count_nothing_again() -> None:
    r = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    r.feed(chat("w1", replied=True))
    r.feed(chat("w2"))
    r.call("w3", 101.0, channel="webchat")
    assert r.acd.detached == {"s": ["w1", "w2"]}
    r.seat("s", now=102.0, max_chats=3)
    assert r.acd.seat_state("s")["chats"] == ["w1", "w2"]
    assert r.offers() == [("w3", "s")] and r.state("s") == "reserved"  # room for a third: offered
    r.feed(SeatReplied(103.0, "w1"))  # replied before the restart: not counted again
    r.feed(SeatReplied(104.0, "w2"))  # its first reply: counted
    r.feed(ContactEnded(110.0, "w1"))
    r.feed(ContactEnded(111.0, "w2"))
    row = next(x for x in r.acd.interval_stats() if x["interval"] == 0)
    # Only w3 (new) is counted as offered; w1 and w2 counted their offer and answer before.
    assert (row["offered"], row["answered"], row["replied"], row["handled"]) == (1, 0, 1, 2)


def test_a_chat_given_back_to_a_seat_busy_on_other_chats_joins_them() -> None:
    r = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    r.seat("s", now=1.0, max_chats=3)
    r.call("w0", 2.0, channel="webchat")
    r.feed(OfferAccepted(3.0, "w0", "s"))
    r.feed(chat("w1"))
    assert r.acd.seat_state("s")["chats"] == ["w0", "w1"] and r.acd.detached == {}
    copy = Acd.restore(r.acd.snapshot())
    assert copy.detached == {} and copy.seat_state("s")["chats"] == ["w0", "w1"]
