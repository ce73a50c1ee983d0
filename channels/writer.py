"""One writer per process for chat messages both ways: group commit.

A web visitor's message and a seat's reply each wait until they are committed, but they share
transactions: the writer takes the first waiting message and stores whatever waits by then in
one transaction (``webstore.store``). A transaction costs about five times one message's rows,
so while messages come faster than one per ``window`` (``HOTLINE_CHAT__COMMIT_WINDOW``, an
average of the last gaps between them), the writer first lets ``window`` seconds of others join
the first: at hundreds of messages a second that is what keeps the database's share of a message
small, for a delay the window bounds. Slower than that, nobody would join: no wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from channels.sink import ConversationRef, MessageRef
from channels.webstore import CitizenMessage, Refused, SeatMessage, StoredReply, store
from hotline.storage import Transactions

logger = logging.getLogger(__name__)

MAX_BATCH = 500
Stored = Callable[[CitizenMessage, ConversationRef, MessageRef], None]
Waiting = tuple[CitizenMessage | SeatMessage, "asyncio.Future[Any]"]


class CommitWindow:
    """How long the first message of a transaction waits for others: ``window`` seconds while
    messages come at least one per window (a moving average of the gaps), else not at all."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.gap = float("inf")  # moving average of the gaps between messages, s
        self._last = float("-inf")  # loop time of the last message

    def arrived(self, now: float) -> None:
        gap, self._last = now - self._last, now
        self.gap = gap if self.gap == float("inf") else 0.9 * self.gap + 0.1 * min(gap, 1.0)

    async def wait(self) -> None:
        if self.window > 0 and self.gap <= self.window:
            await asyncio.sleep(self.window)


class MessageWriter:
    def __init__(
        self,
        transactions: Transactions,
        lock: contextlib.AbstractAsyncContextManager[Any],
        now: Callable[[], dt.datetime],
        window: float,
        on_citizen: Stored,
    ) -> None:
        self.transactions = transactions
        self.lock = lock  # SQLite: this process's writers take turns (see ChannelService)
        self.now = now
        self.window = CommitWindow(window)
        self.on_citizen = on_citizen  # runs in commit order, before the message's sender hears back
        self._queue: asyncio.Queue[Waiting] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.transactions_run = 0  # for /metrics-like figures and the benchmark
        self.messages_stored = 0

    async def citizen(self, message: CitizenMessage) -> tuple[ConversationRef, MessageRef]:
        """Store a visitor's message (opening a conversation if none is open); return once committed."""
        result: tuple[ConversationRef, MessageRef] = await self._add(message)
        return result

    async def seat(self, message: SeatMessage) -> StoredReply | Refused:
        """Store a seat's message; return once committed, or why it was refused."""
        result: StoredReply | Refused = await self._add(message)
        return result

    async def _add(self, message: CitizenMessage | SeatMessage) -> Any:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="chat-message-writer")
        loop = asyncio.get_running_loop()
        self.window.arrived(loop.time())
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.put_nowait((message, done))
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await self.window.wait()
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[Waiting]) -> None:
        citizens = [(m, f) for m, f in batch if isinstance(m, CitizenMessage)]
        seats = [(m, f) for m, f in batch if isinstance(m, SeatMessage)]
        work = partial(store, citizens=[m for m, _ in citizens], seats=[m for m, _ in seats], now=self.now())
        try:
            async with self.lock:
                stored_in, stored_out = await self.transactions.run(work)
        except Exception as exc:
            logger.exception("chat messages not stored", extra={"count": len(batch)})
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.transactions_run += 1
        self.messages_stored += len(batch)
        for (message, fut), (conv, msg) in zip(citizens, stored_in, strict=True):
            self.on_citizen(message, conv, msg)
            if not fut.done():
                fut.set_result((conv, msg))
        for (_, fut), reply in zip(seats, stored_out, strict=True):
            if not fut.done():
                fut.set_result(reply)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
