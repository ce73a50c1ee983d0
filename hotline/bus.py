"""An in-process publish/subscribe bus: features tell each other what happened.

Topics are dotted strings (``seat.1001``, ``queue.general``, ``supervisor``); a subscriber
to a prefix gets every topic under it. Handlers are coroutines or plain functions; a failing
handler is logged and never stops the publisher. Across processes, the console shares its
Socket.IO emits through Redis (AsyncRedisManager); the bus itself stays local.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[None] | None]

# What any feature tells a seat's console or the supervisors' boards; the console subscribes
# and emits (payloads: {"seat_id", "event", "data"} and {"event", "data"}).
TO_SEAT = "console.to_seat"
TO_SUPERVISORS = "console.to_supervisors"


class Bus:
    def __init__(self) -> None:
        self._subs: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, prefix: str, handler: Handler) -> Callable[[], None]:
        """Call handler(topic, payload) for every topic equal to or under prefix; returns an unsubscribe."""
        self._subs[prefix].append(handler)

        def unsubscribe() -> None:
            if handler in self._subs.get(prefix, []):
                self._subs[prefix].remove(handler)

        return unsubscribe

    def _matching(self, topic: str) -> list[Handler]:
        out: list[Handler] = []
        parts = topic.split(".")
        for i in range(len(parts), -1, -1):
            out.extend(self._subs.get(".".join(parts[:i]), ()))
        return out

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        for handler in self._matching(topic):
            try:
                result = handler(topic, payload)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("bus handler failed", extra={"topic": topic})

    async def to_seat(self, seat_id: str, event: str, data: dict[str, Any]) -> None:
        """Show ``event`` with ``data`` on the consoles of ``seat_id`` (if the console runs)."""
        await self.publish(TO_SEAT, {"seat_id": seat_id, "event": event, "data": data})

    async def to_supervisors(self, event: str, data: dict[str, Any]) -> None:
        """Show ``event`` with ``data`` on every supervisor's board (if the console runs)."""
        await self.publish(TO_SUPERVISORS, {"event": event, "data": data})

    def publish_nowait(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish from synchronous code: handlers run in a task of their own."""
        asyncio.get_running_loop().create_task(self.publish(topic, payload))
