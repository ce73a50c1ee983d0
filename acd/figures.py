"""The ACD's figures of the day kept in the database as they are counted, and read back at start.

The pure core counts (``acd/core/stats.py``) and remembers which rows changed; once a second
this adapter takes the changed rows whole and upserts them (idempotent: a row written twice is
the same row), so an engine that dies loses at most the last second of counting, and a start
adds the kept figures back before the first contact. Contacts queued again at a start (adopted
calls, chats, promised call-backs) carry their original enqueue time and what they already
counted, so nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.core.stats import Stats
from hotline.clock import engine_time
from hotline.dbhealth import DATABASE, unavailable
from hotline.storage import IntervalFigures

logger = logging.getLogger(__name__)


class FiguresStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        every_s: float = 1.0,
        clock: Callable[[], float] = engine_time,
    ) -> None:
        self.sessions = sessions
        self.every_s = every_s
        self.clock = clock
        self._statements: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self.writes = 0

    async def load(self, since: float) -> dict[str, Any]:
        """The kept figures of the intervals that start at or after ``since`` (as ``Stats.to_dict``)."""
        async with self.sessions() as s:
            rows = (
                await s.execute(select(IntervalFigures).where(IntervalFigures.interval_start >= int(since)))
            ).scalars()
            out: dict[str, Any] = {"rows": [], "seat_time": []}
            for row in rows:
                if row.kind == "contacts":
                    out["rows"].append([[row.interval_start, row.queue, row.channel], dict(row.figures)])
                elif row.kind == "seats":
                    out["seat_time"].append([[row.interval_start, row.channel], float(row.figures.get("seconds", 0))])
        return out

    async def restore(self, stats: Stats, since: float, timeout_s: float = 5.0) -> int:
        """Add the kept figures to ``stats`` (at start); a database that does not answer within
        ``timeout_s`` is logged and the day's figures start from zero. Returns the rows read."""
        try:
            async with asyncio.timeout(timeout_s):
                kept = await self.load(since)
        except Exception as exc:
            logger.error(
                "figures of the day not restored: the ACD counts from zero",
                extra={"cause": str(exc) or type(exc).__name__},
            )
            return 0
        stats.merge(kept)
        return len(kept["rows"]) + len(kept["seat_time"])

    async def write(self, changes: dict[str, Any]) -> None:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        rows = [
            {
                "interval_start": k[0],
                "kind": "contacts",
                "queue": k[1],
                "channel": k[2],
                "figures": v,
                "updated_at": now,
            }
            for k, v in changes["rows"]
        ]
        rows += [
            {
                "interval_start": k[0],
                "kind": "seats",
                "queue": "",
                "channel": k[1],
                "figures": {"seconds": v},
                "updated_at": now,
            }
            for k, v in changes["seat_time"]
        ]
        if not rows:
            return
        async with self.sessions() as s, s.begin():
            await s.execute(self._upsert(s.get_bind().dialect.name), rows)
        self.writes += 1

    def _upsert(self, dialect: str) -> Any:
        stmt = self._statements.get(dialect)
        if stmt is None:
            insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(IntervalFigures)
            stmt = self._statements[dialect] = insert.on_conflict_do_update(
                index_elements=["interval_start", "kind", "queue", "channel"],
                set_={"figures": insert.excluded.figures, "updated_at": insert.excluded.updated_at},
            )
        return stmt

    async def keep(self, stats: Stats) -> bool:
        """Write what changed since the last time; what the database refuses is taken again next
        time. Whether anything was written (a second with nothing new asks nothing of the database)."""
        changes = stats.take_changes()
        if not changes["rows"] and not changes["seat_time"]:
            return False
        try:
            await self.write(changes)
        except Exception:
            stats.give_back(changes)
            raise
        return True

    async def _run(self, stats: Stats) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                if await self.keep(stats):
                    # Only a write that went through says the database is back: a quiet second said
                    # it during every outage, and the log had an outage line and a back line a second.
                    DATABASE.answered("acd figures")
            except Exception as exc:
                if unavailable(exc):  # one line per outage (dbhealth), not one a second
                    DATABASE.failed("acd figures", exc)
                else:
                    logger.warning("figures not kept; tried again", extra={"cause": str(exc) or type(exc).__name__})

    def start(self, stats: Stats) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(stats), name="acd-figures")

    async def stop(self, stats: Stats) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await asyncio.wait_for(self.keep(stats), 5)
        except Exception as exc:
            logger.warning("figures not kept at stop", extra={"cause": str(exc) or type(exc).__name__})
