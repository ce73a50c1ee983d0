"""The one interface between the channels and the ACD: conversations become contacts here.

The ACD core (acd/) is not wired yet; ``QueueContactSink`` is the in-process implementation
the lead connects to it: it puts every notification on an asyncio queue and calls any
subscribers. Notifications are sent after WeChat has been answered, never before the
message is stored, so a slow ACD never delays an acknowledgement.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class ConversationChange:
    """Something a seat or supervisor must see: window_closed, held_quota, late, offer_elsewhere, snap_draft."""

    conversation_id: int
    change: str
    detail: dict[str, Any] = field(default_factory=dict)


class ContactSink(Protocol):
    async def contact_message(self, conversation: ConversationRef, message: MessageRef) -> None:
        """A citizen's message: the first one of a conversation makes it a contact in the queue."""

    async def conversation_changed(self, change: ConversationChange) -> None:
        """A state the console shows: 48-hour window closed, flagged late, offered elsewhere..."""


Notification = tuple[ConversationRef, MessageRef] | ConversationChange
Subscriber = Callable[[Notification], Awaitable[None]]


class QueueContactSink:
    """In-process sink: a bounded queue plus subscribers called in order; a failing one is logged."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize)
        self.subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> None:
        self.subscribers.append(fn)

    async def _emit(self, item: Notification) -> None:
        if self.queue.full():
            # Nobody drains the queue (no ACD wired yet): keep the newest, the store holds everything.
            self.queue.get_nowait()
        self.queue.put_nowait(item)
        for fn in self.subscribers:
            try:
                await fn(item)
            except Exception:
                logger.exception("contact sink subscriber failed")

    async def contact_message(self, conversation: ConversationRef, message: MessageRef) -> None:
        await self._emit((conversation, message))

    async def conversation_changed(self, change: ConversationChange) -> None:
        await self._emit(change)
