"""Every entry of the seat and contact tables is walked through the engine; illegal pairs raise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acd.core import (
    AcdSettings,
    CallbackRequested,
    ContactAbandoned,
    ContactEnded,
    IllegalTransition,
    OfferAccepted,
    OfferRejected,
    QueueConfig,
    QueueConfigured,
    SeatGone,
    SeatLoggedIn,
    SeatLoggedOut,
    SeatNotReady,
    SeatReady,
    TalkResumed,
    Tick,
    WrapUpDone,
)
from acd.core.engine import Acd, UnknownId
from acd.core.routing import RoutingMixin
from acd.core.states import CONTACT_TABLE, SEAT_TABLE, next_contact_state, next_seat_state
from tests.unit.acd.helpers import Rig

NO_WRAP = AcdSettings(wrap_up_s={"voice": 0.0, "chat": 0.0})
WRAP = AcdSettings(wrap_up_s={"voice": 10.0, "chat": 0.0})
CHATS = AcdSettings(max_chats=2, wrap_up_s={"voice": 0.0, "chat": 0.0})


def _seat_lifecycle() -> None:
    r = Rig(NO_WRAP)
    r.seat("s", ready=False)
    assert r.state("s") == "not_ready"
    r.feed(SeatReady(1, "s"))
    r.feed(SeatReady(2, "s"))
    r.feed(SeatNotReady(3, "s", "meal"))
    assert r.state("s") == "not_ready" and r.acd.seat_state("s")["reason"] == "meal"
    r.feed(SeatNotReady(4, "s", "training"))
    assert r.acd.seat_state("s")["reason"] == "training"
    r.feed(SeatLoggedOut(5, "s"))
    assert "s" not in r.acd.index.seats
    for event in (SeatLoggedOut(6, "a"), SeatGone(6, "b")):
        r.seat(event.seat_id, now=6)
        r.feed(event)
    r.seat("c", now=7, ready=False)
    r.feed(SeatGone(8, "c"))


def _voice_call_with_wrap_up() -> None:
    r = Rig(WRAP)
    r.seat("s")
    r.call("c", 1)
    assert r.offers() == [("c", "s")] and r.state("s") == "reserved"
    r.feed(OfferAccepted(2, "c", "s"))
    assert r.state("s") == "busy" and r.cstate("c") == "connected"
    r.feed(ContactEnded(60, "c"))
    assert r.state("s") == "wrap_up"
    r.feed(WrapUpDone(65, "s"))
    assert r.state("s") == "ready"
    # pause during wrap-up takes effect when it ends
    r.call("d", 70)
    r.feed(OfferAccepted(71, "d", "s"))
    r.feed(ContactEnded(80, "d"))
    r.feed(SeatNotReady(81, "s", "meeting"))
    r.feed(SeatReady(82, "s"))  # resume: cancels the pending pause
    r.feed(SeatNotReady(83, "s", "meeting"))
    r.feed(Tick(90))  # wrap-up timer (10 s) ends it
    assert r.state("s") == "not_ready" and r.acd.seat_state("s")["reason"] == "meeting"
    r.feed(SeatReady(99, "s"))
    for t, leave in ((100, SeatLoggedOut), (200, SeatGone)):
        if "s" not in r.acd.index.seats:
            r.seat("s", now=t)
        r.call(f"x{t}", t)
        r.feed(OfferAccepted(t + 1, f"x{t}", "s"))
        r.feed(ContactEnded(t + 2, f"x{t}"))
        assert r.state("s") == "wrap_up"
        r.feed(leave(t + 3, "s"))
        assert "s" not in r.acd.index.seats


def _offers_not_taken() -> None:
    r = Rig(AcdSettings(rona_limit=2, wrap_up_s={"voice": 0.0}))
    r.seat("s")
    r.seat("t", ready=False)
    r.call("c", 1)
    r.feed(OfferRejected(2, "c", "s"))  # release_idle, then offered again (no one else)
    assert r.offers() == [("c", "s")] and r.cstate("c") == "offered"
    r.feed(Tick(2 + 15))  # ring timeout: second miss -> not_ready("no_answer")
    assert r.state("s") == "not_ready" and r.acd.seat_state("s")["reason"] == "no_answer"
    assert r.cstate("c") == "waiting"
    r.feed(SeatReady(20, "t"))
    assert r.offers() == [("c", "t")]
    r.feed(SeatNotReady(21, "t", "break"))  # pause while reserved: pending
    r.feed(SeatReady(22, "t"))  # resume
    r.feed(SeatNotReady(23, "t", "break"))
    r.feed(OfferRejected(24, "c", "t"))  # release_paused because of the pending pause
    assert r.state("t") == "not_ready" and r.cstate("c") == "waiting"
    r.feed(SeatReady(25, "t"))
    r.feed(SeatLoggedOut(26, "t"))  # logout while reserved: contact back in line
    assert r.of(type(r.out[0])) and r.cstate("c") == "waiting"
    r.seat("u", now=27)
    assert r.offers() == [("c", "u")]
    r.feed(SeatGone(28, "u"))
    assert r.cstate("c") == "waiting" and "u" not in r.acd.index.seats
    r.feed(ContactAbandoned(29, "c"))
    assert "c" not in r.acd.contacts


def _chats() -> None:
    r = Rig(CHATS)
    r.seat("s")
    r.call("a", 1, channel="webchat")
    r.feed(OfferAccepted(2, "a", "s"))
    r.call("b", 3, channel="wechat")  # busy seat with room: offered
    assert r.offers() == [("b", "s")]
    r.feed(ContactEnded(4, "a"))  # a chat ends while another offer rings
    assert r.state("s") == "reserved"
    r.feed(OfferRejected(5, "b", "s"))  # release_idle, offered again at once
    assert r.offers() == [("b", "s")]
    r.feed(OfferAccepted(6, "b", "s"))
    r.call("c", 7, channel="webchat")
    r.feed(OfferAccepted(8, "c", "s"))
    assert r.state("s") == "busy" and len(r.acd.seat_state("s")["chats"]) == 2
    r.call("d", 9, channel="webchat")  # full: waits
    assert r.cstate("d") == "waiting"
    r.feed(ContactEnded(10, "b"))  # end_busy, then the freed room takes d
    assert r.offers() == [("d", "s")]
    r.feed(OfferRejected(11, "d", "s"))  # release_busy: still holds c
    assert r.state("s") in ("busy", "reserved")
    r.feed(OfferAccepted(12, "d", "s")) if r.offers() else None
    r.feed(SeatNotReady(13, "s", "break"))  # busy: pending
    r.feed(SeatReady(14, "s"))  # busy: resume
    r.feed(SeatNotReady(15, "s", "break"))
    r.feed(ContactEnded(16, "c"))
    r.feed(ContactEnded(17, "d"))  # last one: end_paused
    assert r.state("s") == "not_ready"
    r.feed(SeatReady(18, "s"))
    r.call("e", 19, channel="webchat")
    r.feed(OfferAccepted(20, "e", "s"))
    r.feed(SeatGone(21, "s"))  # the chat goes back to the queue
    assert r.cstate("e") == "waiting"


def _voice_end_and_gone() -> None:
    r = Rig(NO_WRAP)
    r.seat("s")
    r.call("c", 1)
    r.feed(OfferAccepted(2, "c", "s"))
    r.feed(ContactEnded(3, "c"))
    assert r.state("s") == "ready"
    r.call("d", 4)
    r.feed(OfferAccepted(5, "d", "s"))
    r.feed(SeatGone(6, "s"))
    assert "d" not in r.acd.contacts


def _callbacks_and_overflow() -> None:
    r = Rig(NO_WRAP, max_wait_s=100.0, overflow="queue:q2")
    r.feed(QueueConfigured(0, QueueConfig("q2", max_wait_s=300.0, overflow="message")))
    r.call("c", 1)
    r.feed(CallbackRequested(2, "c", "13800000000"))
    assert r.cstate("c") == "callback"
    r.call("d", 3)
    r.feed(Tick(101))  # c overflows into q2 and keeps waiting for its call-back
    assert r.acd.contacts["c"].queue == "q2" and r.cstate("c") == "callback"
    r.feed(Tick(104))
    assert r.acd.contacts["d"].queue == "q2" and r.cstate("d") == "waiting"
    r.feed(Tick(310))  # d waited too long in q2 as well: closing message; c is not dropped
    assert "d" not in r.acd.contacts and r.cstate("c") == "callback"
    r.seat("s", now=311)
    assert r.offers() == [("c", "s")]
    r.feed(OfferRejected(312, "c", "s"))  # back to waiting for its call-back, offered again
    assert r.offers() == [("c", "s")]
    r2 = Rig(NO_WRAP)
    r2.call("e", 1)
    r2.feed(CallbackRequested(2, "e", "1"))
    r2.feed(ContactAbandoned(3, "e"))  # call-back cancelled
    r2.call("f", 4)
    r2.seat("s", now=5)
    r2.feed(ContactAbandoned(6, "f"))  # hung up while ringing
    assert r2.state("s") == "ready"


def _talks_resumed_after_a_restart() -> None:
    r = Rig(NO_WRAP)
    r.feed(TalkResumed(10, "c", "q", "s", enqueued_at=1, answered_at=3))  # its seat signs in later
    r.seat("s", now=11)
    assert r.state("s") == "busy"
    r.feed(ContactEnded(12, "c"))
    r.seat("t", now=13)
    r.feed(TalkResumed(14, "d", "q", "t", enqueued_at=2, answered_at=4))  # signed in and ready
    r.seat("u", now=15, ready=False)
    r.feed(TalkResumed(16, "e", "q", "u", enqueued_at=2, answered_at=4))  # signed in, not ready
    assert (r.state("t"), r.state("u")) == ("busy", "busy")


SCENARIOS = [_seat_lifecycle, _voice_call_with_wrap_up, _offers_not_taken, _chats, _voice_end_and_gone,
             _callbacks_and_overflow, _talks_resumed_after_a_restart]  # fmt: skip


def test_scenarios_walk_every_entry_of_both_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    seen_seat: set[tuple[str, str]] = set()
    seen_contact: set[tuple[str, str]] = set()
    seat_action = Acd._seat_action
    contact_action = RoutingMixin._contact_action

    def record_seat(self: Acd, seat: Any, action: str, reason: str = "", refresh: bool = True) -> None:
        seen_seat.add((seat.state, action))
        seat_action(self, seat, action, reason, refresh)

    def record_contact(self: Acd, contact: Any, action: str) -> None:
        seen_contact.add((contact.state, action))
        contact_action(self, contact, action)

    monkeypatch.setattr(Acd, "_seat_action", record_seat)
    monkeypatch.setattr(Acd, "_contact_action", record_contact)
    for scenario in SCENARIOS:
        scenario()
    all_seat = {(s, a) for s, row in SEAT_TABLE.items() for a in row}
    all_contact = {(s, a) for s, row in CONTACT_TABLE.items() for a in row}
    assert all_seat - seen_seat == set()
    assert all_contact - seen_contact == set()


@pytest.mark.parametrize("table,step", [(SEAT_TABLE, next_seat_state), (CONTACT_TABLE, next_contact_state)])
def test_every_pair_missing_from_a_table_raises(table: dict[str, dict[str, str]], step: Any) -> None:
    actions = {a for row in table.values() for a in row}
    for state, row in table.items():
        for action in actions:
            if action in row:
                assert step("x", state, action) == row[action]
            else:
                with pytest.raises(IllegalTransition, match=action):
                    step("x", state, action)


def _frozen(acd: Acd) -> str:
    return json.dumps(acd.snapshot(), sort_keys=True)


@pytest.mark.parametrize(
    "event",
    [
        OfferAccepted(5, "c", "t"),  # not offered to t
        SeatLoggedOut(5, "s"),  # busy seats cannot log out
        WrapUpDone(5, "s"),  # not in wrap-up
        SeatLoggedIn(5, "s"),  # already logged in
        ContactEnded(5, "nobody"),
        SeatReady(5, "nobody"),
        Tick(1),  # time going backwards
        Tick("soon"),  # type: ignore[arg-type]
        SeatLoggedIn(5, "u", (("general", 9),)),  # proficiency out of 1-5
    ],
)
def test_an_illegal_event_raises_and_changes_nothing(event: Any) -> None:
    r = Rig(NO_WRAP)
    r.seat("s")
    r.seat("t", ready=False)
    r.call("c", 2)
    r.feed(OfferAccepted(3, "c", "s"))
    before = _frozen(r.acd)
    with pytest.raises((IllegalTransition, UnknownId, ValueError)):
        r.feed(event)
    after = json.loads(_frozen(r.acd))
    after["now"] = json.loads(before)["now"]  # only the clock may have moved
    assert json.dumps(after, sort_keys=True) == before
