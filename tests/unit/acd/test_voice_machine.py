"""The voice core through its one entry point, ``step``: frozen events in, commands out. Whatever
happens to a call in whatever order, no leg it made is left up and none joins a bridge twice; the
events of a call, written as JSON and read back, rebuild it exactly from its first snapshot or
from any snapshot on the way (what a crash-safe journal needs)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.voice.api import VoiceError
from acd.voice.core import commands as vc
from acd.voice.core import events as ev
from acd.voice.core.call import Call, from_record, restore, snapshot
from acd.voice.core.machine import replay, step
from acd.voice.core.states import CALLBACK, ENDED, OFFERED, QUEUED, TALKING


def arrived() -> Call:
    return Call(contact_id="c1", channel_id="c1", caller="13800000001", arrived=0.0)


def _options(call: Call) -> list[str]:
    """What may happen next to the call (each still may come at a bad moment for the core)."""
    leg, dialled = call.leg, [p for p in call.parties.values() if p.role != "citizen"]
    options = ["citizen_leaves"]
    if call.state in (QUEUED, CALLBACK):
        options.append("offer")
    if call.state == QUEUED:
        options += ["announce", "press_1"] + (["announcement_ends"] if call.announcing else [])
    if leg is not None:
        options += ["seat_leg_leaves"] + (["cancel", "seat_answers"] if leg.answered is None else [])
    if call.state == TALKING:
        options += ["complete", "leave_three_party", "hold"]
        if leg is not None:
            options += ["dial_transfer", "dial_three_party", "dial_attended", "requeue"]
    if dialled:
        options += ["party_leaves"] + (["party_answers"] if dialled[0].answered is None else [])
    return options


class Run:
    """Drives a call as the adapter would: every event goes in the journal first, then to the core;
    the ACD's answer to an abandon during a ring (cancelling its offer) comes back as an event."""

    def __init__(self) -> None:
        self.call = arrived()
        self.journal: list[ev.VoiceEvent] = []
        self.out: list[vc.VoiceCommand] = []
        self.alive: set[str] = set()  # legs made for the call and not yet hung up or gone
        self.snapshots: list[tuple[int, dict[str, Any], int]] = []  # (events so far, snapshot, commands so far)

    def feed(self, event: ev.VoiceEvent) -> list[vc.VoiceCommand]:
        self.snapshots.append((len(self.journal), json.loads(json.dumps(snapshot(self.call))), len(self.out)))
        self.journal.append(event)
        try:
            commands = step(self.call, event)
        except VoiceError:
            return []
        self.out.extend(commands)
        assert self.call.state != TALKING or self.call.talk_bridge, "a talk with no bridge to join"
        for c in commands:
            if isinstance(c, vc.Hangup):
                self.alive.discard(c.channel_id)
        ringing = self.call.leg
        if vc.ToAcd("abandoned") in commands and ringing is not None and ringing.answered is None:
            self.feed(ev.OfferCancelled(event.now, ringing.seat_id, "abandoned", in_line=False))
        return commands


def drive(data: st.DataObject) -> Run:
    run = Run()
    run.feed(ev.Enqueued(1.0, "general"))
    now = 1.0
    for seq in range(1, 40):
        call = run.call
        action = data.draw(st.sampled_from(_options(call)))
        now += 1.0
        leg = call.leg
        dialled = [p for p in call.parties.values() if p.role != "citizen"]
        if action == "offer":
            run.feed(ev.OfferMade(now, "1001", "test", f"seat-{seq}"))
            run.alive.add(f"seat-{seq}")
        elif action == "announce":
            run.feed(ev.AnnouncementDue(now, f"ann-{seq}", ("sound:hotline/ahead_3",), 2))
        elif action == "announcement_ends" and call.announcing:
            run.feed(ev.AnnouncementEnded(now, call.announcing))
        elif action == "press_1":
            run.feed(ev.CallbackFromQueue(now, "13800000001", "hold-general"))
        elif action == "seat_answers" and leg is not None:
            bridge = f"talk-{leg.channel_id}"
            answered = run.feed(ev.SeatAnswered(now, leg.channel_id, bridge))
            if any(isinstance(c, vc.ConnectSeat) for c in answered):
                if data.draw(st.booleans()):
                    run.feed(ev.SeatBridged(now, leg.channel_id, bridge))
                else:
                    run.feed(ev.NotConnected(now, leg.channel_id, leg.seat_id, bridge, in_line=True))
        elif action == "seat_leg_leaves" and leg is not None:
            run.alive.discard(leg.channel_id)
            run.feed(ev.SeatLegLeft(now, leg.channel_id, 16, in_line=call.state != CALLBACK))
        elif action == "cancel" and leg is not None:
            run.feed(ev.OfferCancelled(now, leg.seat_id, "test", in_line=call.state != CALLBACK))
        elif action.startswith("dial_"):
            run.feed(ev.PartyDialled(now, f"x-{seq}", action.removeprefix("dial_"), "13900000002"))
            if f"x-{seq}" in call.parties:
                run.alive.add(f"x-{seq}")
        elif action == "party_answers" and dialled:
            run.feed(ev.PartyAnswered(now, dialled[0].channel_id))
        elif action == "party_leaves" and dialled:
            run.alive.discard(dialled[0].channel_id)
            run.feed(ev.PartyLeft(now, dialled[0].channel_id))
        elif action == "hold":
            run.feed(ev.Held(now) if call.hold_started is None else ev.Unheld(now))
        elif action == "complete":
            run.feed(ev.TransferCompleted(now))
        elif action == "leave_three_party":
            run.feed(ev.ThreePartyLeft(now))
        elif action == "requeue":
            run.feed(ev.Requeued(now, "business"))
        elif action == "citizen_leaves":
            run.feed(ev.CitizenLeft(now, 16))
        if call.state == ENDED or (call.state == CALLBACK and call.leg is None and seq > 30):
            break
    return run


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_no_leg_is_ever_leaked_or_bridged_twice(data: st.DataObject) -> None:
    """Whatever the seat, the parties and the citizen do, in any order: when the call ends every
    leg it made is hung up or gone by itself, no channel joins the talk bridge twice, and the ACD
    hears of the contact's end once per time it was queued."""
    run = drive(data)
    call, out = run.call, run.out
    joined = [(c.bridge_id, c.channel_id) for c in out if isinstance(c, vc.AddToBridge)]
    joined += [(c.bridge_id, ch) for c in out if isinstance(c, vc.ConnectSeat) for ch in c.channel_ids]
    assert len(joined) == len(set(joined)), "a channel joined a bridge twice"
    queued = sum(isinstance(c, vc.Arrive) for c in out)
    ends = sum(isinstance(c, vc.ToAcd) and c.event in ("ended", "abandoned") for c in out)
    assert ends <= queued
    plays = [c.playback_id for c in out if isinstance(c, vc.Announce)]
    overs = [c.playback_id for c in out if isinstance(c, (vc.StopAnnouncement, vc.PlayOver))]
    assert len(overs) == len(set(overs)) and set(overs) <= set(plays), "an announcement stopped twice"
    if call.state == ENDED:
        assert ends == queued, "the ACD heard of an end once for every time the call was queued"
        assert not run.alive, f"legs left up after the call ended: {run.alive}"
        assert not call.in_acd and not call.parties
    for p in call.parties.values():
        assert p.channel_id in run.alive or p.answered is not None


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_calls_events_as_json_rebuild_it_from_any_snapshot_on_the_way(data: st.DataObject) -> None:
    run = drive(data)
    written = [json.dumps(ev.event_to_dict(e)) for e in run.journal]
    journal = [ev.event_from_dict(json.loads(line)) for line in written]
    assert journal == run.journal
    # From the start: the same call, the same commands.
    again = arrived()
    assert replay(again, journal) == run.out
    assert snapshot(again) == snapshot(run.call)
    # From a snapshot taken on the way (as a crash would find it), with the events after it.
    at, saved, done = data.draw(st.sampled_from(run.snapshots))
    resumed = restore(saved)
    assert replay(resumed, journal[at:]) == run.out[done:]
    assert snapshot(resumed) == snapshot(run.call)


def test_a_seats_answer_stops_the_announcement_then_bridges_the_seat_with_the_citizen() -> None:
    call = arrived()
    step(call, ev.Enqueued(1.0, "general"))
    step(call, ev.AnnouncementDue(2.0, "ann-1", ("sound:hotline/ahead_3",), 3))
    step(call, ev.OfferMade(3.0, "1001", "best", "seat-c1-1"))
    out = step(call, ev.SeatAnswered(4.0, "seat-c1-1", "talk-seat-c1-1"))
    assert out == [vc.StopAnnouncement("ann-1"), vc.ConnectSeat("talk-seat-c1-1", ("c1", "seat-c1-1"), "1001")]
    assert call.state == OFFERED and call.leg is not None and call.leg.answered == 4.0
    out = step(call, ev.SeatBridged(4.1, "seat-c1-1", "talk-seat-c1-1"))
    assert out[0] == vc.ToAcd("accepted", seat_id="1001") and call.state == TALKING and call.answered == 4.0
    assert call.talk_bridge == "talk-seat-c1-1"


def test_an_answer_from_a_leg_that_is_no_longer_the_offer_is_hung_up_and_changes_nothing() -> None:
    call = arrived()
    step(call, ev.Enqueued(1.0, "general"))
    step(call, ev.OfferMade(2.0, "1001", "best", "seat-c1-1"))
    step(call, ev.OfferCancelled(17.0, "1001", "no answer within 15 s"))
    before = snapshot(call)
    assert step(call, ev.SeatAnswered(17.1, "seat-c1-1", "talk-seat-c1-1")) == [vc.Hangup("seat-c1-1")]
    assert snapshot(call) == before


def test_the_seat_of_a_call_back_is_bridged_alone_and_dials_the_citizen() -> None:
    call = Call(contact_id="cb-m1", channel_id="missed-m1", caller="13800000005", arrived=0.0)
    step(call, ev.CallbackCreated(0.0, "general", "t1", ("m1",)))
    step(call, ev.OfferMade(5.0, "1001", "best", "seat-cb-m1-1"))
    assert step(call, ev.SeatAnswered(6.0, "seat-cb-m1-1", "talk-seat-cb-m1-1")) == [
        vc.ConnectSeat("talk-seat-cb-m1-1", ("seat-cb-m1-1",), "1001")
    ]
    out = step(call, ev.SeatBridged(6.1, "seat-cb-m1-1", "talk-seat-cb-m1-1", "13800000005"))
    assert vc.DialCitizen("13800000005") in out and call.state == TALKING


def test_the_ivr_and_the_survey_write_on_the_call_only_through_events() -> None:
    call = arrived()
    where = {"flow": "city", "version": "v1", "node": "tax", "path": [{"node": "menu", "kind": "menu", "digits": "2"}]}
    assert step(call, ev.IvrProgressed(0.5, where)) == [vc.Save(final=False)]  # kept for a takeover
    assert call.record()["ivr"] == {"resume": where}
    step(call, ev.IvrFinished(1.0, {"flow": "city", "path": [{"node": "menu", "digits": "2"}, {"node": "tax"}]}))
    assert call.ivr_path == ["menu:2", "tax"]
    assert "resume" not in (call.ivr_record or {})  # over: nothing to go on from
    step(call, ev.IvrHungUp(2.0, transfer_to="110"))
    step(call, ev.IvrHungUp(2.5, outcome="done"))  # a transfer's cause is kept
    assert (call.hangup_side, call.hangup_cause) == ("ivr", "transfer:110")
    step(call, ev.MessageRecorded(3.0, "msg-c1"))
    step(call, ev.VoiceMessageFiled(4.0, 17, "msg-c1"))
    step(call, ev.SurveyRated(5.0, {"score": 1}))
    assert call.recording == "msg-c1" and call.survey == {"score": 1}
    assert call.offers[-1] == {"event": "voice_message", "work_order": 17, "recording": "msg-c1", "at": 4.0}


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "Nope", "now": 1.0},
        {"type": "CitizenLeft", "now": "soon"},
        {"type": "CitizenLeft", "now": float("nan")},
        {"type": "CitizenLeft", "now": 1.0, "side": "x"},
        {"type": "OfferMade", "now": 1.0},
        ["CitizenLeft"],
    ],
)
def test_a_damaged_journal_line_is_refused_by_name(bad: Any) -> None:
    with pytest.raises(ValueError, match="voice event"):
        ev.event_from_dict(bad)


def test_step_refuses_what_is_not_a_voice_event_before_changing_anything() -> None:
    call = arrived()
    before = snapshot(call)
    with pytest.raises(ValueError, match="not a voice event"):
        step(call, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite number"):
        step(call, ev.Enqueued(float("inf"), "general"))
    assert snapshot(call) == before


def test_a_promised_call_back_is_rebuilt_from_its_record_and_waits_again_at_its_place() -> None:
    call = arrived()
    step(call, ev.Enqueued(1.0, "general"))
    step(call, ev.CallbackFromQueue(40.0, "13800000001", "hold-general"))
    step(call, ev.CitizenLeft(45.0, 16))
    assert call.state == CALLBACK
    record = json.loads(json.dumps(call.record()))  # as the database gives it back
    again = from_record("c1", "13800000001", 0.0, record)
    assert again is not None
    assert (again.state, again.queue, again.enqueued, again.callback_number) == (
        CALLBACK,
        "general",
        1.0,
        "13800000001",
    )
    assert step(again, ev.CallbackResumed(900.0)) == [
        vc.Arrive("general", "callback", enqueued_at=1.0, callback_number="13800000001"),
        vc.Save(final=False),
    ]
    assert again.offers[-1] == {"event": "callback_resumed", "at": 900.0}


@pytest.mark.parametrize(
    "change",
    [
        {"state": "talking"},  # a seat was making it: not promised any more
        {"state": None},  # written before records said the state
        {"callback_number": None},
        {"queue": ""},
        {"enqueued": "soon"},
    ],
)
def test_a_record_that_is_no_promised_call_back_is_not_resumed(change: dict[str, Any]) -> None:
    record = {"state": "callback", "callback_number": "13800000001", "queue": "general", "enqueued": 1.0}
    assert from_record("c1", "13800000001", 0.0, record) is not None
    assert from_record("c1", "13800000001", 0.0, {**record, **change}) is None


def test_only_a_call_waiting_for_its_call_back_resumes() -> None:
    call = arrived()
    step(call, ev.Enqueued(1.0, "general"))
    before = snapshot(call)
    assert step(call, ev.CallbackResumed(2.0)) == [] and snapshot(call) == before
