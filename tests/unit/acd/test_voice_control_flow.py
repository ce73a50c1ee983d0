"""The voice core's queueing and call control, driven without Asterisk: joining a queue,
transfers, three-party calls, a seat leaving a call that goes on, missed-call call-backs."""

from __future__ import annotations

import pytest

from acd.voice.api import VoiceError
from acd.voice.core import flow
from acd.voice.core.call import Call, restore, snapshot
from acd.voice.core.states import CALLBACK, ENDED, QUEUED, TALKING


def arrived() -> Call:
    return Call(contact_id="c1", channel_id="c1", caller="13800000001", arrived=0.0)


def talking() -> Call:
    call = arrived()
    flow.enqueued(call, "general", 1.0)
    leg = flow.offer_made(call, "1001", "test", "seat-c1-1", 2.0)
    leg.answered = 3.0
    call.talk_bridge = "talk-seat-c1-1"
    flow.seat_connected(call, leg, None)
    return call


def test_joining_a_queue_tells_the_acd_first_then_holds_and_marks_the_place() -> None:
    call = arrived()
    out = flow.enqueued(call, "business", 5.0, priority="urgent", skills=(("tax", 2),), answer=True, record=True)
    assert out == [
        flow.Arrive("business", "voice", "urgent", (("tax", 2),), (), None, None),
        flow.Hold(answer=True),
        flow.MarkPlace(),
        flow.Save(final=False),
    ]
    assert (call.state, call.queue, call.enqueued, call.in_acd) == (QUEUED, "business", 5.0, True)
    assert call.recording == "call-c1"


def test_a_call_adopted_after_a_restart_keeps_its_first_enqueue_time() -> None:
    call = arrived()
    flow.adopted(call, "general", 0.5)
    assert (call.state, call.enqueued, call.in_acd) == (QUEUED, 0.5, True)


def test_a_transfer_to_a_queue_ends_the_seats_contact_and_requeues_at_the_first_enqueue_time() -> None:
    call = talking()
    out = flow.requeued(call, "business", 30.0)
    assert out == [
        flow.ToAcd("ended"),
        flow.DropLeg("seat-c1-1"),
        flow.Hangup("seat-c1-1"),
        flow.LeaveBridge("talk-seat-c1-1", "c1"),
        flow.DestroyBridge("talk-seat-c1-1"),
        flow.Arrive("business", enqueued_at=1.0, answered=True),  # answered once: not counted again
        flow.Hold(answer=False),
        flow.MarkPlace(),
        flow.Save(final=False),
    ]
    assert (call.state, call.seat_id, call.leg, call.answered, call.enqueued) == (QUEUED, None, None, None, 1.0)
    assert call.in_acd and call.talk_bridge is None


def test_a_blind_transfer_keeps_the_seat_until_the_far_end_answers() -> None:
    call = talking()
    flow.party_dialled(call, "x-c1-1", "transfer", "110", 10.0)
    assert call.seat_id == "1001" and call.leg is not None  # still with the citizen while it rings
    out = flow.party_answered(call, "x-c1-1", 14.0)
    assert out == [
        flow.AddToBridge("talk-seat-c1-1", "x-c1-1"),
        flow.DropLeg("seat-c1-1"),
        flow.ToAcd("ended"),
        flow.Hangup("seat-c1-1"),
    ]
    assert call.state == TALKING and call.seat_id is None and call.parties["x-c1-1"].answered == 14.0
    assert [e["event"] for e in call.offers[-3:]] == ["transfer", "transfer_answered", "seat_left"]


def test_a_far_end_that_does_not_answer_leaves_the_seat_with_the_citizen() -> None:
    call = talking()
    flow.party_dialled(call, "x-c1-1", "transfer", "110", 10.0)
    assert flow.party_left(call, "x-c1-1", 50.0) == [flow.DropLeg("x-c1-1")]
    assert call.seat_id == "1001" and call.state == TALKING and not call.parties
    assert call.offers[-1] == {"event": "transfer_failed", "at": 50.0, "to": "110"}


def test_one_transfer_or_three_party_call_at_a_time_and_an_attended_one_completes_only_once_answered() -> None:
    call = talking()
    flow.party_dialled(call, "x-c1-1", "attended", "12319", 10.0)
    with pytest.raises(VoiceError, match="已有一个正在进行的转接或三方通话"):
        flow.party_dialled(call, "x-c1-2", "three_party", "12319", 11.0)
    with pytest.raises(VoiceError, match="转接方尚未接听"):
        flow.transfer_completed(call, 12.0)
    with pytest.raises(VoiceError, match="三方通话尚未建立"):
        flow.three_party_left(call, 12.0)
    flow.party_answered(call, "x-c1-1", 13.0)
    assert call.seat_id == "1001"  # an attended transfer: the seat talks to the far end first
    assert flow.transfer_completed(call, 20.0)[-1] == flow.Hangup("seat-c1-1") and call.seat_id is None


def test_a_party_asterisk_would_not_call_never_joins_and_a_late_answer_is_hung_up() -> None:
    call = talking()
    flow.party_dialled(call, "x-c1-1", "three_party", "13900000002", 10.0)
    assert flow.party_refused(call, "x-c1-1") == [flow.DropLeg("x-c1-1")] and not call.parties
    assert flow.party_answered(call, "x-c1-1", 11.0) == [flow.DropLeg("x-c1-1"), flow.Hangup("x-c1-1")]
    waiting = arrived()
    flow.enqueued(waiting, "general", 1.0)
    with pytest.raises(VoiceError):
        flow.party_dialled(waiting, "x-c1-2", "transfer", "110", 2.0)


def test_the_citizen_leaving_hangs_up_every_other_party() -> None:
    call = talking()
    flow.party_dialled(call, "x-c1-1", "three_party", "13900000002", 10.0)
    flow.party_dialled(call, "sup-c1-1", "barge", "PJSIP/9001", 11.0)
    out = flow.citizen_left(call, 20.0, 16)
    for leg in ("x-c1-1", "sup-c1-1", "seat-c1-1"):
        assert flow.Hangup(leg) in out
    assert flow.DropLeg("x-c1-1") in out and not call.parties and call.state == ENDED


def test_a_missed_call_call_back_is_a_contact_of_its_own_queued_as_a_call_back() -> None:
    call = Call(contact_id="cb-m1", channel_id="missed-m1", caller="13800000005", arrived=100.0)
    out = flow.callback_created(call, "general", 100.0, task="t1", for_calls=("m1",))
    assert out == [
        flow.Arrive("general", "callback", enqueued_at=100.0, callback_number="13800000005"),
        flow.Save(final=False),
    ]
    assert (call.state, call.callback_number, call.overflowed, call.in_acd) == (
        CALLBACK,
        "13800000005",
        "callback",
        True,
    )
    assert call.offers == [{"event": "missed_call_callback", "at": 100.0, "task": "t1", "for": ["m1"]}]


def test_parties_survive_a_snapshot() -> None:
    call = talking()
    flow.party_dialled(call, "x-c1-1", "three_party", "13900000002", 10.0)
    flow.party_answered(call, "x-c1-1", 12.0)
    again = restore(snapshot(call))
    assert again == call and again.others_talk()


def waiting() -> Call:
    call = arrived()
    flow.enqueued(call, "general", 1.0)
    return call


def test_one_announcement_at_a_time_and_only_to_a_citizen_waiting_on_the_line() -> None:
    call = waiting()
    media = ("sound:hotline/ahead_3",)
    assert flow.announce(call, "ann-1", media, 4) == [flow.Announce("ann-1", media, 4)]
    assert flow.announce(call, "ann-2", media, 3) == []  # still hearing the first
    assert flow.announcement_ended(call, "ann-2") == [] and call.announcing == "ann-1"
    assert flow.announcement_ended(call, "ann-1") == [flow.PlayOver("ann-1")] and call.announcing is None
    assert flow.announce(call, "ann-3", (), 3) == []  # nothing to say
    flow.offer_made(call, "1001", "test", "seat-c1-1", 5.0)
    assert flow.announce(call, "ann-4", media, 1) == []  # a seat rings: no announcement


def test_a_seats_answer_stops_the_announcement_first() -> None:
    call = waiting()
    flow.announce(call, "ann-1", ("sound:hotline/ahead_3",), 4)
    assert flow.stop_announcement(call) == [flow.StopAnnouncement("ann-1")] and call.announcing is None
    assert flow.stop_announcement(call) == []


def test_pressing_1_keeps_the_place_stops_the_announcement_confirms_and_releases_the_line() -> None:
    call = waiting()
    flow.announce(call, "ann-1", ("sound:hotline/ahead_3",), 4)
    out = flow.callback_from_queue(call, "13800000001", "hold-general", 9.0)
    assert out == [
        flow.ToAcd("callback_requested", number="13800000001"),
        flow.StopAnnouncement("ann-1"),
        flow.LeaveBridge("hold-general", "c1"),
        flow.Confirm("callback_offer_done", 15.0),
        flow.Hangup("c1"),
    ]
    assert call.overflowed == "callback" and call.callback_number == "13800000001"
    assert flow.callback_from_queue(call, "13800000001", "hold-general", 10.0) == []  # pressed twice
    # Its hang-up keeps the place with the ACD.
    assert flow.citizen_left(call, 12.0, 16) == [flow.WakeIvr(), flow.ReleaseChannel(), flow.Save(final=False)]
    assert call.state == CALLBACK and call.in_acd


def test_a_transfer_to_a_queue_hangs_up_a_far_end_still_ringing() -> None:
    call = talking()
    flow.party_dialled(call, "x-c1-1", "transfer", "110", 10.0)
    out = flow.requeued(call, "business", 12.0)
    assert flow.Hangup("x-c1-1") in out and flow.DropLeg("x-c1-1") in out and not call.parties


def test_an_offers_outcome_lands_on_the_offer_even_after_a_note() -> None:
    """Found by the property test: a note (a party's failure) after an offer made the next
    cancel look for an outcome on the note."""
    call = talking()
    flow.requeued(call, "business", 12.0)
    leg = flow.offer_made(call, "1002", "test", "seat-c1-2", 13.0)
    call.offers.append({"event": "transfer_failed", "at": 14.0, "to": "110"})
    flow.offer_cancelled(call, "1002", "no answer within 15 s", in_line=True)
    offer = next(o for o in reversed(call.offers) if o.get("seat") == "1002")
    assert offer["outcome"] == "cancelled: no answer within 15 s" and leg.cancelled


def test_supervisors_listening_in_are_hung_up_when_the_call_ends_not_left_in_silence() -> None:
    call = talking()
    flow.snoop_started(call, "snoop-c1-1", "listen", "PJSIP/9001", 10.0, channel="sup-c1-1", bridge="snoopbr-c1-1")
    assert call.offers[-1] == {"event": "snoop", "at": 10.0, "mode": "listen", "supervisor": "PJSIP/9001"}
    out = flow.citizen_left(call, 20.0, 16)
    for command in (flow.Hangup("snoop-c1-1"), flow.Hangup("sup-c1-1"), flow.DestroyBridge("snoopbr-c1-1")):
        assert command in out
    assert not call.snoops


def test_a_snoop_on_a_seat_that_hands_the_call_over_ends_with_the_seats_part() -> None:
    call = talking()
    flow.snoop_started(call, "snoop-c1-1", "whisper", "PJSIP/9001", 10.0, channel="sup-c1-1", bridge="snoopbr-c1-1")
    flow.party_dialled(call, "x-c1-2", "transfer", "110", 11.0)
    out = flow.party_answered(call, "x-c1-2", 12.0)
    assert flow.Hangup("sup-c1-1") in out and not call.snoops and call.seat_id is None
    assert flow.snoop_stopped(call, "snoop-c1-1") == []  # stopped afterwards: nothing more to do
    with pytest.raises(VoiceError):
        flow.snoop_started(call, "snoop-c1-3", "listen", "PJSIP/9001", 13.0, channel="sup-c1-3", bridge="b")


def test_a_snoop_survives_a_snapshot_and_a_stopped_one_is_taken_down() -> None:
    call = talking()
    flow.snoop_started(call, "snoop-c1-1", "listen", "PJSIP/9001", 10.0, channel="sup-c1-1", bridge="snoopbr-c1-1")
    assert restore(snapshot(call)) == call
    assert flow.snoop_stopped(call, "snoop-c1-1") == [
        flow.Hangup("snoop-c1-1"),
        flow.Hangup("sup-c1-1"),
        flow.DestroyBridge("snoopbr-c1-1"),
    ]
    assert not call.snoops
