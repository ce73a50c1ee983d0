"""Routing order, widening, RONA, capacity, call-backs and overflow, each on a small hand-made case."""

from __future__ import annotations

import pytest

from acd.core import (
    Acd,
    AcdSettings,
    Announce,
    CallbackRequested,
    CancelOffer,
    ContactArrived,
    ContactEnded,
    Offer,
    OfferAccepted,
    OfferFailed,
    OfferRejected,
    Overflow,
    QueueConfig,
    QueueConfigured,
    SeatGone,
    SeatNotReady,
    SeatReady,
    SeatSkillsChanged,
    StartCallback,
    Tick,
    Widened,
)
from tests.unit.acd.helpers import Rig

NO_WRAP = AcdSettings(wrap_up_s={"voice": 0.0, "chat": 0.0})


def _busy(r: Rig, seat: str, contact: str, now: float, **kw: object) -> None:
    r.seat(seat, now=now, **kw)  # type: ignore[arg-type]
    r.call(contact, now)
    assert r.offers() == [(contact, seat)]
    r.feed(OfferAccepted(now, contact, seat))


def test_higher_priority_is_served_first_even_when_it_came_later() -> None:
    r = Rig(NO_WRAP)
    _busy(r, "s", "x", 0)
    r.call("normal", 1)
    r.call("urgent", 2, priority="emergency")
    r.feed(ContactEnded(3, "x"))
    assert r.offers() == [("urgent", "s")]


def test_fifo_within_equal_priority_and_skills() -> None:
    r = Rig(NO_WRAP)
    _busy(r, "s", "x", 0)
    for i in range(3):
        r.call(f"c{i}", 1 + i)
    served = []
    last = "x"
    for t in (10, 20, 30):
        r.feed(ContactEnded(t, last))
        ((cid, _),) = r.offers()
        served.append(cid)
        r.feed(OfferAccepted(t, cid, "s"))
        last = cid
    assert served == ["c0", "c1", "c2"]


def test_longest_idle_seat_gets_the_next_call() -> None:
    r = Rig(NO_WRAP)
    r.seat("late", now=0, ready=False)
    r.seat("early", now=0)
    r.feed(SeatReady(5, "late"))
    r.call("c", 6)
    assert r.offers() == [("c", "early")]


def test_highest_proficiency_strategy_prefers_the_expert() -> None:
    r = Rig(NO_WRAP, strategy="highest_proficiency", skills=(("tax", 1),))
    r.seat("novice", skills=(("tax", 2),))
    r.seat("expert", now=1, skills=(("tax", 5),))
    r.call("c", 2)
    assert r.offers() == [("c", "expert")]


def test_least_skilled_strategy_keeps_the_specialist_free() -> None:
    r = Rig(NO_WRAP, strategy="least_skilled")
    r.seat("polyglot", now=0, skills=(("general", 3), ("lang:yue", 3), ("business", 2)))
    r.seat("plain", now=5)
    r.call("c", 6)
    assert r.offers() == [("c", "plain")]


def test_least_occupied_strategy_prefers_the_seat_that_worked_less() -> None:
    r = Rig(NO_WRAP, strategy="least_occupied")
    r.seat("worked", now=0)
    r.seat("fresh", now=0, ready=False)
    r.call("x", 0)
    r.feed(OfferAccepted(1, "x", "worked"))
    r.feed(ContactEnded(100, "x"))  # 'worked' has been busy 99 s and idle since 100
    r.feed(SeatReady(200, "fresh"))  # 'fresh' is the more recently idle one
    r.call("c", 201)
    assert r.offers() == [("c", "fresh")]


def test_repeat_caller_gets_the_seat_that_served_them_when_it_is_ready() -> None:
    r = Rig(NO_WRAP)
    r.seat("a", now=0)
    r.seat("b", now=1)
    r.call("first", 2, caller="13900000000")
    assert r.offers() == [("first", "a")]
    r.feed(OfferAccepted(3, "first", "a"))
    r.feed(ContactEnded(4, "first"))  # now b is the longest idle
    r.call("again", 5, caller="13900000000")
    assert r.offers() == [("again", "a")]
    assert "repeat caller" in r.of(type(r.out[-1]))[0].reason


def test_projected_wait_widens_at_once_instead_of_waiting_for_a_timer() -> None:
    r = Rig(NO_WRAP)
    _busy(r, "biz", "x", 0, skills=(("general", 3), ("business", 4)))
    r.seat("gen", now=1)
    r.call("c", 2, preferred=(("business", 3),))
    widened = r.of(Widened)
    assert widened and "projected wait 240 s" in widened[0].reason
    assert r.offers() == [("c", "gen")]


def test_without_projection_only_the_fixed_timer_widens() -> None:
    r = Rig(NO_WRAP, widen_on_projection=False, widen_after_s=(20.0, 30.0, 40.0, 50.0))
    _busy(r, "biz", "x", 0, skills=(("general", 3), ("business", 4)))
    r.seat("gen", now=1)
    r.call("c", 2, preferred=(("business", 3),))
    assert r.offers() == [] and r.cstate("c") == "waiting"
    r.feed(Tick(21))
    assert r.of(Widened) == []
    r.feed(Tick(22))
    assert r.of(Widened)[0].reason.startswith("proficiency: waited 20 s")
    r.feed(Tick(32))
    assert r.offers() == [("c", "gen")]


def test_no_widening_while_the_projection_meets_the_target() -> None:
    r = Rig(NO_WRAP)
    for i in range(40):  # 40 busy specialists: next free in about 240/40 = 6 s < 7.5 s
        _busy(r, f"biz{i}", f"x{i}", 0, skills=(("business", 4),))
    r.seat("gen", now=1)
    r.call("c", 2, preferred=(("business", 3),))
    assert r.of(Widened) == [] and r.offers() == []
    assert r.acd.contact_position("c")["position"] == 1


def test_rona_requeues_at_original_position() -> None:
    r = Rig(AcdSettings(rona_limit=1, wrap_up_s={"voice": 0.0}))
    _busy(r, "a", "x", 0)
    r.seat("b", now=0, ready=False)
    r.call("c1", 1)
    r.call("c2", 2)
    r.feed(ContactEnded(3, "x"))
    assert r.offers() == [("c1", "a")]
    r.feed(Tick(3 + 15))
    assert r.of(CancelOffer) == [CancelOffer("c1", "a", "no answer within 15 s", "voice")]
    assert r.state("a") == "not_ready" and r.acd.seat_state("a")["reason"] == "no_answer"
    assert r.acd.contact_position("c1")["position"] == 1
    assert r.acd.contact_position("c2")["position"] == 2
    r.feed(SeatReady(20, "b"))
    assert r.offers() == [("c1", "b")]


def test_seat_goes_not_ready_only_after_the_configured_count_of_misses() -> None:
    r = Rig(AcdSettings(rona_limit=3, wrap_up_s={"voice": 0.0}))
    r.seat("a")
    r.call("c", 1)
    for i in range(2):
        r.feed(OfferFailed(2 + i, "c", "a", "no_answer"))
        assert r.state("a") == "reserved" and r.offers() == [("c", "a")]
    r.feed(OfferRejected(5, "c", "a"))
    assert r.state("a") == "not_ready" and r.cstate("c") == "waiting"


def test_a_seat_that_answered_but_was_not_connected_counts_no_miss() -> None:
    r = Rig(AcdSettings(rona_limit=1, wrap_up_s={"voice": 0.0}))
    r.seat("a")
    r.call("c", 1)
    assert r.offers() == [("c", "a")]
    r.call("d", 2)
    r.feed(OfferFailed(3, "c", "a", "not_connected"))
    # With rona_limit 1 a real miss would pause the seat; this one is the engine's failure.
    assert r.state("a") == "reserved" and r.offers() == [("c", "a")]
    assert r.acd.contact_position("d")["position"] == 1
    r.feed(OfferAccepted(4, "c", "a"))
    assert r.acd.seat_state("a")["state"] == "busy"


def test_a_seat_holding_chats_finishes_them_before_a_miss_pauses_it() -> None:
    chats = AcdSettings(max_chats=2, rona_limit=1, wrap_up_s={"voice": 0.0, "chat": 0.0})
    for miss in ("rejected", "unreachable", "paused while ringing"):
        r = Rig(chats)
        r.seat("s")
        r.call("w0", 1, channel="webchat")
        r.feed(OfferAccepted(1, "w0", "s"))
        r.call("w1", 2, channel="webchat")
        assert r.offers() == [("w1", "s")]
        if miss == "rejected":
            r.feed(OfferRejected(3, "w1", "s"))
        elif miss == "unreachable":
            r.feed(OfferFailed(3, "w1", "s", "unreachable"))
        else:
            r.feed(SeatNotReady(2.5, "s", "meal"))
            r.feed(OfferRejected(3, "w1", "s"))
        assert r.state("s") == "busy" and r.acd.seat_state("s")["chats"] == ["w0"], miss
        r.call("v", 4)
        assert r.offers() == [], miss  # no call while a chat is in hand, and none after: the pause waits
        r.feed(ContactEnded(5, "w0"))
        assert r.state("s") == "not_ready" and r.offers() == [], miss


def test_answered_offer_resets_the_miss_count() -> None:
    r = Rig(AcdSettings(rona_limit=2, wrap_up_s={"voice": 0.0}))
    r.seat("a")
    r.call("c", 1)
    r.feed(OfferRejected(2, "c", "a"))
    r.feed(OfferAccepted(3, "c", "a"))
    r.feed(ContactEnded(4, "c"))
    r.call("d", 5)
    r.feed(OfferRejected(6, "d", "a"))
    assert r.state("a") == "reserved"  # one miss since the last answer: still offered


def test_unreachable_seat_is_paused_at_once_and_the_call_goes_elsewhere() -> None:
    r = Rig(NO_WRAP)
    r.seat("cloud1", kind="cloud", ring_delay_s=4.0)
    r.seat("b", now=1, ready=False)
    r.call("c", 2)  # only a cloud seat: widened to it
    assert r.offers() == [("c", "cloud1")] and r.of(type(r.out[-1]))[0].ring_timeout_s == 19.0
    r.feed(SeatReady(3, "b"))
    r.feed(OfferFailed(4, "c", "cloud1", "unregistered"))
    assert r.state("cloud1") == "not_ready" and r.acd.seat_state("cloud1")["reason"] == "unreachable"
    assert r.offers() == [("c", "b")]


def test_a_seat_that_vanishes_mid_offer_frees_the_contact_at_once() -> None:
    r = Rig(NO_WRAP)
    r.seat("a")
    r.call("c", 1)
    r.seat("b", now=2)
    r.feed(SeatGone(3, "a"))
    assert r.of(CancelOffer)[0].contact_id == "c"
    assert r.offers() == [("c", "b")]


def test_voice_takes_the_whole_seat() -> None:
    r = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    r.seat("s")
    r.call("chat", 1, channel="wechat")
    r.feed(OfferAccepted(2, "chat", "s"))
    r.call("voice", 3)
    assert r.offers() == [] and r.cstate("voice") == "waiting"
    r.feed(ContactEnded(4, "chat"))
    assert r.offers() == [("voice", "s")]


def test_chats_share_a_seat_up_to_the_limit() -> None:
    r = Rig(AcdSettings(max_chats=2, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    r.seat("s")
    for i in range(3):
        r.call(f"w{i}", 1 + i, channel="webchat")
        if r.offers():
            r.feed(OfferAccepted(1 + i, f"w{i}", "s"))
    assert r.acd.seat_state("s")["chats"] == ["w0", "w1"]
    assert r.cstate("w2") == "waiting"


def test_a_seat_for_chats_only_is_never_offered_a_call_and_one_for_calls_never_a_chat() -> None:
    """网络座席 and 话务座席: a seat signed in for chats only waits out a call that no one else can
    take, and a seat for calls only (max_chats 0) leaves every chat to others, also after a restore."""
    r = Rig(AcdSettings(max_chats=2, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    r.seat("web", now=0, calls=False)
    r.call("v1", 1)
    assert r.offers() == [] and r.cstate("v1") == "waiting"
    assert r.acd.queue_snapshot("q")["waiting"] == 1
    r.call("w1", 2, channel="webchat")
    assert r.offers() == [("w1", "web")]
    r.feed(OfferAccepted(2, "w1", "web"))
    r.seat("phone", now=3, max_chats=0)
    assert r.offers() == [("v1", "phone")]
    r.feed(OfferAccepted(4, "v1", "phone"))
    r.feed(ContactEnded(5, "v1"))
    r.call("w2", 6, channel="webchat")
    assert r.offers() == [("w2", "web")]  # the idle call seat is not given the chat
    again = Acd.restore(r.acd.snapshot())
    out = again.handle(ContactArrived(7, "v2", "voice", "q"))
    assert [(c.contact_id, c.seat_id) for c in out if isinstance(c, Offer)] == [("v2", "phone")]
    with pytest.raises(ValueError, match="calls or chats"):
        r.seat("nothing", now=8, calls=False, max_chats=0)


def _chats_then_a_call(**queue: object) -> Rig:
    """least_skilled: a chat goes to b while a is on a call; a's call ends, a second chat and then a call arrive."""
    r = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}), strategy="least_skilled", **queue)
    _busy(r, "a", "x", 0)
    r.seat("b", now=0, skills=(("general", 3), ("business", 3)))
    r.call("w0", 1, channel="webchat")
    assert r.offers() == [("w0", "b")]
    r.feed(OfferAccepted(1, "w0", "b"))
    r.feed(ContactEnded(2, "x"))
    r.call("w1", 3, channel="webchat")
    ((chat, seat),) = r.offers()
    r.feed(OfferAccepted(3, chat, seat))
    r.call("v", 4)
    return r


def test_packed_chats_leave_an_idle_seat_for_the_next_call() -> None:
    r = _chats_then_a_call(pack_chats=True)
    assert r.acd.seat_state("b")["chats"] == ["w0", "w1"]
    assert r.offers() == [("v", "a")]
    # without packing the second chat takes the idle seat with fewer skills, and the call waits
    spread = _chats_then_a_call()
    assert [spread.acd.seat_state(s)["chats"] for s in ("a", "b")] == [["w1"], ["w0"]]
    assert spread.offers() == [] and spread.cstate("v") == "waiting"


def test_packing_stops_at_the_chat_limit() -> None:
    r = Rig(AcdSettings(max_chats=2, wrap_up_s={"voice": 0.0, "chat": 0.0}), pack_chats=True)
    r.seat("a", now=0)
    r.seat("b", now=1)
    for i in range(3):
        r.call(f"w{i}", 2 + i, channel="webchat")
        ((chat, seat),) = r.offers()
        r.feed(OfferAccepted(2 + i, chat, seat))
    assert [r.acd.seat_state(s)["chats"] for s in ("a", "b")] == [["w0", "w1"], ["w2"]]


def test_turning_packing_on_re_sorts_the_seats_already_ready() -> None:
    r = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}), strategy="least_skilled")
    _busy(r, "b", "x", 0)
    r.seat("a", now=0, skills=(("general", 3), ("business", 3)))
    r.call("w0", 1, channel="webchat")
    r.feed(OfferAccepted(1, "w0", "a"))
    r.feed(ContactEnded(2, "x"))  # b idle, with fewer skills than a
    r.feed(QueueConfigured(3, QueueConfig("q", strategy="least_skilled", pack_chats=True)))
    r.call("w1", 4, channel="webchat")
    assert r.offers() == [("w1", "a")]


def test_chats_during_a_call_follow_the_setting() -> None:
    for allowed in (False, True):
        r = Rig(AcdSettings(max_chats=2, chats_during_call=allowed, wrap_up_s={"voice": 0.0, "chat": 0.0}))
        r.seat("s")
        r.call("v", 1)
        r.feed(OfferAccepted(2, "v", "s"))
        r.call("w", 3, channel="webchat")
        assert (r.offers() == [("w", "s")]) is allowed


def test_callback_keeps_its_place_and_counts_against_the_original_call() -> None:
    r = Rig(NO_WRAP)
    _busy(r, "s", "x", 0)
    r.call("c1", 10)
    r.call("c2", 11)
    r.feed(CallbackRequested(12, "c1", "13800000000"))
    r.feed(ContactEnded(100, "x"))
    assert r.offers() == [("c1", "s")]
    assert r.of(StartCallback) == [StartCallback("c1", "s", "13800000000", r.of(StartCallback)[0].reason)]
    assert r.of(type(r.out[-2]))[0].channel == "callback"
    r.feed(OfferAccepted(105, "c1", "s"))
    (row,) = [x for x in r.acd.interval_stats() if x["channel"] == "voice"]
    assert row["offered"] == 3 and row["callbacks"] == 1 and row["answered"] == 2
    assert row["wait_sum"] == 0 + 95  # x at once, c1 from its original 10 s to 105 s
    assert row["answered_within"] == 1  # c1 missed 15 s: the call-back does not hide it


def test_a_call_back_arriving_while_a_seat_is_free_is_offered_as_a_call_back() -> None:
    """A missed-call call-back (or one promised by the IVR, or resumed after a restart) arrives
    as one: with a seat free the arrival itself offers it, and the seat must call the number back
    (a CallbackRequested after the arrival came too late: the contact was offered already, and
    the seat was offered an empty line)."""
    r = Rig(NO_WRAP)
    r.seat("s")
    r.call("cb-1", 10, channel="callback", callback_number="13800000005")
    assert r.offers() == [("cb-1", "s")]
    (start,) = r.of(StartCallback)
    assert (start.contact_id, start.seat_id, start.number) == ("cb-1", "s", "13800000005")
    (row,) = [x for x in r.acd.interval_stats() if x["channel"] == "callback"]
    assert row["offered"] == 1 and row["callbacks"] == 1
    # With no seat free it waits as a call-back, and no announcement is due for an empty line.
    r.call("cb-2", 11, channel="callback", callback_number="13800000006")
    assert r.acd.contacts["cb-2"].state == "callback" and r.acd.contacts["cb-2"].next_announce is None
    for bad in ({"channel": "voice", "callback_number": "13800000007"}, {"channel": "callback", "callback_number": ""}):
        with pytest.raises(ValueError, match="call-back number"):
            r.call("cb-3", 12, **bad)
    assert "cb-3" not in r.acd.contacts


def test_queue_full_overflows_to_the_named_queue_and_counts_as_blocked() -> None:
    r = Rig(NO_WRAP, max_length=1, overflow="queue:spill")
    r.feed(QueueConfigured(0, QueueConfig("spill")))
    r.call("a", 1)
    r.call("b", 2)
    assert r.of(Overflow)[0].action == "queue:spill"
    assert r.acd.contacts["b"].queue == "spill"
    rows = {x["queue"]: x for x in r.acd.interval_stats()}
    assert rows["q"]["blocked"] == 1 and rows["q"]["offered"] == 1 and rows["spill"]["offered"] == 1


def test_max_wait_offers_a_callback_once() -> None:
    r = Rig(NO_WRAP, max_wait_s=60.0, overflow="callback")
    r.call("a", 0)
    r.feed(Tick(61))
    assert r.of(Overflow) == [Overflow("a", "callback", "waited 61 s >= max wait 60.0 s: offer a call-back")]
    r.feed(Tick(200))
    assert r.of(Overflow) == [] and r.cstate("a") == "waiting"


def test_closed_queue_sends_the_closing_message() -> None:
    r = Rig(NO_WRAP, open_hours=((8 * 60, 18 * 60),), utc_offset_s=0)
    r.seat("s")
    r.call("night", 3 * 3600)
    assert r.of(Overflow)[0].action == "message" and "night" not in r.acd.contacts
    r.call("day", 9 * 3600)
    assert r.offers() == [("day", "s")]


def test_announcements_give_position_and_expected_wait() -> None:
    r = Rig(NO_WRAP, announce_every_s=30.0, widen_after_s=(), widening=())
    _busy(r, "s", "x", 0)
    r.call("a", 1)
    r.call("b", 2)
    r.feed(Tick(32.5))
    assert [(a.contact_id, a.position, a.expected_wait_s) for a in r.of(Announce)] == [
        ("a", 1, 240.0),
        ("b", 2, 480.0),
    ]


def test_a_new_skill_lets_a_ready_seat_take_the_contact_that_needed_it() -> None:
    r = Rig(NO_WRAP)
    r.seat("s", skills=(("general", 3),))
    r.call("c", 1, language="yue")
    assert r.offers() == []
    r.feed(SeatSkillsChanged(2, "s", (("general", 3), ("lang:yue", 2))))
    assert r.offers() == [("c", "s")]


def test_a_freed_seat_takes_the_scarce_skill_caller_who_would_miss_the_target() -> None:
    def freed_seat_takes(selection: str) -> str:
        r = Rig(NO_WRAP, selection=selection)
        for i in range(20):  # a big general pool, all busy
            _busy(r, f"g{i}", f"x{i}", 0)
        _busy(r, "yue", "y", 0, skills=(("general", 3), ("lang:yue", 3)))
        r.call("general_first", 1)
        r.call("cantonese", 2, language="yue")
        r.feed(ContactEnded(5, "y"))
        return r.offers()[0][0]

    assert freed_seat_takes("target") == "cantonese"
    assert freed_seat_takes("fifo") == "general_first"


YUE = (("general", 3), ("lang:yue", 3))


def _yue_seat_free(keep: bool, settings: AcdSettings = NO_WRAP) -> Rig:
    """g on a call; y, the one Cantonese seat, free again at 2 s after a Cantonese call."""
    r = Rig(settings, strategy="least_skilled", keep_language_seat=keep)
    _busy(r, "g", "x", 0)
    _busy_yue(r)
    r.feed(ContactEnded(2, "cy0"))
    return r


def _busy_yue(r: Rig) -> None:
    r.seat("y", skills=YUE)
    r.call("cy0", 0, language="yue")
    r.feed(OfferAccepted(0, "cy0", "y"))


def test_a_caller_needing_no_language_is_kept_off_the_only_seat_ready_for_one() -> None:
    r = _yue_seat_free(keep=True)
    r.call("c", 3)
    assert r.offers() == [] and r.cstate("c") == "waiting"
    r.call("cy1", 4, language="yue")  # the Cantonese caller finds the seat free
    assert r.offers() == [("cy1", "y")]
    # without the option the general caller takes the Cantonese seat at once
    plain = _yue_seat_free(keep=False)
    plain.call("c", 3)
    assert plain.offers() == [("c", "y")]


def test_the_kept_caller_takes_the_language_seat_when_its_margin_is_used_up() -> None:
    r = _yue_seat_free(keep=True)
    r.call("c", 3)
    assert r.acd.next_deadline() == 3 + 0.5 * 15.0  # projection_margin x target
    r.feed(Tick(10.4))
    assert r.offers() == []
    r.feed(Tick(10.5))
    assert r.offers() == [("c", "y")]


def test_the_kept_caller_goes_to_the_next_seat_that_frees() -> None:
    r = _yue_seat_free(keep=True)
    r.call("c", 3)
    r.feed(ContactEnded(5, "x"))
    assert r.offers() == [("c", "g")]


def test_only_the_last_ready_seat_of_a_language_is_kept() -> None:
    r = _yue_seat_free(keep=True)
    r.seat("y2", now=2.5, skills=YUE)
    r.call("c", 3)
    assert len(r.offers()) == 1 and r.offers()[0][0] == "c"
    r.call("d", 4)
    assert r.offers() == []


def test_when_margins_end_together_the_line_goes_in_its_order_not_its_timers() -> None:
    r = _yue_seat_free(keep=True, settings=AcdSettings(rona_limit=1, wrap_up_s={"voice": 0.0}))
    r.seat("h", now=3)
    r.call("a", 3)
    assert r.offers() == [("a", "h")]
    r.call("b", 3)  # kept off y until 10.5
    r.feed(OfferRejected(4, "a", "h"))  # a back at its place, kept off y until 10.5 too (its timer set later)
    assert r.offers() == [] and r.state("h") == "not_ready"
    r.feed(Tick(10.5))
    assert r.offers() == [("a", "y")]


def test_a_second_seat_ready_for_the_language_releases_the_first() -> None:
    r = _yue_seat_free(keep=True)
    r.call("c", 3, skills=(("general", 1),))
    assert r.offers() == []
    r.seat("y2", now=4, skills=(("lang:yue", 3),))  # cannot take c itself
    assert r.offers() == [("c", "y")]


def test_a_freed_language_seat_passes_a_general_caller_by_within_its_margin() -> None:
    r = Rig(NO_WRAP, strategy="least_skilled", keep_language_seat=True)
    _busy(r, "g", "x", 0)
    _busy_yue(r)
    r.call("c", 1)  # every seat busy: c waits
    r.feed(ContactEnded(2, "cy0"))
    assert r.offers() == [] and r.state("y") == "ready"
    r.feed(Tick(1 + 7.5))
    assert r.offers() == [("c", "y")]


def test_a_pause_asked_during_a_call_waits_for_its_end() -> None:
    r = Rig(NO_WRAP)
    _busy(r, "s", "x", 0)
    r.feed(SeatNotReady(1, "s", "meal"))
    assert r.state("s") == "busy"
    r.call("c", 2)
    r.feed(ContactEnded(3, "x"))
    assert r.state("s") == "not_ready" and r.offers() == []


def test_a_chat_moved_away_from_a_seat_goes_to_another_one_first() -> None:
    r = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    r.seat("a", now=0)
    r.seat("b", now=1)
    r.call("c1", 2, channel="webchat", caller="wx-1")
    assert r.offers() == [("c1", "a")]
    r.feed(OfferAccepted(3, "c1", "a"))
    r.feed(ContactEnded(60, "c1"))  # the citizen waited too long at a: moved, keeping its place
    # a is both the repeat caller's last seat and free, yet b gets the chat.
    r.call("c1", 60, channel="webchat", caller="wx-1", enqueued_at=2.0, avoid_seat="a")
    assert r.offers() == [("c1", "b")]
    assert r.acd.snapshot()["contacts"][0]["avoid"] == "a"
    # With no other seat, the avoided one still serves rather than leaving the citizen waiting.
    r2 = Rig(AcdSettings(max_chats=3, wrap_up_s={"voice": 0.0, "chat": 0.0}))
    r2.seat("a", now=0)
    r2.call("c2", 1, channel="webchat", avoid_seat="a")
    assert r2.offers() == [("c2", "a")]
