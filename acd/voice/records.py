"""Interaction records of calls: one row per call, written off the event path.

A call's record changes several times (arrival, enqueue, offers, answer, end). Only its newest
state matters, so updates are coalesced per call and written by one background task: it lets
changes gather for ``linger_s`` (a quarter second), then writes every call pending in one
transaction, one upsert statement for all of them. Under load the database sees a few writes
per second instead of four per call, and the event loop that also carries the next caller's
StasisStart spends next to nothing on them. The unique contact id makes a later write an
update, never a duplicate. The batch is plain Core through ``hotline.storage.Transactions`` (on
SQLite a thread and a connection of its own: one hand-over per batch where an ORM session through
aiosqlite cost a tenth of the engine's CPU per call).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.dbhealth import DATABASE, unavailable
from hotline.storage import Interaction, Transactions

logger = logging.getLogger(__name__)

Pending = tuple[str, float, float | None, dict[str, Any]]  # caller, arrived, ended, data


def _later(before: Pending | None, after: Pending) -> Pending:
    """``after`` replaces ``before``, but keeps its end: a call's end, once known, stays."""
    if before is None or after[2] is not None or before[2] is None:
        return after
    return (after[0], after[1], before[2], after[3])


def _ts(epoch: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC) if epoch is not None else None


class Fenced(Exception):
    """A write refused because the routing lease is lost (hotline/lease.py)."""


class RecordStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = 500, linger_s: float = 0.25
    ) -> None:
        self.sessions = sessions
        self._db: Transactions | None = None  # made on the first write, closed by stop()
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._statements: dict[str, Any] = {}
        self._pending: dict[str, Pending] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.fence: Callable[[], bool] | None = None  # False: the lease is lost, nothing is written

    def put(self, contact_id: str, caller: str, arrived: float, ended: float | None, data: dict[str, Any]) -> None:
        self._pending[contact_id] = _later(self._pending.get(contact_id), (caller, arrived, ended, data))
        self._idle.clear()
        self._wake.set()

    async def write_many(self, items: dict[str, Pending]) -> None:
        if self.fence is not None and not self.fence():
            raise Fenced("call records not written: this engine no longer holds the routing lease")
        rows = [
            {
                "contact_id": contact_id,
                "channel": "voice",
                "caller": caller,
                "arrived_at": _ts(arrived),
                "ended_at": _ts(ended),
                "data": data,
            }
            for contact_id, (caller, arrived, ended, data) in items.items()
        ]
        if self._db is None:
            self._db = Transactions(self.sessions.kw["bind"])
        stmt = self._upsert(self._db.engine.dialect.name)
        await self._db.run(lambda conn: conn.execute(stmt, rows), timeout=30.0)

    def _upsert(self, dialect: str) -> Any:
        """The statement, built once per dialect (building it took more than running it)."""
        stmt = self._statements.get(dialect)
        if stmt is None:
            insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(Interaction)
            # a later state of a call already written: its end and its data change, nothing else;
            # an end once written stays (a late step of the call never makes it unended again)
            stmt = self._statements[dialect] = insert.on_conflict_do_update(
                index_elements=[Interaction.contact_id],
                set_={
                    "ended_at": func.coalesce(insert.excluded.ended_at, Interaction.ended_at),
                    "data": insert.excluded.data,
                },
            )
        return stmt

    async def write(
        self, contact_id: str, caller: str, arrived: float, ended: float | None, data: dict[str, Any]
    ) -> None:
        await self.write_many({contact_id: (caller, arrived, ended, data)})

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.linger_s)  # let a burst of changes gather into one write
            self._wake.clear()
            while self._pending:
                batch: dict[str, Pending] = {}
                for key in list(self._pending)[: self.max_batch]:
                    batch[key] = self._pending.pop(key)
                try:
                    await self.write_many(batch)
                    self.batches += 1
                    DATABASE.answered("voice records")
                except Fenced as exc:  # the active engine now writes them; this one is ending
                    logger.error(str(exc), extra={"calls": len(batch)})
                    self._pending.clear()
                    break
                except Exception as exc:
                    if unavailable(exc):  # one line per outage (dbhealth); the calls go on meanwhile
                        DATABASE.failed("voice records", exc)
                    else:
                        logger.exception(
                            "interaction records not written; kept for the next batch", extra={"calls": len(batch)}
                        )
                    for key, value in batch.items():  # a newer state that arrived meanwhile wins
                        newer = self._pending.get(key)
                        self._pending[key] = value if newer is None else _later(value, newer)
                    await asyncio.sleep(1.0)
            self._idle.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="voice-records")

    async def flush(self) -> None:
        if self._task is None:
            if self._pending:
                items, self._pending = self._pending, {}
                await self.write_many(items)
            return
        await self._idle.wait()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 10)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        db, self._db = self._db, None
        if db is not None:
            await asyncio.to_thread(db.close)  # waits for its thread's batch, if one is running

    async def open_callbacks(self, since: float, limit: int = 10_000) -> list[tuple[str, str, float, dict[str, Any]]]:
        """The calls that arrived after ``since``, have no end in their record and wait for a
        call-back (contact id, caller, arrival, data), oldest first; at most ``limit`` of them.
        Filtered in the database, so calls a crash left unended never crowd the promises out."""
        return await self._open(since, limit, Interaction.data["state"].as_string() == "callback")

    async def unended(self, since: float, limit: int = 10_000) -> list[tuple[str, str, float, dict[str, Any]]]:
        """The calls after ``since`` whose record has no end and that wait for no call-back: those
        an engine was handling when it stopped (or died), oldest first; at most ``limit``."""
        state = Interaction.data["state"].as_string()
        return await self._open(since, limit, (state != "callback") | state.is_(None))

    async def _open(self, since: float, limit: int, which: Any) -> list[tuple[str, str, float, dict[str, Any]]]:
        query = (
            select(Interaction.contact_id, Interaction.caller, Interaction.arrived_at, Interaction.data)
            .where(
                Interaction.channel == "voice",
                Interaction.ended_at.is_(None),
                Interaction.arrived_at >= _ts(since),
                which,
            )
            .order_by(Interaction.arrived_at)
            .limit(limit)
        )
        async with self.sessions() as s:
            rows = (await s.execute(query)).all()
        out = []
        for contact_id, caller, arrived_at, data in rows:
            if arrived_at.tzinfo is None:  # SQLite keeps no zone: the engine writes UTC
                arrived_at = arrived_at.replace(tzinfo=dt.UTC)
            out.append((contact_id, caller or "", arrived_at.timestamp(), data if isinstance(data, dict) else {}))
        return out

    async def get(self, contact_id: str) -> Interaction | None:
        async with self.sessions() as s:
            return (
                await s.execute(select(Interaction).where(Interaction.contact_id == contact_id))
            ).scalar_one_or_none()
