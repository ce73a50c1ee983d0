"""What the voice side knows of each call: the citizen's channel, the seat legs, the bridges,
and the timeline that becomes the call's interaction record."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from acd.voice.core.states import (
    ARRIVED,
    CALLBACK,
    ENDED,
    OFFERED,
    QUEUED,
    SURVEY,
    TALKING,
    next_call_state,
)

__all__ = ["ARRIVED", "CALLBACK", "ENDED", "OFFERED", "QUEUED", "SURVEY", "TALKING", "Call", "SeatLeg"]

# Q.850 causes of a seat leg that never answered -> the core's offer failure causes.
FAILURE_CAUSES = {
    17: "busy",
    21: "busy",
    18: "no_answer",
    19: "no_answer",
    20: "unregistered",
    3: "unreachable",
    1: "unreachable",
    27: "unreachable",
    34: "unreachable",
    38: "unreachable",
}


def failure_cause(code: int | None) -> str:
    return FAILURE_CAUSES.get(code or 0, "unreachable")


@dataclass
class SeatLeg:
    channel_id: str
    seat_id: str
    started: float
    answered: float | None = None
    cancelled: bool = False
    outcome: str | None = None


@dataclass
class Call:
    contact_id: str
    channel_id: str
    caller: str
    arrived: float
    server: str = "default"
    state: str = ARRIVED
    queue: str | None = None
    enqueued: float | None = None
    answered: float | None = None
    ended: float | None = None
    seat_id: str | None = None
    leg: SeatLeg | None = None
    talk_bridge: str | None = None
    hold_started: float | None = None
    hold_total: float = 0.0
    hangup_side: str | None = None
    hangup_cause: str | None = None
    recording: str | None = None
    ivr_path: list[str] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    in_core: bool = False
    overflowed: str | None = None
    callback_number: str | None = None
    extra_legs: dict[str, str] = field(default_factory=dict)  # role -> channel id (3-party, transfer)
    survey: dict[str, Any] | None = None
    recorded: bool = False
    inbox: asyncio.Queue[dict[str, Any]] | None = None  # ARI events for the IVR while it runs
    ivr_task: asyncio.Task[None] | None = None
    ivr_record: dict[str, Any] | None = None  # flow, path and outcome from the IVR
    # The queue announcement playing to the waiting caller (playback id, its play request).
    # Asterisk runs every later command for the channel (a move into the seat's bridge
    # above all) only once it ends, so it is stopped before any of them.
    announcing: tuple[str, asyncio.Task[Any]] | None = None

    def move(self, action: str) -> str:
        """Change state as the call table says (acd/voice/core/states.py); a pair not in it
        raises IllegalCallTransition and changes nothing."""
        self.state = next_call_state(self.contact_id, self.state, action)
        return self.state

    def record(self) -> dict[str, Any]:
        wait = (self.answered - self.enqueued) if (self.answered and self.enqueued) else None
        talk = (self.ended - self.answered - self.hold_total) if (self.ended and self.answered) else None
        return {
            "arrived": self.arrived,
            "queue": self.queue,
            "enqueued": self.enqueued,
            "answered": self.answered,
            "ended": self.ended,
            "wait_s": round(wait, 3) if wait is not None else None,
            "talk_s": round(talk, 3) if talk is not None else None,
            "hold_s": round(self.hold_total, 3),
            "seat": self.seat_id,
            "offers": self.offers,
            "ivr_path": self.ivr_path,
            "hangup_side": self.hangup_side,
            "hangup_cause": self.hangup_cause,
            "recording": self.recording,
            "overflow": self.overflowed,
            "callback_number": self.callback_number,
            "survey": self.survey,
            "ivr": self.ivr_record,
            "server": self.server,
        }
