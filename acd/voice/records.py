"""Interaction records of calls: one row per call, written off the hot path.

The row is created when the call arrives (so a restart finds it) and completed when it ends;
the unique contact id makes a second write an update, never a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.storage import Interaction

logger = logging.getLogger(__name__)


def _ts(epoch: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC) if epoch is not None else None


class RecordStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._queue: asyncio.Queue[tuple[str, str, float, float | None, dict[str, Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def put(self, contact_id: str, caller: str, arrived: float, ended: float | None, data: dict[str, Any]) -> None:
        self._queue.put_nowait((contact_id, caller, arrived, ended, data))

    async def write(
        self, contact_id: str, caller: str, arrived: float, ended: float | None, data: dict[str, Any]
    ) -> None:
        async with self.sessions() as s, s.begin():
            row = (
                await s.execute(select(Interaction).where(Interaction.contact_id == contact_id))
            ).scalar_one_or_none()
            if row is None:
                s.add(
                    Interaction(
                        contact_id=contact_id,
                        channel="voice",
                        caller=caller,
                        arrived_at=_ts(arrived),
                        ended_at=_ts(ended),
                        data=data,
                    )
                )
            else:
                row.ended_at = _ts(ended)
                row.data = data

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self.write(*item)
            except Exception:
                logger.exception("interaction record not written", extra={"contact": item[0]})
            finally:
                self._queue.task_done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="voice-records")

    async def flush(self) -> None:
        await self._queue.join()

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def get(self, contact_id: str) -> Interaction | None:
        async with self.sessions() as s:
            return (
                await s.execute(select(Interaction).where(Interaction.contact_id == contact_id))
            ).scalar_one_or_none()
