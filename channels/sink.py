"""The one interface between the channels and the ACD: conversations become contacts here.

``QueueContactSink`` is the in-process implementation: it calls its subscribers (the ACD's
``ChatBridge``, the console's pushes) in order, and keeps the last ``keep`` notifications on a
queue for whoever wants to read them (tests; none by default). Notifications are sent after
WeChat has been answered, never before the message is stored, so a slow ACD never delays an
acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.core.refs import ConversationRef, MessageRef

logger = logging.getLogger(__name__)
__all__ = ["ConversationRef", "MessageRef"]  # also the other features' face: channels.core.refs


@dataclass(frozen=True)
class OpenChat:
    """A conversation a citizen is still in (waiting, or with a seat) as storage holds it: what the
    ACD needs to queue it again after a start."""

    id: int
    channel: str
    citizen: str
    state: str  # "queued" or "assigned"
    seat: str
    created_at: float  # the citizen's first message: the contact's original enqueue time
    queue: str  # where it was last queued ("" for the internet queue)
    skills: tuple[str, ...] = ()
    answered: bool = False  # a seat took it (and may have moved it on since)
    replied: bool = False  # a seat wrote to the citizen
    since: float = 0.0  # its last change (for a held one: when its seat has had it at the latest)


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


SELF_SERVED = "self_service"  # flag: answered before the queue; value: the last answer's message id
SELF_SERVED_TO = "self_served_to"  # flag after the hand-over: messages up to this id were no seat's


class BeforeQueue(Protocol):
    """Pre-routing: a part that may answer a WeChat citizen's message before any seat is asked for
    (the knowledge base's automatic answers). Asked only while the conversation has not been queued
    for a seat; returns the reply's text to answer, None to let the message go to a seat."""

    async def __call__(self, conversation: ConversationRef, message: MessageRef) -> str | None: ...


Notification = tuple[ConversationRef, MessageRef] | ConversationChange
Subscriber = Callable[[Notification], Awaitable[None]]


class QueueContactSink:
    """In-process sink: subscribers called in order (a failing one is logged), and the last
    ``keep`` notifications on a queue.

    The engine keeps none: the subscribers are the ACD and the console, and storage holds every
    message. Ten thousand kept notifications (the old default) were tens of thousands of live
    objects that nobody read and every young-generation collection of the collector walked."""

    def __init__(self, keep: int = 0) -> None:
        self.keep = keep
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(max(keep, 1))
        self.subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> None:
        self.subscribers.append(fn)

    async def _emit(self, item: Notification) -> None:
        if self.keep:
            if self.queue.full():
                self.queue.get_nowait()  # the newest are kept; storage holds everything
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
