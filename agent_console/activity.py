"""The seats' activity records, written by one task in batches.

Every offer, answer and wrap-up is a row. Written one transaction each, a few hundred seats
make SQLite writers queue on its single write lock ("database is locked"); one writer taking
whatever has piled up per transaction keeps up with any rate the ACD produces. Readers call
:meth:`flush` first, so they always see the rows added before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.models import ConsoleActivity
from hotline.dbhealth import DATABASE, unavailable

logger = logging.getLogger(__name__)

BATCH = 500
MAX_HELD = 50_000  # rows waiting behind a batch the database does not take: past this, they fail


class ActivityLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._busy = False  # a batch has left the queue but is not committed yet

    def add(self, **row: Any) -> asyncio.Future[None]:
        """Queue one row; the returned future is done once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((row, done))
        self._ensure()
        return done

    async def write(self, **row: Any) -> None:
        await self.add(**row)

    async def flush(self) -> None:
        if self._task is None or (self._queue.empty() and not self._busy):
            return
        # A marker row-less entry: when it resolves, everything queued before it is written.
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(({}, done))
        self._ensure()
        await done

    def _ensure(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="console-activity")

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            self._busy = True
            while not self._queue.empty() and len(batch) < BATCH:
                batch.append(self._queue.get_nowait())
            rows = [row for row, _ in batch if row]
            error: Exception | None = None
            pause = 0.25
            try:
                while True:
                    try:
                        if rows:
                            async with self.sessions() as s, s.begin():
                                s.add_all([ConsoleActivity(**row) for row in rows])
                            DATABASE.answered("console activity")  # only a write says it is back
                        break
                    except Exception as exc:
                        if not unavailable(exc) or self._queue.qsize() >= MAX_HELD:
                            logger.error("console activity rows not written", exc_info=exc, extra={"rows": len(rows)})
                            error = exc
                            break
                        # The database is away a moment: the rows (who took which contact) are kept
                        # and written when it answers; offers and answers go on meanwhile.
                        DATABASE.failed("console activity", exc)
                        await asyncio.sleep(pause)
                        pause = min(2.0, pause * 2)
            finally:
                self._busy = False
            for _, fut in batch:
                if fut.done():
                    continue
                if error is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(error)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
