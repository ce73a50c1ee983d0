"""Small builders for ACD unit tests: an engine with queues and seats, and command filters."""

from __future__ import annotations

from typing import Any

from acd.core import (
    Acd,
    AcdSettings,
    Command,
    ContactArrived,
    Event,
    Offer,
    QueueConfig,
    QueueConfigured,
    SeatLoggedIn,
)


class Rig:
    """An engine plus the commands of the last event, with short helpers."""

    def __init__(self, settings: AcdSettings | None = None, **queue: Any) -> None:
        self.acd = Acd(settings or AcdSettings())
        self.out: list[Command] = []
        self.feed(QueueConfigured(0.0, QueueConfig("q", **queue)))

    def feed(self, event: Event) -> list[Command]:
        self.out = self.acd.handle(event)
        return self.out

    def seat(self, seat_id: str, now: float = 0.0, skills: Any = (("general", 3),), **kw: Any) -> list[Command]:
        kw.setdefault("ready", True)
        return self.feed(SeatLoggedIn(now, seat_id, skills, **kw))

    def call(self, contact_id: str, now: float, channel: str = "voice", queue: str = "q", **kw: Any) -> list[Command]:
        return self.feed(ContactArrived(now, contact_id, channel, queue, **kw))

    def offers(self) -> list[tuple[str, str]]:
        return [(c.contact_id, c.seat_id) for c in self.out if isinstance(c, Offer)]

    def of(self, kind: type[Any]) -> list[Any]:
        return [c for c in self.out if isinstance(c, kind)]

    def state(self, seat_id: str) -> str:
        return str(self.acd.seat_state(seat_id)["state"])

    def cstate(self, contact_id: str) -> str:
        return self.acd.contacts[contact_id].state
