"""The knowledge base in the consoles (issue 22, parts 4 and 6): answers suggested while a seat
chats or writes a work order, and the emergency Q&A lists pinned in every console.

A suggestion never delays what it accompanies. The bus calls the console's own ``TO_SEAT``
handler (the chat message's emit) before this one, which only starts a task; the searches run
at most ``kb_suggest_concurrency`` at once, and past ``kb_suggest_pending`` queued or running a
new one is dropped and counted (``hotline_console_kb_suggest_dropped_total``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from agent_console import schemas
from agent_console.core.suggest import Pacer, plain, query_text
from agent_console.services import AGENT_NS, SUPERVISOR_NS, ConsoleError, ConsoleService
from agent_console.settings import ConsoleSettings
from hotline.dbhealth import log_failure
from hotline.guard import RateLimiter

if TYPE_CHECKING:
    from knowledge.api import KnowledgeApi

logger = logging.getLogger(__name__)

EMERGENCY_TOPIC = "kb.emergency"  # published by the knowledge base: {"action", "list"}
DROPPED = Counter(
    "hotline_console_kb_suggest_dropped_total", "knowledge suggestions not searched: too many pending", ["kind"]
)
SUGGESTED = Counter("hotline_console_kb_suggestions_total", "knowledge suggestion searches", ["kind", "outcome"])

Knowledge = Callable[[], "KnowledgeApi | None"]
Flags = Callable[[list[str]], Awaitable[set[str]]]


class KbSuggestions:
    def __init__(
        self,
        console: ConsoleService,
        knowledge: Knowledge,
        settings: ConsoleSettings,
        flags: Flags | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.knowledge = knowledge  # resolved at use: the knowledge base starts after it is installed
        self.s = settings
        self.flags = flags  # entry ids with an open correction, once the knowledge base offers them
        self.clock = clock
        self.pacer = Pacer(settings.kb_suggest_every_s)
        self.latest: dict[str, tuple[str, str]] = {}  # conversation -> (seat, text) of its waiting search
        self.orders = RateLimiter(settings.kb_order_burst, settings.kb_order_window_s, max_keys=10_000, clock=clock)
        self.gate = asyncio.Semaphore(settings.kb_suggest_concurrency)
        self.inflight = 0  # searches queued at the gate or running
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- chats: the citizen's message reaches the seat, then the suggestion follows ----------------
    async def on_to_seat(self, _topic: str, payload: dict[str, Any]) -> None:
        if payload.get("event") != "chat_message":
            return
        data = payload.get("data") or {}
        message = data.get("message") or {}
        text = (message.get("body") or {}).get("text")
        if message.get("direction") == "in" and isinstance(text, str):
            self.chat(str(payload.get("seat_id", "")), str(data.get("contact_id", "")), text)

    def chat(self, seat: str, contact: str, text: str) -> None:
        text = query_text(text, self.s.kb_suggest_chars)
        if not text or not seat or not contact or self.knowledge() is None:
            return
        verdict = self.pacer.arrive(contact, self.clock())
        if verdict == "now":
            if self._admit("chat"):
                self._spawn(self._chat(seat, contact, text))
            return
        self.latest[contact] = (seat, text)  # searched when its time comes, as the newest text
        if verdict == "later":
            self._spawn(self._later(contact))

    async def _later(self, contact: str) -> None:
        try:
            await asyncio.sleep(max(0.0, self.pacer.due(contact) - self.clock()))
        finally:
            self.pacer.run_waiting(contact, self.clock())
            seat, text = self.latest.pop(contact, ("", ""))
        if seat and self._admit("chat"):
            await self._chat(seat, contact, text)

    async def _chat(self, seat: str, contact: str, text: str) -> None:
        results = await self.search(text, "chat", admitted=True)
        held = self.console.acd.core.seat(seat)
        if results and held is not None and contact in held.chats:  # still this seat's chat
            await self.console.emit_seat(seat, "kb_suggest", {"contact_id": contact, "results": results})

    # ---- work orders: the console asks while the seat writes ----------------------------------------
    async def order(self, seat: str, e: schemas.KbSuggestOrder) -> dict[str, Any]:
        if self.knowledge() is None:
            raise ConsoleError("知识库未启用")
        wait = self.orders.take(seat)
        if wait > 0:
            raise ConsoleError(f"推荐查询过于频繁，请 {math.ceil(wait)} 秒后再试")
        text = query_text(f"{e.title} {e.content}", self.s.kb_suggest_chars)
        if not text:
            return {"results": []}
        if not self._admit("order"):
            raise ConsoleError("系统繁忙，请稍后重试")
        return {"results": await self.search(text, "order", admitted=True)}

    # ---- the search itself --------------------------------------------------------------------------
    def _admit(self, kind: str) -> bool:
        """Count a search in (synchronously: a burst in one tick is bounded too), or drop it."""
        if self.inflight >= self.s.kb_suggest_pending:
            DROPPED.labels(kind).inc()
            return False
        self.inflight += 1
        return True

    async def search(self, text: str, kind: str, *, admitted: bool = False) -> list[dict[str, Any]]:
        """The top entries for ``text`` above the score threshold, with their answers as plain text."""
        if not admitted and not self._admit(kind):
            return []
        try:
            kb = self.knowledge()
            if kb is None:
                return []
            async with self.gate:
                found = await kb.search(text, None, "seat", self.s.kb_suggest_top)
                hits = [h for h in found.hits if h.score >= self.s.kb_suggest_min_score]
                entries = await asyncio.gather(*(kb.get(h.id) for h in hits), return_exceptions=True)
                flagged = await self._flagged([h.id for h in hits])
        except Exception:
            SUGGESTED.labels(kind, "failed").inc()
            raise
        finally:
            self.inflight -= 1
        out = []
        for hit, entry in zip(hits, entries, strict=True):
            if isinstance(entry, BaseException):  # withdrawn between the search and the read
                continue
            out.append(
                {
                    "id": hit.id,
                    "question": hit.question,
                    "answer": plain(entry.content.answer),
                    "score": hit.score,
                    "expired": hit.expired,
                    "flagged": hit.id in flagged,
                }
            )
        SUGGESTED.labels(kind, "sent" if out else "none").inc()
        return out

    async def _flagged(self, ids: list[str]) -> set[str]:
        if self.flags is None or not ids:
            return set()
        try:
            return await self.flags(ids)
        except Exception as exc:  # a suggestion without its warnings beats none: the page still
            log_failure(logger, "correction flags not read", exc, "console kb")  # shows 纠错 on it
            return set()

    # ---- plumbing ----------------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            log_failure(logger, "knowledge suggestion failed", exc, "console kb")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def relay_emergency(console: ConsoleService, payload: dict[str, Any]) -> None:
    """An emergency Q&A list published or withdrawn: to every seat's and supervisor's console."""
    action, lst = payload.get("action"), payload.get("list")
    if action not in ("published", "withdrawn") or not isinstance(lst, dict) or not lst.get("id"):
        logger.warning("emergency list event ignored: no action or list id", extra={"action": str(action)[:20]})
        return
    data = {"action": action, "list": lst}
    await console.sio.emit("kb_emergency", data, namespace=AGENT_NS)
    await console.sio.emit("kb_emergency", data, namespace=SUPERVISOR_NS)
