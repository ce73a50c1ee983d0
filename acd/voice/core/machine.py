"""The voice core's one entry point: :func:`step` takes a call and one event
(:mod:`acd.voice.core.events`) and returns the commands (:mod:`acd.voice.core.commands`) the
adapter carries out, in order. Each event type has one handler (:mod:`acd.voice.core.flow`);
every change of state goes through the call table (:mod:`acd.voice.core.states`).

A call's snapshot and the events that followed it give the call back exactly (:func:`replay`):
what a journal needs to survive a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from acd.voice.api import VoiceError
from acd.voice.core import events as ev
from acd.voice.core import flow
from acd.voice.core.call import Call
from acd.voice.core.commands import VoiceCommand


def _none(_: Call, __: Any) -> list[VoiceCommand]:
    return []


def _offer_made(call: Call, e: ev.OfferMade) -> list[VoiceCommand]:
    flow.offer_made(call, e.seat_id, e.reason, e.leg_id, e.now)
    return []


def _held(call: Call, e: ev.Held) -> list[VoiceCommand]:
    flow.held(call, e.now)
    return []


def _unheld(call: Call, e: ev.Unheld) -> list[VoiceCommand]:
    flow.unheld(call, e.now)
    return []


def _adopted(call: Call, e: ev.Adopted) -> list[VoiceCommand]:
    flow.adopted(call, e.queue, e.enqueued_at)
    return []


def _played(call: Call, e: ev.AnnouncementPlayed) -> list[VoiceCommand]:
    flow.announcement_played(call, e.position, e.now)
    return []


def _dialled(call: Call, e: ev.CitizenDialled) -> list[VoiceCommand]:
    flow.citizen_dialled(call, e.leg_id, e.number, e.now)
    return []


def _party_dialled(call: Call, e: ev.PartyDialled) -> list[VoiceCommand]:
    flow.party_dialled(call, e.leg_id, e.role, e.number, e.now)
    return []


def _snoop_started(call: Call, e: ev.SnoopStarted) -> list[VoiceCommand]:
    flow.snoop_started(call, e.snoop_id, e.mode, e.endpoint, e.now, channel=e.channel, bridge=e.bridge)
    return []


_HANDLERS: Final[dict[type[Any], Callable[[Call, Any], list[VoiceCommand]]]] = {
    ev.Enqueued: lambda c, e: flow.enqueued(
        c,
        e.queue,
        e.now,
        priority=e.priority,
        skills=e.skills,
        preferred=e.preferred,
        language=e.language,
        enqueued_at=e.enqueued_at,
        answer=e.answer,
        record=e.record,
        answered=e.answered,
    ),
    ev.Adopted: _adopted,
    ev.TalkResumed: lambda c, e: flow.talk_resumed(
        c, e.leg_id, e.seat_id, e.bridge, e.queue, e.enqueued_at, e.answered_at, e.recording
    ),
    ev.Requeued: lambda c, e: flow.requeued(c, e.queue, e.now, record=e.record),
    ev.OfferMade: _offer_made,
    ev.OfferRefused: lambda c, e: flow.offer_refused(c, e.leg_id, e.seat_id, in_line=e.in_line),
    ev.OfferCancelled: lambda c, e: flow.offer_cancelled(c, e.seat_id, e.reason, in_line=e.in_line),
    ev.SeatAnswered: lambda c, e: flow.seat_answered(c, e.leg_id, e.bridge, e.now),
    ev.SeatBridged: lambda c, e: flow.seat_bridged(c, e.leg_id, e.bridge, e.callback_to),
    ev.NotConnected: lambda c, e: flow.not_connected(c, e.leg_id, e.seat_id, e.bridge, in_line=e.in_line),
    ev.CitizenLeft: lambda c, e: flow.citizen_left(c, e.now, e.cause),
    ev.SeatLegLeft: lambda c, e: flow.seat_leg_left(c, e.leg_id, e.now, e.cause, in_line=e.in_line, survey=e.survey),
    ev.AnnouncementDue: lambda c, e: flow.announce(c, e.playback_id, e.media, e.position),
    ev.AnnouncementPlayed: _played,
    ev.AnnouncementEnded: lambda c, e: flow.announcement_ended(c, e.playback_id),
    ev.NoticePlayed: lambda c, e: flow.notice_played(c, e.prompt, e.now),
    ev.Overflowed: lambda c, e: flow.overflowed(
        c, e.action, e.now, callable_number=e.callable_number, holding_bridge=e.holding_bridge
    ),
    ev.CallbackFromQueue: lambda c, e: flow.callback_from_queue(c, e.number, e.holding_bridge, e.now),
    ev.CallbackPromised: lambda c, e: flow.callback_promised(c, e.number, e.queue, e.now),
    ev.CallbackCreated: lambda c, e: flow.callback_created(c, e.queue, e.now, task=e.task, for_calls=e.for_calls),
    ev.CallbackResumed: lambda c, e: flow.callback_resumed(c, e.now),
    ev.CitizenDialled: _dialled,
    ev.CallbackAnswered: lambda c, e: flow.callback_answered(c, e.leg_id, e.now),
    ev.CallbackFailed: lambda c, e: flow.callback_failed(c, e.leg_id, e.now, e.cause),
    ev.Held: _held,
    ev.Unheld: _unheld,
    ev.PartyDialled: _party_dialled,
    ev.PartyRefused: lambda c, e: flow.party_refused(c, e.leg_id),
    ev.PartyAnswered: lambda c, e: flow.party_answered(c, e.leg_id, e.now),
    ev.PartyLeft: lambda c, e: flow.party_left(c, e.leg_id, e.now),
    ev.TransferCompleted: lambda c, e: flow.transfer_completed(c, e.now),
    ev.ThreePartyLeft: lambda c, e: flow.three_party_left(c, e.now),
    ev.SnoopStarted: _snoop_started,
    ev.SnoopStopped: lambda c, e: flow.snoop_stopped(c, e.snoop_id),
    ev.IvrFinished: lambda c, e: flow.ivr_finished(c, e.record),
    ev.IvrProgressed: lambda c, e: flow.ivr_progressed(c, e.checkpoint),
    ev.IvrHungUp: lambda c, e: flow.ivr_hung_up(c, e.outcome, e.transfer_to),
    ev.MessageRecorded: lambda c, e: flow.message_recorded(c, e.name),
    ev.VoiceMessageFiled: lambda c, e: flow.voice_message_filed(c, e.work_order, e.recording, e.now),
    ev.SurveyRated: lambda c, e: flow.survey_rated(c, e.result),
}

assert set(_HANDLERS) == set(ev.EVENT_TYPES.values()), "every voice event has one handler"


def step(call: Call, event: ev.VoiceEvent) -> list[VoiceCommand]:
    """Apply one event to the call; return the commands to carry out, in order.

    An event of no known type, or without a finite ``now``, raises ValueError before anything
    changes; a pair the call table does not allow raises IllegalCallTransition; an action the
    call cannot take now (a second transfer, a snoop on a call with no seat) raises VoiceError
    with the refusal to show.
    """
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise ValueError(f"not a voice event: {type(event).__name__}")
    ev.check_now(event)
    return handler(call, event)


def replay(call: Call, events: Iterable[ev.VoiceEvent]) -> list[VoiceCommand]:
    """Apply ``events`` in order, skipping the ones refused (as they were when they happened);
    the commands of them all."""
    out: list[VoiceCommand] = []
    for event in events:
        try:
            out += step(call, event)
        except (ValueError, VoiceError):
            continue
    return out
