"""What the voice core asks its adapter to do, as frozen data: hang up, bridge, play, tell the
ACD, save the record... The adapter (:class:`acd.voice.service.VoiceService`) carries them out in
order; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from acd.core.config import Skills


@dataclass(frozen=True)
class Hangup:
    channel_id: str


@dataclass(frozen=True)
class DestroyBridge:
    bridge_id: str


@dataclass(frozen=True)
class LeaveBridge:
    """Take a channel out of a bridge (returns once it has left)."""

    bridge_id: str
    channel_id: str


@dataclass(frozen=True)
class ToAcd:
    """Tell the ACD core: the contact was abandoned or ended, its offer to ``seat_id`` failed or
    was accepted, or the citizen asked to be called back at ``number``."""

    event: Literal["abandoned", "ended", "offer_failed", "accepted", "callback_requested", "resumed"]
    seat_id: str = ""
    cause: str = ""
    number: str = ""


@dataclass(frozen=True)
class Arrive:
    """Give the contact to the ACD core (it queues it and may offer it at once)."""

    queue: str
    channel: Literal["voice", "callback"] = "voice"
    priority: str = "normal"
    skills: Skills = ()  # needed, with a minimum proficiency
    preferred: Skills = ()  # wanted first, dropped when widening
    language: str | None = None
    enqueued_at: float | None = None  # a re-queue's, an adopted or a call-back's first enqueue time
    answered: bool = False  # a seat answered it before (a transfer to a queue, adopted): counted once
    # A call-back (promised, resumed, for missed calls): it arrives as one, with the number to
    # call, so that a free seat is offered a call-back and never the citizen's empty line.
    callback_number: str = ""


@dataclass(frozen=True)
class MissedCall:
    """Tell the missed-call planner (an abandoned caller may be called back; an answered one
    no longer needs it)."""

    kind: Literal["abandoned", "answered"]


@dataclass(frozen=True)
class Hold:
    """Answer the citizen (when asked) and put them in the queue's holding bridge; if the citizen
    has gone meanwhile, the commands after this one are dropped (the hang-up's own handling ends
    the call)."""

    answer: bool = False


@dataclass(frozen=True)
class MarkPlace:
    """Keep the call's place (its first enqueue time and queue) on the citizen's channel, so that
    a restarted engine restores it."""


@dataclass(frozen=True)
class Announce:
    """Play the queue announcement (position, expected wait) to the waiting citizen as
    ``playback_id``; the adapter reports back :func:`announcement_played` or
    :func:`announcement_failed`."""

    playback_id: str
    media: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class StopAnnouncement:
    """Stop the announcement (or cancel it, if not started yet). Asterisk runs every later command
    for the channel (a move into the seat's bridge above all) only once a playback ends."""

    playback_id: str


@dataclass(frozen=True)
class Confirm:
    """Play a prompt to the citizen and wait (at most ``timeout_s``) for its end or a hang-up."""

    prompt: str
    timeout_s: float


@dataclass(frozen=True)
class RecordBridge:
    bridge_id: str
    name: str


@dataclass(frozen=True)
class AddToBridge:
    bridge_id: str
    channel_id: str


@dataclass(frozen=True)
class ClaimChannel:
    """The call's citizen is now on ``call.channel_id`` (a call-back the citizen answered)."""


@dataclass(frozen=True)
class DialCitizen:
    """Call the citizen back from the seat's talk bridge."""

    number: str


@dataclass(frozen=True)
class WakeIvr:
    """Tell the IVR running for the call that the citizen has gone."""


@dataclass(frozen=True)
class StartSurvey:
    """The citizen rates the call (the satisfaction survey runs beside the event loop)."""


@dataclass(frozen=True)
class ReleaseChannel:
    """The citizen's channel is no longer the call's (off the line for a call-back)."""


@dataclass(frozen=True)
class DropLeg:
    """A seat leg (or call-back leg) is no longer the call's."""

    channel_id: str


@dataclass(frozen=True)
class Forget:
    """The call is over for the voice side."""


@dataclass(frozen=True)
class Save:
    """Write the call's interaction record (``final``: with its end)."""

    final: bool


@dataclass(frozen=True)
class ConnectSeat:
    """Create the talk bridge ``bridge_id`` and put ``channel_ids`` in it (the citizen and the
    seat's leg, or only the leg of a call-back); the adapter reports back
    :class:`~acd.voice.core.events.SeatBridged` or :class:`~acd.voice.core.events.NotConnected`."""

    bridge_id: str
    channel_ids: tuple[str, ...]  # the seat's leg last
    seat_id: str


@dataclass(frozen=True)
class PlayOver:
    """The announcement ``playback_id`` is no longer playing: its request is not the call's any more."""

    playback_id: str


VoiceCommand = (
    Hangup
    | ConnectSeat
    | PlayOver
    | DestroyBridge
    | LeaveBridge
    | ToAcd
    | Arrive
    | MissedCall
    | Hold
    | MarkPlace
    | Announce
    | StopAnnouncement
    | Confirm
    | RecordBridge
    | DialCitizen
    | AddToBridge
    | ClaimChannel
    | WakeIvr
    | StartSurvey
    | ReleaseChannel
    | DropLeg
    | Forget
    | Save
)
