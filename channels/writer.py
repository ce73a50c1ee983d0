"""One writer per process for chat messages both ways: group commit.

A web visitor's message and a seat's reply each wait until they are committed, but they share
transactions: the writer takes the first waiting message and stores whatever waits by then in
one transaction (``webstore.store``). A transaction costs about five times one message's rows,
so while messages come faster than one per ``window`` (``HOTLINE_CHAT__COMMIT_WINDOW``, an
average of the last gaps between them), the writer first lets ``window`` seconds of others join
the first: at hundreds of messages a second that is what keeps the database's share of a message
small, for a delay the window bounds. Slower than that, nobody would join: no wait.

When the database does not answer (a PostgreSQL restart, a cut network: ``hotline/dbhealth.py``)
the batch is kept and tried again, with the messages that arrive meanwhile, for ``hold`` seconds
per message; then that message's sender is told to send it again (``StorageUnavailable``, the
widget keeps the text). At most ``backlog`` messages wait: more are refused at once. A sender
hears "stored" only after the commit, and "not stored" only for a message that no transaction
holds any more, so nothing is lost or doubled. (A commit whose acknowledgement the network lost
is the one case the engine cannot tell apart: the sender is told to send again, and its second
try, under the same id as the widget and the console send it, is answered with the first.)
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
from hotline.dbhealth import DATABASE, StorageUnavailable, unavailable
from hotline.guard import refuse
from hotline.storage import Transactions

logger = logging.getLogger(__name__)

MAX_BATCH = 500
Stored = Callable[[CitizenMessage, ConversationRef, MessageRef], None]
Waiting = tuple[CitizenMessage | SeatMessage, "asyncio.Future[Any]", float]  # message, its answer, deadline


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
        hold: float = 6.0,
        backlog: int = 2000,
    ) -> None:
        self.transactions = transactions
        self.lock = lock  # SQLite: this process's writers take turns (see ChannelService)
        self.now = now
        self.window = CommitWindow(window)
        self.on_citizen = on_citizen  # runs in commit order, before the message's sender hears back
        self.hold = hold  # s a message waits for a database that does not answer
        self.backlog = backlog  # messages waiting at most, in the queue and in the batch being tried
        self._queue: asyncio.Queue[Waiting] = asyncio.Queue()
        self._in_batch = 0
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
        if self._queue.qsize() + self._in_batch >= self.backlog:
            refuse("chat", "storage_backlog", waiting=self._queue.qsize() + self._in_batch)
            raise StorageUnavailable()
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.window.arrived(now)
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.put_nowait((message, done, now + self.hold))
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await self.window.wait()
            self._take(batch)
            self._in_batch = len(batch)
            try:
                await self._commit(batch)
            finally:
                self._in_batch = 0

    def _take(self, batch: list[Waiting]) -> None:
        while not self._queue.empty() and len(batch) < MAX_BATCH:
            batch.append(self._queue.get_nowait())

    async def _commit(self, batch: list[Waiting]) -> None:
        loop = asyncio.get_running_loop()
        pause = 0.1
        while True:
            citizens = [(m, fut) for m, fut, _ in batch if isinstance(m, CitizenMessage)]
            seats = [(m, fut) for m, fut, _ in batch if isinstance(m, SeatMessage)]
            work = partial(store, citizens=[m for m, _ in citizens], seats=[m for m, _ in seats], now=self.now())
            try:
                async with self.lock:
                    # Never past the oldest message's hold: it is then told to send again, not kept waiting.
                    stored_in, stored_out = await self.transactions.run(
                        work, timeout=max(0.5, min(w[2] for w in batch) - loop.time())
                    )
            except Exception as exc:
                if not unavailable(exc):
                    logger.exception("chat messages not stored", extra={"count": len(batch)})
                    for _, fut, _ in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    return
                DATABASE.failed("chat messages", exc)
                batch = self._expire(batch, loop.time())
                self._take(batch)  # those that came meanwhile are tried with them
                self._in_batch = len(batch)
                if not batch:
                    return
                await asyncio.sleep(pause)
                pause = min(1.0, pause * 2)
                continue
            DATABASE.answered("chat messages")
            break
        self.transactions_run += 1
        self.messages_stored += len(batch)
        for (message, fut), (conv, msg) in zip(citizens, stored_in, strict=True):
            if not msg.repeat:  # a repeat was handed on when it was first stored
                self.on_citizen(message, conv, msg)
            if not fut.done():
                fut.set_result((conv, msg))
        for (_, fut), reply in zip(seats, stored_out, strict=True):
            if not fut.done():
                fut.set_result(reply)

    @staticmethod
    def _expire(batch: list[Waiting], now: float) -> list[Waiting]:
        """Tell the senders whose hold is over to send again; keep the others (and drop the ones whose
        sender stopped waiting)."""
        kept = []
        for item in batch:
            _, fut, deadline = item
            if fut.done():
                continue
            if now >= deadline:
                refuse("chat", "database_unavailable")
                fut.set_exception(StorageUnavailable())
            else:
                kept.append(item)
        return kept

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
