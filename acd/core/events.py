"""Events in: what happened, with the caller's clock in ``now`` (seconds).

The engine never reads a clock. ``now`` may be monotonic or epoch seconds (epoch is needed
for opening hours and for statistics intervals aligned to the wall clock), but one engine
must be fed one kind. Every event turns into a plain dict and back, for the replay log.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

from acd.core.config import QueueConfig, Skills


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes: ring timeouts, wrap-up ends, widening, announcements, max waits."""

    now: float


@dataclass(frozen=True, slots=True)
class QueueConfigured:
    now: float
    queue: QueueConfig


@dataclass(frozen=True, slots=True)
class ContactArrived:
    now: float
    contact_id: str
    channel: str  # voice | webchat | wechat | callback
    queue: str
    priority: str = "normal"
    skills: Skills = ()  # needed, with a minimum proficiency
    preferred: Skills = ()  # wanted first, dropped when widening
    language: str | None = None  # a language or dialect need: skill "lang:<x>", never dropped
    caller: str | None = None
    enqueued_at: float | None = None  # original time when re-queued after a transfer or restart
    # Re-queued away from this seat (a chat whose citizen waited too long there): it is offered
    # to any other seat that can take it first, and to this one only when no other is available.
    avoid_seat: str | None = None
    # What a re-queued contact already counted (with ``enqueued_at``): the queue its figures stay
    # with, and whether a seat answered it (and, a chat, replied) before it was moved or the
    # engine restarted; such a contact is not counted as answered, replied or abandoned again.
    home: str | None = None
    answered: bool = False
    replied: bool = False
    # A call-back contact (channel "callback") arrives waiting for a call back to this number:
    # offered to a seat only as one (a CallbackRequested after the arrival would come too late
    # when a seat is free: the arrival has offered it already).
    callback_number: str | None = None


@dataclass(frozen=True, slots=True)
class ContactAbandoned:
    now: float
    contact_id: str


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The waiting citizen hung up to be called back; the place in line is kept."""

    now: float
    contact_id: str
    number: str


@dataclass(frozen=True, slots=True)
class ContactEnded:
    now: float
    contact_id: str


@dataclass(frozen=True, slots=True)
class SeatReplied:
    """A seat's reply in a chat; the first one counts for the real-time response rate."""

    now: float
    contact_id: str


@dataclass(frozen=True, slots=True)
class SeatLoggedIn:
    now: float
    seat_id: str
    skills: Skills = ()
    groups: tuple[str, ...] = ()
    kind: str = "onsite"  # onsite | cloud
    ring_delay_s: float = 0.0  # cloud seats: expected extra delay before their phone rings
    max_chats: int | None = None  # None: the engine setting; 0: a seat for calls only
    ready: bool = False
    calls: bool = True  # False: a seat for chats only (网络座席), never offered a call


@dataclass(frozen=True, slots=True)
class SeatLoggedOut:
    now: float
    seat_id: str


@dataclass(frozen=True, slots=True)
class SeatReady:
    now: float
    seat_id: str


@dataclass(frozen=True, slots=True)
class SeatNotReady:
    now: float
    seat_id: str
    reason: str = "break"  # break, meal, training, meeting, ...


@dataclass(frozen=True, slots=True)
class SeatSkillsChanged:
    """The scheduler moves a seat between groups or changes its skills at runtime."""

    now: float
    seat_id: str
    skills: Skills
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SeatGone:
    """The seat vanished (phone unregistered, browser lost): offers and chats go back to the queue."""

    now: float
    seat_id: str


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    now: float
    contact_id: str
    seat_id: str


@dataclass(frozen=True, slots=True)
class OfferRejected:
    now: float
    contact_id: str
    seat_id: str


# not_connected: the seat answered but the engine could not bridge it to the contact (the seat
# is not to blame: no miss is counted, the contact goes back to its place).
OFFER_FAILURES: Final = ("busy", "unreachable", "unregistered", "no_answer", "not_connected")


@dataclass(frozen=True, slots=True)
class OfferFailed:
    now: float
    contact_id: str
    seat_id: str
    cause: str  # busy | unreachable | unregistered | no_answer | not_connected


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    now: float
    seat_id: str


@dataclass(frozen=True, slots=True)
class TalkResumed:
    """After a start: a call whose citizen and seat were still talking when the engine stopped
    (Asterisk kept their bridge), or a chat a seat held. It is given back to ``seat_id`` at once
    if that seat is signed in and free, else when the seat signs in (busy from its first moment);
    it counts nothing again (it was offered and answered before the stop)."""

    now: float
    contact_id: str
    queue: str
    seat_id: str
    enqueued_at: float
    answered_at: float
    caller: str | None = None
    channel: str = "voice"  # or a chat's (webchat, wechat): the seat holds it among its chats
    replied: bool = False  # a chat a seat had written to (its first reply is not counted again)


Event = (
    Tick
    | QueueConfigured
    | ContactArrived
    | ContactAbandoned
    | CallbackRequested
    | ContactEnded
    | SeatReplied
    | SeatLoggedIn
    | SeatLoggedOut
    | SeatReady
    | SeatNotReady
    | SeatSkillsChanged
    | SeatGone
    | OfferAccepted
    | OfferRejected
    | OfferFailed
    | WrapUpDone
    | TalkResumed
)

EVENT_TYPES: Final[dict[str, type[Any]]] = {
    cls.__name__: cls
    for cls in (
        Tick,
        QueueConfigured,
        ContactArrived,
        ContactAbandoned,
        CallbackRequested,
        ContactEnded,
        SeatReplied,
        SeatLoggedIn,
        SeatLoggedOut,
        SeatReady,
        SeatNotReady,
        SeatSkillsChanged,
        SeatGone,
        OfferAccepted,
        OfferRejected,
        OfferFailed,
        WrapUpDone,
        TalkResumed,
    )
}

_PAIRS: Final = frozenset({"skills", "preferred"})


def event_to_dict(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, QueueConfig):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[f.name] = value
    return out


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event; a malformed record raises ValueError naming the problem."""
    if not isinstance(data, dict) or data.get("type") not in EVENT_TYPES:
        raise ValueError(f"not an ACD event record: {data!r:.120}")
    cls = EVENT_TYPES[data["type"]]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "type":
            continue
        if key == "queue" and cls is QueueConfigured:
            value = QueueConfig.from_dict(value)
        elif key in _PAIRS:
            value = tuple((str(k), int(v)) for k, v in value)
        elif key == "groups":
            value = tuple(value)
        kwargs[key] = value
    try:
        event: Event = cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad {data['type']} record: {exc}") from None
    return event
