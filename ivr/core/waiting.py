"""Announcements while a caller waits for a seat: position, expected wait, and an offer to be
called back instead of waiting ("press 1"), which keeps the caller's place in line.

The ACD owns the estimate; the adapter feeds it in with ``WaitUpdate`` on each of its ticks and
stops this object once a seat answers. Between announcements the caller hears music on hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ivr.core.errors import IllegalEvent
from ivr.core.messages import (
    CollectDigits,
    Command,
    DigitsReceived,
    DigitTimeout,
    Hangup,
    Piece,
    Play,
    PromptFinished,
    PromptRef,
    RequestCallback,
)
from ivr.core.speech import expected_wait, position


@dataclass(frozen=True)
class WaitUpdate:
    now: dt.datetime
    ahead: int  # callers ahead of this one
    expected_wait: float  # seconds, the ACD's estimate


WaitEvent = WaitUpdate | PromptFinished | DigitsReceived | DigitTimeout | Hangup


@dataclass(frozen=True)
class WaitPolicy:
    first_after: float = 20.0  # seconds in queue before the first announcement
    every: float = 45.0  # seconds between announcements
    offer_callback_from: float = 60.0  # offer a callback when the expected wait is at least this
    max_offers: int = 2
    offer_timeout: float = 5.0
    announce_wait: bool = True


class WaitState(StrEnum):
    HOLDING = "holding"  # music on hold
    ANNOUNCING = "announcing"
    OFFERING = "offering"  # announcement with the callback offer, collecting one key
    CONFIRMING = "confirming"  # callback accepted, confirmation playing
    ENDED = "ended"


TABLE: dict[WaitState, dict[type[Any], str]] = {
    WaitState.HOLDING: {WaitUpdate: "_on_update", Hangup: "_on_hangup"},
    WaitState.ANNOUNCING: {
        WaitUpdate: "_ignore",
        PromptFinished: "_on_done",
        DigitsReceived: "_ignore",
        Hangup: "_on_hangup",
    },
    WaitState.OFFERING: {
        WaitUpdate: "_ignore",
        PromptFinished: "_ignore",
        DigitsReceived: "_on_digits",
        DigitTimeout: "_on_done",
        Hangup: "_on_hangup",
    },
    WaitState.CONFIRMING: {PromptFinished: "_on_confirmed", WaitUpdate: "_ignore", Hangup: "_on_hangup"},
    WaitState.ENDED: {Hangup: "_ignore", WaitUpdate: "_ignore"},
}


@dataclass
class WaitingAnnouncer:
    caller: str
    queue: str
    entered_at: dt.datetime
    policy: WaitPolicy = WaitPolicy()
    state: WaitState = WaitState.HOLDING
    offers: int = 0
    accepted_callback: bool = False
    announcements: list[tuple[dt.datetime, int, float]] = field(default_factory=list)
    _next_at: dt.datetime | None = None

    def on_event(self, event: WaitEvent) -> list[Command]:
        handler = TABLE[self.state].get(type(event))
        if handler is None:
            raise IllegalEvent(f"{type(event).__name__} in waiting state {self.state}")
        out: list[Command] = getattr(self, handler)(event)
        return out

    def _ignore(self, event: WaitEvent) -> list[Command]:
        return []

    def _on_update(self, event: WaitEvent) -> list[Command]:
        assert isinstance(event, WaitUpdate)
        due = self._next_at or self.entered_at + dt.timedelta(seconds=self.policy.first_after)
        if event.now < due:
            return []
        self._next_at = event.now + dt.timedelta(seconds=self.policy.every)
        self.announcements.append((event.now, event.ahead, event.expected_wait))
        pieces: tuple[Piece, ...] = position(event.ahead)
        if self.policy.announce_wait:
            pieces += expected_wait(event.expected_wait)
        can_offer = bool(self.caller.strip("+0123456789") == "" and any(ch.isdigit() for ch in self.caller))
        if (
            can_offer
            and event.expected_wait >= self.policy.offer_callback_from
            and self.offers < self.policy.max_offers
        ):
            self.offers += 1
            self.state = WaitState.OFFERING
            return [
                Play((*pieces, PromptRef("callback_offer")), barge_in=True),
                CollectDigits(1, self.policy.offer_timeout, ""),
            ]
        self.state = WaitState.ANNOUNCING
        return [Play(pieces)]

    def _on_done(self, event: WaitEvent) -> list[Command]:
        self.state = WaitState.HOLDING  # the adapter resumes music on hold
        return []

    def _on_digits(self, event: WaitEvent) -> list[Command]:
        assert isinstance(event, DigitsReceived)
        if event.digits[:1] != "1":
            self.state = WaitState.HOLDING
            return []
        self.accepted_callback = True
        self.state = WaitState.CONFIRMING
        return [
            RequestCallback(self.caller, self.queue, "waiting", keep_place=True),
            Play((PromptRef("callback_offer_done"),)),
        ]

    def _on_confirmed(self, event: WaitEvent) -> list[Command]:
        self.state = WaitState.ENDED
        return [Hangup()]

    def _on_hangup(self, event: WaitEvent) -> list[Command]:
        self.state = WaitState.ENDED
        return []
