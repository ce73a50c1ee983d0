"""What a conversation and a message are to those who hear of them (the ACD, the consoles, the
knowledge base's answers): plain values, no storage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConversationRef:
    id: int
    channel: str  # "wechat" or "webchat": the ACD contact's channel
    citizen: str
    state: str
    seat: str
    new: bool = False
    skills: tuple[str, ...] = ()
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageRef:
    id: int
    direction: str  # "in" from the citizen, "out" from a seat
    kind: str
    supported: bool
    asks_seat: bool
    body: dict[str, Any]
    at: dt.datetime
    # Sent again under the same sender's id (its first acknowledgement was lost): the message as
    # stored the first time, nobody told of it again.
    repeat: bool = False
