"""What happens to a call, as frozen data: the facts the adapter reads from Asterisk (a channel
left, a leg answered, a playback ended), the ACD's commands (an offer, its cancel, an overflow),
the seats' and supervisors' actions (a transfer, a snoop) and the IVR's results. The voice core
takes them one at a time (:func:`acd.voice.core.machine.step`) and answers with commands.

Every event carries ``now`` (the adapter's clock when it happened) and the facts only the adapter
can see (``in_line``: the citizen's channel is still the call's; ``survey``: a survey follows the
talk); the core knows the rest from the call. Events are JSON-able (:func:`event_to_dict`,
:func:`event_from_dict`), so a call's life can be logged and replayed from its snapshot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Final

from acd.core.config import Skills

# -- queueing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueued:
    """The call joins ``queue`` (after the IVR, straight from Stasis, or adopted with no place)."""

    now: float
    queue: str
    priority: str = "normal"
    skills: Skills = ()
    preferred: Skills = ()
    language: str | None = None
    enqueued_at: float | None = None
    answer: bool = False  # answer the citizen first (no IVR answered them)
    record: bool = False  # the queue's talks are recorded
    answered: bool = False  # adopted after a restart: a seat had answered it (counted once)


@dataclass(frozen=True)
class Adopted:
    """After a restart: a caller the ACD still holds waits on at its place."""

    now: float
    queue: str
    enqueued_at: float | None = None


@dataclass(frozen=True)
class TalkResumed:
    """After a restart: the citizen and the seat's leg ``leg_id`` still talk in ``bridge`` (Asterisk
    kept them); the call goes on as the seat's, with its times from the stored record."""

    now: float
    leg_id: str
    seat_id: str
    bridge: str
    queue: str
    enqueued_at: float
    answered_at: float
    recording: str | None = None


@dataclass(frozen=True)
class Requeued:
    """The seat transferred the citizen to ``queue``: back in line at the first enqueue time."""

    now: float
    queue: str
    record: bool = False


# -- offers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferMade:
    """The ACD offered the call to ``seat_id``; the adapter rings the seat on ``leg_id``."""

    now: float
    seat_id: str
    reason: str
    leg_id: str


@dataclass(frozen=True)
class OfferRefused:
    """Asterisk would not create the seat's leg (no such endpoint, a number nobody may call)."""

    now: float
    leg_id: str
    seat_id: str
    in_line: bool = True


@dataclass(frozen=True)
class OfferCancelled:
    """The ACD took its offer to ``seat_id`` back (ring timer, the seat signed out...)."""

    now: float
    seat_id: str
    reason: str
    in_line: bool = True


@dataclass(frozen=True)
class SeatAnswered:
    """The seat's leg ``leg_id`` answered; ``bridge`` is the talk bridge to make for it."""

    now: float
    leg_id: str
    bridge: str


@dataclass(frozen=True)
class SeatBridged:
    """The talk bridge holds the seat's leg (and the citizen); ``callback_to``: the ACD's
    call-back number for this contact, dialled from the bridge."""

    now: float
    leg_id: str
    bridge: str
    callback_to: str | None = None


@dataclass(frozen=True)
class NotConnected:
    """The seat answered but its leg could not be bridged to the citizen."""

    now: float
    leg_id: str
    seat_id: str
    bridge: str
    in_line: bool = True


# -- parties leaving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenLeft:
    now: float
    cause: int | None = None


@dataclass(frozen=True)
class SeatLegLeft:
    now: float
    leg_id: str
    cause: int | None = None
    in_line: bool = True
    survey: bool = False


# -- announcements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnouncementDue:
    """The ACD asks to tell the waiting citizen the place and the wait, as ``media``."""

    now: float
    playback_id: str
    media: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class AnnouncementPlayed:
    """Asterisk took the announcement (it plays now)."""

    now: float
    playback_id: str
    position: int


@dataclass(frozen=True)
class AnnouncementEnded:
    """The announcement finished, failed or was stopped."""

    now: float
    playback_id: str


@dataclass(frozen=True)
class NoticePlayed:
    """A notice (the service's greeting before the IVR) played to the citizen."""

    now: float
    prompt: str


# -- call-backs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overflowed:
    """The ACD moved the waiting call on (``queue:<name>``, ``callback``, or out of the line);
    ``callable_number``: the caller's number if a call-back may dial it."""

    now: float
    action: str
    callable_number: str | None = None
    holding_bridge: str = ""


@dataclass(frozen=True)
class CallbackFromQueue:
    """The waiting citizen pressed 1 to be called back at ``number`` (checked callable)."""

    now: float
    number: str
    holding_bridge: str = ""


@dataclass(frozen=True)
class CallbackPromised:
    """The IVR promised the citizen a call-back to ``number`` from ``queue``."""

    now: float
    number: str
    queue: str


@dataclass(frozen=True)
class CallbackCreated:
    """A missed-call call-back (漏接回拨) for the calls ``for_calls``, task ``task``: a call with no
    citizen on the line, to ``call.caller``."""

    now: float
    queue: str
    task: str
    for_calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallbackResumed:
    """After a restart: a call-back promised before it, rebuilt from its record, waits again."""

    now: float


@dataclass(frozen=True)
class CitizenDialled:
    """The seat calls the citizen back at ``number`` on ``leg_id``."""

    now: float
    leg_id: str
    number: str


@dataclass(frozen=True)
class CallbackAnswered:
    now: float
    leg_id: str


@dataclass(frozen=True)
class CallbackFailed:
    """The citizen's call-back leg ended unanswered (or could not be placed)."""

    now: float
    leg_id: str
    cause: int | None = None


# -- call control ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    now: float


@dataclass(frozen=True)
class Unheld:
    now: float


@dataclass(frozen=True)
class PartyDialled:
    """The seat (or a barging supervisor) calls ``number`` into the talk on ``leg_id``."""

    now: float
    leg_id: str
    role: str
    number: str


@dataclass(frozen=True)
class PartyRefused:
    now: float
    leg_id: str


@dataclass(frozen=True)
class PartyAnswered:
    now: float
    leg_id: str


@dataclass(frozen=True)
class PartyLeft:
    now: float
    leg_id: str


@dataclass(frozen=True)
class TransferCompleted:
    now: float


@dataclass(frozen=True)
class ThreePartyLeft:
    now: float


@dataclass(frozen=True)
class SnoopStarted:
    """A supervisor at ``endpoint`` (their leg ``channel``) listens or whispers through a snoop
    channel ``snoop_id`` and a bridge of their own."""

    now: float
    snoop_id: str
    mode: str
    endpoint: str
    channel: str
    bridge: str


@dataclass(frozen=True)
class SnoopStopped:
    now: float
    snoop_id: str


# -- the IVR and the survey -------------------------------------------------------------------------


@dataclass(frozen=True)
class IvrFinished:
    """The IVR's session is over: its record (flow, path, outcome) goes on the call's."""

    now: float
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IvrProgressed:
    """The caller reached another node of the menu: where an engine that takes the call over
    goes on from (the IVR session's checkpoint), kept on the call's record until the IVR ends."""

    now: float
    checkpoint: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IvrHungUp:
    """The IVR let the citizen go: hung up (``transfer_to`` empty) or sent on to a number."""

    now: float
    outcome: str = ""
    transfer_to: str = ""


@dataclass(frozen=True)
class MessageRecorded:
    """The citizen's voice message was recorded as ``name``."""

    now: float
    name: str


@dataclass(frozen=True)
class VoiceMessageFiled:
    """The voice message ``recording`` became work order ``work_order``."""

    now: float
    work_order: int
    recording: str


@dataclass(frozen=True)
class SurveyRated:
    now: float
    result: dict[str, Any] = field(default_factory=dict)


VoiceEvent = (
    Enqueued
    | Adopted
    | TalkResumed
    | Requeued
    | OfferMade
    | OfferRefused
    | OfferCancelled
    | SeatAnswered
    | SeatBridged
    | NotConnected
    | CitizenLeft
    | SeatLegLeft
    | AnnouncementDue
    | AnnouncementPlayed
    | AnnouncementEnded
    | NoticePlayed
    | Overflowed
    | CallbackFromQueue
    | CallbackPromised
    | CallbackCreated
    | CallbackResumed
    | CitizenDialled
    | CallbackAnswered
    | CallbackFailed
    | Held
    | Unheld
    | PartyDialled
    | PartyRefused
    | PartyAnswered
    | PartyLeft
    | TransferCompleted
    | ThreePartyLeft
    | SnoopStarted
    | SnoopStopped
    | IvrFinished
    | IvrProgressed
    | IvrHungUp
    | MessageRecorded
    | VoiceMessageFiled
    | SurveyRated
)

EVENT_TYPES: Final[dict[str, type[Any]]] = {
    cls.__name__: cls
    for cls in (
        Enqueued,
        Adopted,
        TalkResumed,
        Requeued,
        OfferMade,
        OfferRefused,
        OfferCancelled,
        SeatAnswered,
        SeatBridged,
        NotConnected,
        CitizenLeft,
        SeatLegLeft,
        AnnouncementDue,
        AnnouncementPlayed,
        AnnouncementEnded,
        NoticePlayed,
        Overflowed,
        CallbackFromQueue,
        CallbackPromised,
        CallbackCreated,
        CallbackResumed,
        CitizenDialled,
        CallbackAnswered,
        CallbackFailed,
        Held,
        Unheld,
        PartyDialled,
        PartyRefused,
        PartyAnswered,
        PartyLeft,
        TransferCompleted,
        ThreePartyLeft,
        SnoopStarted,
        SnoopStopped,
        IvrFinished,
        IvrProgressed,
        IvrHungUp,
        MessageRecorded,
        VoiceMessageFiled,
        SurveyRated,
    )
}

_PAIRS: Final = frozenset({"skills", "preferred"})  # (skill, level) pairs
_TUPLES: Final = frozenset({"media", "for_calls"})


def event_to_dict(event: VoiceEvent) -> dict[str, Any]:
    """The event as JSON-able data, ``type`` naming it."""
    out: dict[str, Any] = {"type": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[f.name] = value
    return out


def event_from_dict(data: dict[str, Any]) -> VoiceEvent:
    """Rebuild an event from :func:`event_to_dict`; a malformed record raises ValueError."""
    if not isinstance(data, dict) or data.get("type") not in EVENT_TYPES:
        raise ValueError(f"not a voice event record: {data!r:.120}")
    cls = EVENT_TYPES[data["type"]]
    known = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "type":
            continue
        if key not in known:
            raise ValueError(f"voice event {data['type']} has no field {key!r}")
        if key in _PAIRS:
            value = tuple((str(k), int(v)) for k, v in value)
        elif key in _TUPLES:
            value = tuple(value)
        kwargs[key] = value
    try:
        event: VoiceEvent = cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"voice event {data['type']}: {exc}") from None
    check_now(event)
    return event


def check_now(event: object) -> float:
    """The event's time, a finite number; anything else raises ValueError."""
    now = getattr(event, "now", None)
    if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
        raise ValueError(f"voice event {type(event).__name__} needs a finite number in 'now', not {now!r}")
    return float(now)
