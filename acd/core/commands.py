"""Commands out: what the adapters must do. Each carries a short ``reason`` kept for audit."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring the seat (voice) or push the conversation to it (chat); answer within ring_timeout_s."""

    contact_id: str
    seat_id: str
    channel: str
    ring_timeout_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class CancelOffer:
    contact_id: str
    seat_id: str
    reason: str
    # The contact's channel, as its offer had it: a contact that left is gone from the core by
    # the time its cancel is carried out, and the service finds the executor by it.
    channel: str = ""


@dataclass(frozen=True, slots=True)
class StartCallback:
    """The seat is reserved for a call-back: dial the citizen and bridge to the seat."""

    contact_id: str
    seat_id: str
    number: str
    reason: str


@dataclass(frozen=True, slots=True)
class Announce:
    contact_id: str
    position: int  # 1 = next
    expected_wait_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class Overflow:
    """The contact leaves its queue: ``queue:<name>`` (already moved), ``callback`` (offer one) or
    ``message`` (play or send the closing message)."""

    contact_id: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class Widened:
    """Audit only: the contact may now be served by a wider set of seats."""

    contact_id: str
    level: int
    reason: str


@dataclass(frozen=True, slots=True)
class SeatStateChanged:
    seat_id: str
    state: str
    reason: str


Command = Offer | CancelOffer | StartCallback | Announce | Overflow | Widened | SeatStateChanged


COMMAND_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (Offer, CancelOffer, StartCallback, Announce, Overflow, Widened, SeatStateChanged)
}


# Commands hold only plain values: a shallow copy of their fields is the whole record
# (dataclasses.asdict's deep copy was a visible cost on every offer's path).
_FIELDS: dict[type[Any], tuple[str, ...]] = {cls: tuple(f.name for f in fields(cls)) for cls in COMMAND_TYPES.values()}


def command_to_dict(command: Command) -> dict[str, Any]:
    cls = type(command)
    out = {name: getattr(command, name) for name in _FIELDS[cls]}
    out["type"] = cls.__name__
    return out


def command_from_dict(data: dict[str, Any]) -> Command:
    fields = dict(data)
    cls = COMMAND_TYPES.get(fields.pop("type", None))
    if cls is None:
        raise ValueError(f"not an ACD command record: {data!r:.120}")
    command: Command = cls(**fields)
    return command
