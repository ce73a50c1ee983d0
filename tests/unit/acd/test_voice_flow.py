"""The voice core's decisions when a party leaves or an offer ends, driven without Asterisk."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from acd.voice.core import flow
from acd.voice.core.call import Call, SeatLeg
from acd.voice.core.states import CALLBACK, ENDED, QUEUED, SURVEY, TALKING


def waiting_call() -> Call:
    call = Call(contact_id="c1", channel_id="c1", caller="13800000001", arrived=0.0, queue="general")
    call.move("enqueue")
    return call


def offered(call: Call, seat: str = "1001", n: int = 1) -> SeatLeg:
    return flow.offer_made(call, seat, "test", f"seat-c1-{n}", 1.0)


def talking() -> tuple[Call, SeatLeg]:
    call = waiting_call()
    leg = offered(call)
    leg.answered = 3.0
    call.talk_bridge = "talk-seat-c1-1"
    flow.seat_connected(call, leg, None)
    return call, leg


def test_a_caller_hanging_up_while_the_seat_rings_is_an_abandon_and_a_missed_call() -> None:
    call = waiting_call()
    offered(call)
    out = flow.citizen_left(call, 9.0, 16)
    assert call.state == ENDED and call.ended == 9.0 and call.hangup_side == "citizen"
    assert call.offers[-1]["outcome"] == "abandoned_ringing"
    assert out == [
        flow.WakeIvr(),
        flow.ToAcd("abandoned"),
        flow.MissedCall("abandoned"),
        flow.Forget(),
        flow.Save(final=True),
    ]


def test_a_caller_hanging_up_during_the_talk_releases_the_seat_once() -> None:
    call, leg = talking()
    out = flow.citizen_left(call, 20.0, None)
    assert flow.Hangup(leg.channel_id) in out and out.count(flow.ToAcd("ended")) == 1
    assert flow.DestroyBridge("talk-seat-c1-1") in out and call.talk_bridge is None
    assert call.hangup_cause == "hangup" and not call.in_acd


def test_a_caller_who_asked_for_a_call_back_keeps_the_place_when_hanging_up() -> None:
    call = waiting_call()
    call.overflowed, call.callback_number = "callback", "13800000001"
    assert flow.citizen_left(call, 5.0, 16) == [flow.WakeIvr(), flow.ReleaseChannel(), flow.Save(final=False)]
    assert call.state == CALLBACK and call.ended is None and call.in_acd
    # Found gone again (after a reconnect): still waiting for its call-back.
    assert flow.citizen_left(call, 6.0, None) == [flow.WakeIvr(), flow.ReleaseChannel(), flow.Save(final=False)]
    assert call.state == CALLBACK and call.in_acd


def test_a_seat_leg_failing_before_an_answer_fails_the_offer_with_its_cause() -> None:
    call = waiting_call()
    leg = offered(call)
    out = flow.seat_leg_left(call, leg.channel_id, 4.0, 17, in_line=True, survey=True)
    assert out == [flow.ToAcd("offer_failed", seat_id="1001", cause="busy")]
    assert call.state == QUEUED and call.leg is None and call.offers[-1]["outcome"] == "busy"


def test_a_cancelled_leg_that_ends_counts_nothing_more() -> None:
    call = waiting_call()
    leg = offered(call)
    assert flow.offer_cancelled(call, "1001", "no answer within 15 s", in_line=False) == [
        flow.DropLeg(leg.channel_id),
        flow.Hangup(leg.channel_id),
    ]
    assert call.state == CALLBACK and call.offers[-1]["outcome"] == "cancelled: no answer within 15 s"
    assert flow.seat_leg_left(call, leg.channel_id, 5.0, 16, in_line=False, survey=False) == []
    assert flow.offer_cancelled(call, "1002", "other seat", in_line=True) == []


def test_a_seat_hanging_up_leaves_the_citizen_out_of_the_bridge_before_the_survey() -> None:
    call, leg = talking()
    out = flow.seat_leg_left(call, leg.channel_id, 30.0, 16, in_line=True, survey=True)
    assert out == [
        flow.ToAcd("ended"),
        flow.LeaveBridge("talk-seat-c1-1", "c1"),
        flow.DestroyBridge("talk-seat-c1-1"),
        flow.StartSurvey(),
    ]
    assert call.state == SURVEY and call.hangup_side == "seat" and call.ended is None


def test_a_seat_hanging_up_in_a_three_party_call_leaves_the_others_talking() -> None:
    call, leg = talking()
    flow.party_dialled(call, "x-c1-1", "three_party", "13900000002", 10.0)
    flow.party_answered(call, "x-c1-1", 12.0)
    out = flow.seat_leg_left(call, leg.channel_id, 30.0, 16, in_line=True, survey=True)
    assert out == [flow.DropLeg(leg.channel_id), flow.ToAcd("ended"), flow.Hangup(leg.channel_id)]
    assert call.state == TALKING and call.seat_id is None and call.leg is None
    assert call.offers[-1] == {
        "event": "seat_left",
        "at": 30.0,
        "reason": "seat hung up; the other parties stay",
        "seat": "1001",
    }
    # The third party hangs up too: the citizen, alone in the call, is hung up.
    assert flow.party_left(call, "x-c1-1", 40.0) == [flow.DropLeg("x-c1-1"), flow.Hangup("c1")]


def test_a_call_back_the_citizen_does_not_answer_ends_the_call_and_after_an_end_is_only_noted() -> None:
    call, leg = talking()
    flow.citizen_dialled(call, "cb-c1-2", "13800000001", 35.0)
    out = flow.callback_failed(call, "cb-c1-2", 40.0, 19)
    assert call.state == ENDED and call.hangup_cause == "callback_no_answer" and not call.parties
    assert out[0] == flow.Hangup(leg.channel_id) and out[-2:] == [flow.Forget(), flow.Save(final=True)]
    assert flow.callback_failed(call, "cb-c1-2", 41.0, 19) == [flow.Save(final=True)]


def test_an_offer_rings_one_leg_and_a_refused_one_puts_the_call_back_in_line() -> None:
    call = waiting_call()
    leg = flow.offer_made(call, "1002", "best", "seat-c1-7", 2.0)
    assert call.state == "offered" and call.leg is leg and call.offers[-1]["seat"] == "1002"
    out = flow.offer_refused(call, leg.channel_id, leg.seat_id, in_line=True)
    assert out == [flow.DropLeg("seat-c1-7"), flow.ToAcd("offer_failed", seat_id="1002", cause="unreachable")]
    assert call.state == QUEUED and call.leg is None and call.offers[-1]["outcome"] == "unreachable"


def test_a_connected_seat_is_accepted_recorded_and_calls_the_citizen_back_when_asked() -> None:
    call = waiting_call()
    call.recording = "call-c1"
    leg = offered(call)
    leg.answered = 4.0
    call.talk_bridge = "talk-seat-c1-1"
    out = flow.seat_connected(call, leg, "13800000001")
    assert call.state == TALKING and call.seat_id == "1001" and call.answered == 4.0
    assert out == [
        flow.ToAcd("accepted", seat_id="1001"),
        flow.MissedCall("answered"),
        flow.RecordBridge("talk-seat-c1-1", "call-c1"),
        flow.DialCitizen("13800000001"),
        flow.Save(final=False),
    ]


def test_a_seat_that_cannot_be_bridged_is_undone_and_the_caller_held_again() -> None:
    call = waiting_call()
    leg = offered(call)
    out = flow.not_connected(call, leg.channel_id, leg.seat_id, "talk-seat-c1-1", in_line=True)
    assert out == [
        flow.DropLeg(leg.channel_id),
        flow.DestroyBridge("talk-seat-c1-1"),
        flow.Hangup(leg.channel_id),
        flow.Hold(),
        flow.ToAcd("offer_failed", seat_id="1001", cause="not_connected"),
    ]
    assert call.state == QUEUED and call.leg is None and leg.outcome == "not_connected"


def test_an_answer_that_comes_as_the_offer_is_cancelled_is_undone_without_telling_the_core() -> None:
    call = waiting_call()
    leg = offered(call)
    flow.offer_cancelled(call, "1001", "no answer within 15 s", in_line=True)
    call.talk_bridge = "talk-seat-c1-1"
    out = flow.seat_bridged(call, leg.channel_id, "talk-seat-c1-1", None)
    assert out == [flow.DestroyBridge("talk-seat-c1-1"), flow.Hangup(leg.channel_id), flow.Hold()]
    assert call.state == QUEUED and call.talk_bridge is None
    assert not any(isinstance(c, flow.ToAcd) for c in out)


EVENTS = st.lists(st.sampled_from(["cancel", "leg_failed", "answer", "citizen_left", "seat_left", "offer"]))


@given(EVENTS)
def test_whatever_happens_the_core_hears_of_the_end_once_and_the_talk_bridge_goes_once(events: list[str]) -> None:
    call = waiting_call()
    leg: SeatLeg | None = None
    seen: list[flow.VoiceCommand] = []
    legs = 0
    for event in events:
        if event == "offer" and call.state in (QUEUED, CALLBACK):
            legs += 1
            leg = offered(call, n=legs)
        elif event == "cancel" and leg is not None:
            seen += flow.offer_cancelled(call, leg.seat_id, "test", in_line=call.state != CALLBACK)
        elif event == "leg_failed" and leg is not None and leg is call.leg:
            seen += flow.seat_leg_left(call, leg.channel_id, 5.0, 18, in_line=True, survey=False)
        elif event == "answer" and leg is not None and leg is call.leg and call.state == "offered":
            leg.answered = 6.0
            call.talk_bridge = f"talk-{leg.channel_id}"
            seen += flow.seat_connected(call, leg, None)
        elif event == "seat_left" and leg is not None and leg.answered is not None:
            seen += flow.seat_leg_left(call, leg.channel_id, 7.0, 16, in_line=True, survey=False)
        elif event == "citizen_left" and call.state != ENDED:
            seen += flow.citizen_left(call, 8.0, 16)
    ends = [c for c in seen if isinstance(c, flow.ToAcd) and c.event in ("ended", "abandoned")]
    assert len(ends) <= 1
    assert len([c for c in seen if isinstance(c, flow.DestroyBridge)]) <= 1
    assert len([c for c in seen if isinstance(c, flow.Forget)]) <= 1
    if call.state == ENDED and ends:
        assert not call.in_acd
    if call.state == ENDED and leg is not None and leg.answered is not None and call.hangup_side == "citizen":
        assert flow.Hangup(leg.channel_id) in seen  # an answered seat is never left on the line


def test_an_overflow_to_another_queue_keeps_the_caller_waiting() -> None:
    call = waiting_call()
    assert flow.overflowed(call, "queue:business", 60.0) == [] and call.queue == "business" and call.in_acd
    assert call.overflowed is None


def test_an_overflow_to_a_call_back_keeps_the_place_with_the_acd_and_releases_the_line() -> None:
    """Past the queue's longest wait: the ACD keeps the contact, so it must hear the number, and
    the voice side must go on telling it of the call's end (it did neither: the seat answered
    into silence and stayed busy for ever)."""
    call = waiting_call()
    out = flow.overflowed(call, "callback", 180.0, callable_number="13800000001", holding_bridge="hold-general")
    assert out == [
        flow.ToAcd("callback_requested", number="13800000001"),
        flow.LeaveBridge("hold-general", "c1"),
        flow.Confirm("callback_offer_done", 15.0),
        flow.Hangup("c1"),
    ]
    assert call.in_acd and call.callback_number == "13800000001" and call.overflowed == "callback"
    flow.citizen_left(call, 190.0, 16)
    assert call.state == CALLBACK
    leg = flow.offer_made(call, "1001", "call-back", "seat-c1-1", 300.0)
    leg.answered = 302.0
    call.talk_bridge = "talk-seat-c1-1"
    flow.seat_connected(call, leg, "13800000001")
    out = flow.seat_leg_left(call, leg.channel_id, 400.0, 16, in_line=False, survey=False)
    assert flow.ToAcd("ended") in out  # the seat is released in the ACD


def test_an_overflow_to_a_call_back_without_a_number_to_call_keeps_the_citizen_waiting() -> None:
    call = waiting_call()
    call.caller = ""
    assert flow.overflowed(call, "callback", 180.0, callable_number=None) == []
    assert call.state == QUEUED and call.in_acd and call.overflowed is None


def test_a_closing_message_takes_the_call_out_of_the_line() -> None:
    call = waiting_call()
    assert flow.overflowed(call, "message", 60.0) == [flow.Hangup("c1")] and not call.in_acd
    assert (call.overflowed, call.hangup_side, call.hangup_cause) == ("message", "system", "overflow:message")


def test_a_call_back_promised_by_the_ivr_becomes_a_call_back_contact_that_outlives_the_hang_up() -> None:
    call = Call(contact_id="c1", channel_id="c1", caller="13800000001", arrived=0.0)
    out = flow.callback_promised(call, "13800000001", "general", 8.0)
    assert out == [
        flow.Arrive("general", "callback", enqueued_at=8.0, callback_number="13800000001"),
        flow.Save(final=False),
    ]
    assert call.state == CALLBACK and call.in_acd and call.enqueued == 8.0
    assert flow.citizen_left(call, 15.0, 16) == [flow.WakeIvr(), flow.ReleaseChannel(), flow.Save(final=False)]
    assert call.state == CALLBACK and call.ended is None
    waiting = waiting_call()  # already in a queue: it keeps the place instead
    assert flow.callback_promised(waiting, "13800000001", "general", 9.0) == [
        flow.ToAcd("callback_requested", number="13800000001")
    ]


def test_a_call_back_asked_from_the_queue_keeps_the_place_with_the_acd() -> None:
    call = waiting_call()
    out = flow.callback_requested(call, "13800000009", 12.0)
    assert out == [flow.ToAcd("callback_requested", number="13800000009")]
    assert call.overflowed == "callback" and call.callback_number == "13800000009"
    assert call.offers[-1] == {"event": "callback_requested", "at": 12.0, "number": "13800000009"}


def test_the_citizen_answering_a_call_back_joins_the_seat_and_a_late_answer_is_hung_up() -> None:
    call, _leg = talking()
    flow.citizen_dialled(call, "cb-c1-2", "13800000001", 45.0)
    out = flow.callback_answered(call, "cb-c1-2", 50.0)
    assert out == [flow.ClaimChannel(), flow.AddToBridge("talk-seat-c1-1", "cb-c1-2")]
    assert call.channel_id == "cb-c1-2" and not call.parties
    ended = waiting_call()
    assert flow.callback_answered(ended, "cb-c1-3", 51.0) == [flow.Hangup("cb-c1-3")]


def test_hold_time_is_counted_once_per_hold() -> None:
    call, _leg = talking()
    flow.held(call, 10.0)
    flow.held(call, 11.0)  # a second hold indication does not restart the clock
    flow.unheld(call, 14.0)
    flow.unheld(call, 15.0)
    assert call.hold_total == 4.0 and call.hold_started is None


def test_a_seat_hanging_up_before_the_citizen_answers_the_call_back_stops_the_call_back_ringing() -> None:
    call, leg = talking()
    call.callback_number = "13800000001"
    flow.citizen_dialled(call, "cb-c1-2", "13800000001", 35.0)
    out = flow.seat_leg_left(call, leg.channel_id, 40.0, 16, in_line=False, survey=True)
    assert flow.Hangup("cb-c1-2") in out and flow.DropLeg("cb-c1-2") in out
    assert not any(isinstance(c, flow.StartSurvey) for c in out) and call.state == ENDED
