"""What the voice side decides for a call, as pure functions: each changes the call's data
(:mod:`acd.voice.core.call`) through the call table and returns the commands the adapter carries
out, in order, on Asterisk, the ACD and the records.

Every change of a call goes through here: its queueing and re-queueing, the offers and their
ends, the parties leaving, call control (transfers, three-party calls, a seat leaving a call that
goes on), call-backs and the missed-call call-backs. The adapter tells each function the facts
only it can see (whether the citizen is still on the line, whether a survey follows); the function
knows the rest from the call. Nothing here waits or reads a clock: ``now`` comes in.
"""

from __future__ import annotations

from typing import Any

from acd.core.config import Skills
from acd.voice.api import VoiceError
from acd.voice.core.call import Call, Party, SeatLeg, Snoop, failure_cause
from acd.voice.core.commands import (
    AddToBridge,
    Announce,
    Arrive,
    ClaimChannel,
    Confirm,
    ConnectSeat,
    DestroyBridge,
    DialCitizen,
    DropLeg,
    Forget,
    Hangup,
    Hold,
    LeaveBridge,
    MarkPlace,
    MissedCall,
    PlayOver,
    RecordBridge,
    ReleaseChannel,
    Save,
    StartSurvey,
    StopAnnouncement,
    ToAcd,
    VoiceCommand,
    WakeIvr,
)
from acd.voice.core.states import ARRIVED, CALLBACK, ENDED, OFFERED, QUEUED, TALKING

# The roles of a party that takes the citizen away from the seat, or joins them: one at a time.
DIALLED_ROLES = ("transfer", "attended", "three_party")


def _offer_ended(in_line: bool) -> str:
    return "offer_ended" if in_line else "offer_ended_away"


def _last_offer(call: Call) -> dict[str, Any] | None:
    """The latest offer in the call's timeline (notes of announcements and parties come between)."""
    return next((entry for entry in reversed(call.offers) if "seat" in entry and "outcome" in entry), None)


def _outcome(call: Call, outcome: str) -> None:
    offer = _last_offer(call)
    if offer is not None:
        offer["outcome"] = outcome


def _end_in_acd(call: Call) -> list[VoiceCommand]:
    """Tell the ACD the contact ended, if it holds it; before the change that ends it here."""
    return [ToAcd("ended")] if call.in_acd else []


def _drop_talk_bridge(call: Call) -> list[VoiceCommand]:
    bridge, call.talk_bridge = call.talk_bridge, None
    return [DestroyBridge(bridge)] if bridge else []


def _drop_parties(call: Call) -> list[VoiceCommand]:
    out: list[VoiceCommand] = []
    for cid in call.parties:
        out += [DropLeg(cid), Hangup(cid)]
    call.parties.clear()
    return [*out, *_drop_snoops(call)]


def _drop_snoops(call: Call) -> list[VoiceCommand]:
    """The seat's leg they listen to is gone: the supervisors are not left in silence."""
    out: list[VoiceCommand] = []
    for snoop in call.snoops.values():
        out += _snoop_down(snoop)
    call.snoops.clear()
    return out


def _snoop_down(snoop: Snoop) -> list[VoiceCommand]:
    return [Hangup(snoop.snoop_id), Hangup(snoop.supervisor_channel), DestroyBridge(snoop.bridge_id)]


def citizen_left(call: Call, now: float, cause: int | None) -> list[VoiceCommand]:
    """The citizen's channel is gone (hung up, or found gone after a reconnect)."""
    if call.callback_number and (call.state == CALLBACK or (call.overflowed == "callback" and call.state == QUEUED)):
        # Hung up to be called back (or not on the line at all): the place stays with the ACD.
        if call.state == QUEUED:
            call.move("callback_hold")
        return [WakeIvr(), ReleaseChannel(), Save(final=False)]
    call.ended = now
    call.hangup_side = call.hangup_side or "citizen"
    call.hangup_cause = call.hangup_cause or (str(cause) if cause is not None else "hangup")
    previous, in_acd = call.state, call.in_acd
    call.move("citizen_left")
    out: list[VoiceCommand] = [WakeIvr(), *_drop_parties(call)]
    if previous == TALKING:
        if call.leg is not None:
            out.append(Hangup(call.leg.channel_id))
        if in_acd:
            out.append(ToAcd("ended"))
    elif in_acd:
        if call.leg is not None and call.leg.answered is None:
            _outcome(call, "abandoned_ringing")
        out.append(ToAcd("abandoned"))
        if call.answered is None and call.caller:
            out.append(MissedCall("abandoned"))
    return [*out, *_drop_talk_bridge(call), Forget(), Save(final=True)]


def _leg(call: Call, leg_id: str) -> SeatLeg | None:
    """The call's seat leg if it is ``leg_id``."""
    leg = call.leg
    return leg if leg is not None and leg.channel_id == leg_id else None


def seat_leg_left(
    call: Call, leg_id: str, now: float, cause: int | None, *, in_line: bool, survey: bool
) -> list[VoiceCommand]:
    """The seat's leg is gone: before an answer the offer failed; during the talk the seat hung
    up (the call goes on with the other parties, or the citizen rates it, or it ends)."""
    leg = _leg(call, leg_id)
    if leg is None:
        return []
    if leg.answered is None:
        if leg.cancelled or call.state == ENDED:
            return []
        outcome = failure_cause(cause)
        leg.outcome = outcome
        _outcome(call, outcome)
        call.leg = None
        call.move(_offer_ended(in_line))
        return [ToAcd("offer_failed", seat_id=leg.seat_id, cause=outcome)]
    if call.state != TALKING:
        return []
    if call.others_talk():
        return seat_leaves(call, "seat hung up; the other parties stay", now)
    call.hangup_side = "seat"
    call.hangup_cause = str(cause) if cause is not None else "hangup"
    # A call-back the citizen has not answered yet: nobody is left to rate the call.
    if survey and call.party("citizen") is None:
        call.leg = None
        out = _end_in_acd(call)
        # Out of the bridge before the first prompt: a prompt queued while the channel is still in
        # a bridge being torn down is dropped by Asterisk without any event, and the survey would
        # wait for it for ever. Removing a channel returns once it has left.
        if call.talk_bridge:
            out.append(LeaveBridge(call.talk_bridge, call.channel_id))
        out += [*_drop_talk_bridge(call), *_drop_snoops(call)]
        call.move("survey")
        return [*out, StartSurvey()]
    call.ended = now
    out = [*_end_in_acd(call), *_drop_parties(call), Hangup(call.channel_id)]
    call.move("seat_left")
    return [*out, *_drop_talk_bridge(call), Forget(), Save(final=True)]


def offer_cancelled(call: Call, seat_id: str, reason: str, *, in_line: bool) -> list[VoiceCommand]:
    """The ACD core took its offer back (its ring timer, the seat signing out, the caller gone)."""
    leg = call.leg
    if leg is None or leg.seat_id != seat_id:
        return []
    leg.cancelled = True
    leg.outcome = "cancelled"
    offer = _last_offer(call)
    if offer is not None and not offer["outcome"]:
        offer["outcome"] = f"cancelled: {reason}"
    if call.state == OFFERED:
        call.move(_offer_ended(in_line))
        call.leg = None
    return [DropLeg(leg.channel_id), Hangup(leg.channel_id)]


def callback_failed(call: Call, leg_id: str, now: float, cause: int | None) -> list[VoiceCommand]:
    """The citizen did not answer the call-back: the seat is released, the attempt recorded."""
    call.parties.pop(leg_id, None)
    call.offers.append({"event": "callback_failed", "at": now, "cause": failure_cause(cause)})
    if call.state == ENDED:
        return [Save(final=True)]  # the call ended first (the seat hung up): note the attempt
    call.hangup_side = "citizen"
    call.hangup_cause = f"callback_{failure_cause(cause)}"
    call.ended = now
    out: list[VoiceCommand] = [Hangup(call.leg.channel_id)] if call.leg is not None else []
    out += [*_end_in_acd(call), *_drop_parties(call)]
    call.move("callback_failed")
    return [*out, *_drop_talk_bridge(call), Forget(), Save(final=True)]


def offer_made(call: Call, seat_id: str, reason: str, leg_id: str, now: float) -> SeatLeg:
    """The core offered the call to ``seat_id``: the seat's leg (the adapter originates it)."""
    leg = SeatLeg(channel_id=leg_id, seat_id=seat_id, started=now)
    call.move("offer")
    call.leg = leg
    call.offers.append({"seat": seat_id, "at": now, "reason": reason, "outcome": None})
    return leg


def offer_refused(call: Call, leg_id: str, seat_id: str, *, in_line: bool) -> list[VoiceCommand]:
    """Asterisk refused to create the seat's leg (no such endpoint, a number nobody may call)."""
    if _leg(call, leg_id) is not None:
        call.leg = None
        call.move(_offer_ended(in_line))
    _outcome(call, "unreachable")
    return [DropLeg(leg_id), ToAcd("offer_failed", seat_id=seat_id, cause="unreachable")]


def seat_answered(call: Call, leg_id: str, bridge: str, now: float) -> list[VoiceCommand]:
    """The seat's leg answered: stop the announcement (Asterisk would run the move into the
    bridge only once it ended), then bridge the leg with the citizen (or, for a call-back, alone:
    the citizen is dialled from the bridge). One bridge per attempt: what Asterisk still does for
    a failed one never meets the next. A leg that is no longer the call's offer is hung up."""
    leg = _leg(call, leg_id)
    if leg is None or leg.cancelled:
        return [Hangup(leg_id)]
    leg.answered = now
    call.talk_bridge = bridge
    if call.callback_number is not None:
        return [ConnectSeat(bridge, (leg_id,), leg.seat_id)]
    return [*stop_announcement(call), ConnectSeat(bridge, (call.channel_id, leg_id), leg.seat_id)]


def seat_bridged(call: Call, leg_id: str, bridge: str, callback_to: str | None) -> list[VoiceCommand]:
    """The talk bridge holds the seat's leg: the talk begins, unless the offer ended meanwhile."""
    leg = _leg(call, leg_id)
    if leg is None or leg.cancelled or call.state == ENDED:
        return answered_too_late(call, leg_id, bridge)
    return seat_connected(call, leg, callback_to)


def seat_connected(call: Call, leg: SeatLeg, callback_to: str | None) -> list[VoiceCommand]:
    """The seat's leg and the citizen are in the talk bridge: the talk begins."""
    call.move("answered")
    call.seat_id = leg.seat_id
    call.answered = leg.answered
    offer = _last_offer(call)
    if offer is not None:
        offer["outcome"], offer["answered"] = "answered", call.answered
    out: list[VoiceCommand] = [ToAcd("accepted", seat_id=leg.seat_id)]
    if call.callback_number is None and call.caller:
        out.append(MissedCall("answered"))
    if call.recording and call.talk_bridge:
        out.append(RecordBridge(call.talk_bridge, call.recording))
    if callback_to is not None:
        out.append(DialCitizen(callback_to))
    return [*out, Save(final=False)]


def citizen_dialled(call: Call, leg_id: str, number: str, now: float) -> None:
    """The seat calls the citizen back from the talk bridge on ``leg_id``."""
    call.parties[leg_id] = Party(leg_id, "citizen", number, now)


def not_connected(call: Call, leg_id: str, seat_id: str, bridge: str, *, in_line: bool) -> list[VoiceCommand]:
    """The seat answered but could not be bridged to the citizen: undo the attempt (its bridge,
    the seat's leg), hold the citizen again and give the contact back to the ACD at its place.
    The seat is not to blame, so it counts no miss."""
    leg = _leg(call, leg_id)
    if leg is not None:
        leg.outcome = "not_connected"
        call.leg = None
    _outcome(call, "not_connected")
    call.talk_bridge = None
    out: list[VoiceCommand] = [DropLeg(leg_id), DestroyBridge(bridge), Hangup(leg_id)]
    if call.state == ENDED:
        return out
    call.move(_offer_ended(in_line))
    if call.state == QUEUED:
        out.append(Hold())
    return [*out, ToAcd("offer_failed", seat_id=seat_id, cause="not_connected")]


def answered_too_late(call: Call, leg_id: str, bridge: str) -> list[VoiceCommand]:
    """The core ended the offer (its ring timer, the seat signing out) while the seat's answer was
    being bridged: that seat no longer has the call, and the core has already put it back in line
    (or offered it elsewhere). Undo the bridge and the leg; hold the citizen."""
    if call.talk_bridge == bridge:
        call.talk_bridge = None
    out: list[VoiceCommand] = [DestroyBridge(bridge), Hangup(leg_id)]
    if call.state in (QUEUED, OFFERED) and call.callback_number is None:
        out.append(Hold())
    return out


def overflowed(
    call: Call, action: str, now: float, *, callable_number: str | None = None, holding_bridge: str = ""
) -> list[VoiceCommand]:
    """The core moved the waiting call on: into another queue (it goes on waiting), to a call-back
    (the place is kept, the citizen hears it confirmed and the line is released), or out of the
    line (a closing message) with the citizen hung up and the contact gone from the ACD.

    A call-back needs a number that may be called (``callable_number``: the caller's, checked by
    the adapter); without one the citizen keeps waiting, and the ACD offers no second call-back."""
    if action.startswith("queue:"):
        call.queue = action.split(":", 1)[1]
        call.overflowed = None  # still waiting, in another queue
        return []
    if action == "callback":
        if callable_number is None:
            return []
        call.offers.append({"event": "overflow", "action": "callback", "at": now})
        return callback_from_queue(call, callable_number, holding_bridge, now)
    call.overflowed = action  # out of the ACD (its contact is gone with the closing message)
    call.hangup_side = "system"
    call.hangup_cause = f"overflow:{action}"
    return [Hangup(call.channel_id)]


def callback_requested(call: Call, number: str, now: float) -> list[VoiceCommand]:
    """The waiting citizen asked to be called back at ``number`` (already checked callable): the
    place in line stays with the ACD, the line is released after the confirmation."""
    call.callback_number = number
    call.overflowed = "callback"
    call.offers.append({"event": "callback_requested", "at": now, "number": number})
    return [ToAcd("callback_requested", number=number)]


def callback_promised(call: Call, number: str, queue: str, now: float) -> list[VoiceCommand]:
    """The IVR promised the citizen a call-back to ``number`` (after hours, or rather than wait):
    the call becomes a call-back contact of the ACD in ``queue``, counted once as it is not a
    call answered late, and the citizen's hang-up after the confirmation keeps it. A citizen
    already waiting in a queue keeps the place instead."""
    if call.state == QUEUED:
        return callback_requested(call, number, now)
    if call.state != ARRIVED:
        return []
    call.move("callback_created")
    call.queue = queue
    call.enqueued = now
    call.callback_number = number
    call.overflowed = "callback"
    call.offers.append({"event": "callback_requested", "at": now, "number": number})
    return [Arrive(queue, "callback", enqueued_at=now, callback_number=number), Save(final=False)]


def callback_from_queue(call: Call, number: str, holding_bridge: str, now: float) -> list[VoiceCommand]:
    """ "Press 1 to be called back" while waiting: the place in line stays with the ACD, the
    announcement says no more, the citizen hears the confirmation and the line is released."""
    if call.state != QUEUED or call.overflowed:
        return []
    out = callback_requested(call, number, now)
    out += stop_announcement(call)
    if holding_bridge:
        out.append(LeaveBridge(holding_bridge, call.channel_id))
    return [*out, Confirm("callback_offer_done", 15.0), Hangup(call.channel_id)]


def announce(call: Call, playback_id: str, media: tuple[str, ...], position: int) -> list[VoiceCommand]:
    """The ACD asks to tell the waiting citizen the place and the wait: one announcement at a
    time (a citizen who still hears the last one skips this one), only while waiting on the line."""
    if call.state != QUEUED or call.announcing is not None or not media:
        return []
    call.announcing = playback_id
    return [Announce(playback_id, media, position)]


def announcement_played(call: Call, position: int, now: float) -> None:
    call.offers.append({"event": "announcement", "position": position, "at": now})


def announcement_ended(call: Call, playback_id: str) -> list[VoiceCommand]:
    """The announcement finished, failed or was stopped: if it was the call's current one, the
    next may play."""
    if call.announcing != playback_id:
        return []
    call.announcing = None
    return [PlayOver(playback_id)]


def stop_announcement(call: Call) -> list[VoiceCommand]:
    if call.announcing is None:
        return []
    playback_id, call.announcing = call.announcing, None
    return [StopAnnouncement(playback_id)]


def callback_resumed(call: Call, now: float) -> list[VoiceCommand]:
    """A call-back promised before the engine stopped (rebuilt from its record): the ACD holds it
    again, at its first enqueue time, so the citizen keeps the place they were promised."""
    if call.state != CALLBACK or not call.callback_number or not call.queue:
        return []
    call.offers.append({"event": "callback_resumed", "at": now})
    return [
        Arrive(call.queue, "callback", enqueued_at=call.enqueued, callback_number=call.callback_number),
        Save(final=False),
    ]


def callback_answered(call: Call, leg_id: str, now: float) -> list[VoiceCommand]:
    """The citizen answered the call-back the seat asked for: that leg is the citizen's side of
    the call from now on, and joins the seat in the talk bridge."""
    if call.talk_bridge is None or call.state != TALKING:
        return [Hangup(leg_id)]
    call.parties.pop(leg_id, None)
    call.channel_id = leg_id
    call.offers.append({"event": "callback_answered", "at": now})
    return [ClaimChannel(), AddToBridge(call.talk_bridge, leg_id)]


def held(call: Call, now: float) -> None:
    """The seat's phone put the citizen on hold (hold time is kept out of the talk time)."""
    if call.hold_started is None:
        call.hold_started = now


def unheld(call: Call, now: float) -> None:
    if call.hold_started is not None:
        call.hold_total += now - call.hold_started
        call.hold_started = None


# -- queueing ---------------------------------------------------------------------------------


def enqueued(
    call: Call,
    queue: str,
    now: float,
    *,
    priority: str = "normal",
    skills: Skills = (),
    preferred: Skills = (),
    language: str | None = None,
    enqueued_at: float | None = None,
    answer: bool = False,
    record: bool = False,
    answered: bool = False,
) -> list[VoiceCommand]:
    """The call joins ``queue`` (after the IVR, straight from Stasis, re-queued by a transfer or
    adopted after a restart at ``enqueued_at``, its first enqueue time, counted once).

    The ACD hears of it first: its offer (and so the seat's ring) never waits for the citizen's
    answer and move into the holding bridge. The place is written on the channel after the ACD
    has had its say, so it never delays the first ring; ``record``: the queue's talks are
    recorded."""
    call.queue = queue
    call.move("enqueue")
    call.enqueued = enqueued_at or now
    arrive = Arrive(queue, "voice", priority, skills, preferred, language, enqueued_at, answered and bool(enqueued_at))
    if record:
        call.recording = f"call-{call.contact_id}"
    return [arrive, Hold(answer=answer), MarkPlace(), Save(final=False)]


def talk_resumed(
    call: Call,
    leg_id: str,
    seat_id: str,
    bridge: str,
    queue: str,
    enqueued_at: float,
    answered_at: float,
    recording: str | None = None,
) -> list[VoiceCommand]:
    """After a restart: the citizen still talks to the seat in the bridge Asterisk kept. The call
    is the seat's again as it was (its first enqueue and answer times); the ACD gives the seat
    back its call, now or when it signs in again, and counts nothing twice."""
    call.move("resume")
    call.queue, call.enqueued, call.answered = queue, enqueued_at, answered_at
    call.seat_id = seat_id
    call.leg = SeatLeg(leg_id, seat_id, answered_at, answered_at)
    call.talk_bridge = bridge
    call.recording = recording
    _note(call, "resumed", answered_at, seat=seat_id)
    return [ToAcd("resumed", seat_id), Save(final=False)]


def adopted(call: Call, queue: str, enqueued_at: float | None) -> None:
    """After a restart: a caller the ACD still holds waits on at its place."""
    call.move("adopt")
    call.queue = queue
    if enqueued_at is not None:
        call.enqueued = enqueued_at


def callback_created(
    call: Call, queue: str, now: float, *, task: str, for_calls: tuple[str, ...]
) -> list[VoiceCommand]:
    """A missed-call call-back (漏接回拨): a new call of its own, with no citizen on the line, that
    the ACD queues as a call-back to the caller's number. Counted once: the missed calls it
    answers for were offered already."""
    number = call.caller
    call.move("callback_created")
    call.queue = queue
    call.enqueued = now
    call.callback_number = number
    call.overflowed = "callback"
    call.offers.append({"event": "missed_call_callback", "at": now, "task": task, "for": list(for_calls)})
    return [Arrive(queue, "callback", enqueued_at=now, callback_number=number), Save(final=False)]


# -- call control -----------------------------------------------------------------------------


def _note(call: Call, what: str, now: float, **data: object) -> None:
    call.offers.append({"event": what, "at": now, **data})


def seat_leaves(call: Call, why: str, now: float) -> list[VoiceCommand]:
    """The seat drops out of a call that goes on with another party (a completed transfer, a
    seat leaving a three-party call): the seat's contact ends, its leg is hung up."""
    leg = call.leg
    if leg is None:
        return []
    _note(call, "seat_left", now, reason=why, seat=call.seat_id)
    out = [DropLeg(leg.channel_id), *_end_in_acd(call), Hangup(leg.channel_id), *_drop_snoops(call)]
    call.leg = None
    call.seat_id = None
    return out


def party_dialled(call: Call, leg_id: str, role: str, number: str, now: float) -> Party:
    """The seat (or a barging supervisor) calls another party into the talk on ``leg_id``; one
    transfer or three-party call at a time."""
    if call.state != TALKING:
        raise VoiceError("该座席当前没有通话")
    if role in DIALLED_ROLES and any(p.role in DIALLED_ROLES for p in call.parties.values()):
        raise VoiceError("已有一个正在进行的转接或三方通话")
    party = Party(leg_id, role, number, now)
    call.parties[leg_id] = party
    if role != "barge":
        _note(call, role, now, to=number)
    return party


def party_refused(call: Call, leg_id: str) -> list[VoiceCommand]:
    """Asterisk would not call the party: it never joined."""
    call.parties.pop(leg_id, None)
    return [DropLeg(leg_id)]


def party_answered(call: Call, leg_id: str, now: float) -> list[VoiceCommand]:
    """The party answered: into the talk bridge. A plain transfer releases the seat only now,
    so a citizen in trouble is never left alone with a ringing line."""
    party = call.parties.get(leg_id)
    if party is None or call.talk_bridge is None or call.state != TALKING:
        call.parties.pop(leg_id, None)
        return [DropLeg(leg_id), Hangup(leg_id)]
    party.answered = now
    out: list[VoiceCommand] = [AddToBridge(call.talk_bridge, leg_id)]
    _note(call, f"{party.role}_answered", now, to=party.number)
    if party.role == "transfer":
        out += seat_leaves(call, f"transferred to {party.number}", now)
    return out


def party_left(call: Call, leg_id: str, now: float) -> list[VoiceCommand]:
    """A party's leg ended: before an answer the attempt failed (the seat still has the citizen);
    after it, a citizen left alone in the call (no seat, no one else) is hung up."""
    party = call.parties.pop(leg_id, None)
    if party is None:
        return []
    out: list[VoiceCommand] = [DropLeg(leg_id)]
    if party.answered is None:
        _note(call, f"{party.role}_failed", now, to=party.number)
        return out
    if call.seat_id is None and call.state == TALKING and not call.others_talk():
        out.append(Hangup(call.channel_id))
    return out


def transfer_completed(call: Call, now: float) -> list[VoiceCommand]:
    """An attended transfer: the seat hands over once the far end has answered."""
    party = call.party("attended")
    if party is None or party.answered is None:
        raise VoiceError("转接方尚未接听")
    return seat_leaves(call, "attended transfer", now)


def three_party_left(call: Call, now: float) -> list[VoiceCommand]:
    """The seat leaves a three-party call; the citizen and the third party talk on."""
    party = call.party("three_party")
    if party is None or party.answered is None:
        raise VoiceError("三方通话尚未建立")
    return seat_leaves(call, "left three-party call", now)


def requeued(call: Call, queue: str, now: float, *, record: bool = False) -> list[VoiceCommand]:
    """A transfer to a queue: the seat's contact ends and the citizen goes back in line at the
    original enqueue time (the place is kept)."""
    _note(call, "requeue", now, to=queue)
    out = [*_end_in_acd(call), *_drop_parties(call)]
    leg, call.leg = call.leg, None
    call.seat_id = None
    if leg is not None:
        out += [DropLeg(leg.channel_id), Hangup(leg.channel_id)]
    if call.talk_bridge:
        out.append(LeaveBridge(call.talk_bridge, call.channel_id))
    out += _drop_talk_bridge(call)
    answered, call.answered = call.answered is not None, None
    return [*out, *enqueued(call, queue, now, enqueued_at=call.enqueued, record=record, answered=answered)]


# -- supervisors ------------------------------------------------------------------------------


def snoop_started(
    call: Call, snoop_id: str, mode: str, endpoint: str, now: float, *, channel: str, bridge: str
) -> Snoop:
    """A supervisor (at ``endpoint``, on ``channel``) listens or whispers to the seat's leg: the
    snoop channel and the supervisor's leg meet in a bridge of their own."""
    if call.state != TALKING or call.seat_id is None:
        raise VoiceError("该座席当前没有通话")
    snoop = Snoop(snoop_id, channel, bridge, call.seat_id, mode)
    call.snoops[snoop_id] = snoop
    _note(call, "snoop", now, mode=mode, supervisor=endpoint)
    return snoop


def snoop_stopped(call: Call, snoop_id: str) -> list[VoiceCommand]:
    snoop = call.snoops.pop(snoop_id, None)
    return _snoop_down(snoop) if snoop is not None else []


# -- the IVR, the survey, the notes -----------------------------------------------------------------


def ivr_progressed(call: Call, checkpoint: dict[str, Any]) -> list[VoiceCommand]:
    """Where the caller is in the menu goes on the record (``ivr.resume``): an engine taking the
    call over (the first one killed) goes on from there. ``ivr_finished`` replaces it."""
    call.ivr_record = {"resume": checkpoint}
    return [Save(final=False)]


def ivr_finished(call: Call, record: dict[str, Any]) -> list[VoiceCommand]:
    """The IVR's session is over: its record, and its path as the nodes and the keys pressed."""
    call.ivr_record = record
    path = record.get("path") or []
    call.ivr_path = [
        f"{step.get('node', '')}" + (f":{step['digits']}" if step.get("digits") else "")
        for step in path
        if isinstance(step, dict)
    ]
    return []


def ivr_hung_up(call: Call, outcome: str, transfer_to: str) -> list[VoiceCommand]:
    """The IVR let the citizen go: a transfer says where to; a hang-up keeps an earlier cause."""
    if transfer_to:
        call.hangup_side, call.hangup_cause = "ivr", f"transfer:{transfer_to}"
    else:
        call.hangup_side = call.hangup_side or "ivr"
        call.hangup_cause = call.hangup_cause or f"ivr:{outcome}"
    return []


def message_recorded(call: Call, name: str) -> list[VoiceCommand]:
    call.recording = name
    return []


def voice_message_filed(call: Call, work_order: int, recording: str, now: float) -> list[VoiceCommand]:
    call.offers.append({"event": "voice_message", "work_order": work_order, "recording": recording, "at": now})
    return []


def notice_played(call: Call, prompt: str, now: float) -> list[VoiceCommand]:
    call.offers.append({"event": "announcement", "prompt": prompt, "at": now})
    return []


def survey_rated(call: Call, result: dict[str, Any]) -> list[VoiceCommand]:
    call.survey = dict(result)
    return []
