"""The transactional outbox: what must follow a commit, written in that commit.

A side effect of a stored contact (a 随手拍 work order, say) used to run as a job in memory right
after the commit: an engine killed between the two, or a failing receiver, lost it for good. Now
the transaction that stores the contact also writes an ``outbox`` row (``add``, plain Core, inside
the caller's transaction), and one worker per process carries the rows out: at once when woken,
else every second; a failure is tried again with backoff (5 s doubling to 5 min, 20 tries, about
1.3 hours), then the row is ``failed`` and stays listed. ``key`` is unique: one row per effect, and
the receiver is handed it to stay idempotent (an effect done whose row the engine could not mark
is found, not done twice). A start carries out what an earlier run left waiting.

``hotline outbox status`` shows what waits, since when and why (``status``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import Connection, Integer, String, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.clock import engine_time
from hotline.dbhealth import log_failure
from hotline.storage import Base

logger = logging.getLogger(__name__)

CARRIED = Counter("hotline_outbox_total", "outbox rows carried out, by kind and outcome", ["kind", "outcome"])
FIRST_RETRY_S = 5.0
LAST_RETRY_S = 300.0
MAX_TRIES = 20
BATCH = 50
Handler = Callable[[str, dict[str, Any]], Awaitable[None]]  # (key, payload)


class OutboxItem(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(8), default="waiting")  # waiting | done | failed
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(index=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime]
    done_at: Mapped[dt.datetime | None] = mapped_column(default=None)


TABLE = cast(Table, OutboxItem.__table__)


def add(conn: Connection, kind: str, key: str, payload: dict[str, Any], now: dt.datetime) -> None:
    """Write one row in the caller's transaction (a second row with the same key is ignored)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    row = {"kind": kind, "key": key[:128], "payload": payload, "state": "waiting", "tries": 0}
    stmt = insert(TABLE).values(**row, next_at=now, created_at=now, last_error="").on_conflict_do_nothing()
    conn.execute(stmt)


def retry_after(tries: int) -> float:
    return float(min(LAST_RETRY_S, FIRST_RETRY_S * 2 ** max(0, tries - 1)))


class Outbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], float] = engine_time) -> None:
        self.sessions = sessions
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one carrying-out at a time: a row is never run twice at once

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def wake(self) -> None:
        """A commit wrote rows: carry them out now rather than at the next second."""
        self._wake.set()

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    async def carry_out(self) -> int:
        """Every row due (up to ``BATCH``), oldest first; how many were tried."""
        async with self._lock:
            return await self._carry_out()

    async def _carry_out(self) -> int:
        now = self._now()
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(TABLE.c.id, TABLE.c.kind, TABLE.c.key, TABLE.c.payload, TABLE.c.tries)
                    .where(TABLE.c.state == "waiting", TABLE.c.next_at <= now, TABLE.c.kind.in_(sorted(self.handlers)))
                    .order_by(TABLE.c.id)
                    .limit(BATCH)
                )
            ).all()
        for row in rows:
            await self._one(row.id, row.kind, row.key, dict(row.payload or {}), row.tries)
        return len(rows)

    async def _one(self, row_id: int, kind: str, key: str, payload: dict[str, Any], tries: int) -> None:
        values: dict[str, Any]
        try:
            await self.handlers[kind](key, payload)
        except Exception as exc:
            tries += 1
            error = f"{type(exc).__name__}: {exc}"[:300]
            if tries >= MAX_TRIES:
                values = {"state": "failed", "tries": tries, "last_error": error}
                CARRIED.labels(kind, "failed").inc()
                logger.error("outbox row failed for good", extra={"kind": kind, "key": key, "error": error})
            else:
                next_at = self._now() + dt.timedelta(seconds=retry_after(tries))
                values = {"tries": tries, "last_error": error, "next_at": next_at}
                CARRIED.labels(kind, "retry").inc()
                logger.warning("outbox row tried again later", extra={"kind": kind, "key": key, "error": error})
        else:
            values = {"state": "done", "tries": tries + 1, "done_at": self._now(), "last_error": ""}
            CARRIED.labels(kind, "done").inc()
        async with self.sessions() as s, s.begin():
            await s.execute(update(TABLE).where(TABLE.c.id == row_id).values(**values))

    async def run(self, every_s: float = 1.0) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 a cancellation that met wait_for's
            # timeout came out as TimeoutError, was suppressed here, and a stop waited for ever
            # (found as `hotline run` on a port in use hanging instead of exiting, 1 start in 3).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while await self.carry_out() == BATCH:
                    pass
            except Exception as exc:
                log_failure(logger, "outbox not carried out", exc, "outbox")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


async def status(sessions: async_sessionmaker[AsyncSession], now: float, errors: int = 10) -> dict[str, Any]:
    """Per kind: rows waiting, failed and done, the oldest waiting one's age; the newest errors."""
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    async with sessions() as s:
        counts = (
            await s.execute(
                select(TABLE.c.kind, TABLE.c.state, func.count(), func.min(TABLE.c.created_at)).group_by(
                    TABLE.c.kind, TABLE.c.state
                )
            )
        ).all()
        failing = (
            await s.execute(
                select(TABLE.c.kind, TABLE.c.key, TABLE.c.state, TABLE.c.tries, TABLE.c.next_at, TABLE.c.last_error)
                .where(TABLE.c.state != "done", TABLE.c.last_error != "")
                .order_by(TABLE.c.id.desc())
                .limit(errors)
            )
        ).all()
    kinds: dict[str, dict[str, Any]] = {}
    for kind, state, count, oldest in counts:
        entry = kinds.setdefault(kind, {"waiting": 0, "failed": 0, "done": 0, "oldest_waiting_s": None})
        entry[state] = int(count)
        if state == "waiting" and oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            entry["oldest_waiting_s"] = round((at - oldest).total_seconds(), 1)
    return {
        "kinds": kinds,
        "errors": [
            {"kind": k, "key": key, "state": st, "tries": t, "next_at": n.isoformat() if n else None, "error": e}
            for k, key, st, t, n, e in failing
        ],
    }
