"""WeChat pushes kept on disk while the database cannot store them.

WeChat pushes a citizen's message, waits 5 s for an answer and tries three times in all: about
15 s. A database away for longer (a PostgreSQL restart, a failover, a cut network: the engine is
meant to ride out a minute) used to answer each try 503, and WeChat then dropped the message for
good. Now the webhook writes the push it could not store to an append-only file, one JSON line,
flushed to the disk (``fsync``) before WeChat hears ``success``; a task hands the lines to the
normal store, oldest first, once the database answers, and at every start (a kill with lines
waiting loses none). A push stored twice (its commit came through after all, or a kill came
between a line's store and the file's truncation) is found by its MsgId, like WeChat's own retries.

While lines wait, new pushes join the file rather than overtake it: a citizen's messages keep
their order. The file is bounded (``HOTLINE_WECHAT__OUTAGE_SPOOL_BYTES``); past it a push is
answered 503 as before and WeChat tries again. A line that cannot be read (a write a kill cut
short: its push never heard ``success`` and comes again) is skipped and logged. One process owns
a data folder's file (an advisory lock held while it runs); another engine on the same folder
keeps no pushes and answers 503 as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import Counter, Gauge

logger = logging.getLogger(__name__)

KEPT = Counter("hotline_wechat_spooled_total", "WeChat pushes kept on disk while the database was away")
HANDED = Counter("hotline_wechat_spool_stored_total", "WeChat pushes from the disk handed to the store")
WAITING = Gauge("hotline_wechat_spool_bytes", "bytes of WeChat pushes waiting on disk for the database")

Handler = Callable[[dict[str, Any], str], Awaitable[None]]  # (push fields, raw text); raises to stop
CHUNK = 200  # pushes handed to the store at once


class SpoolTaken(Exception):
    """Another process holds this data folder's spool."""


class PushSpool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise SpoolTaken(str(path)) from None
        self._size = path.stat().st_size if path.exists() else 0
        self._done = 0  # bytes of the file handed on during this run
        self._lock = asyncio.Lock()  # the file's size and its writes
        self._replaying = asyncio.Lock()
        WAITING.set(self._size)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)  # the lock goes with it

    @property
    def pending(self) -> bool:
        return self._size > self._done

    async def keep(self, fields: dict[str, Any], raw: str) -> bool:
        """Write one push durably; False when the file is full (or keeping is off)."""
        line = orjson.dumps({"fields": fields, "raw": raw, "at": time.time()}) + b"\n"
        async with self._lock:
            if self._size + len(line) > self.max_bytes:
                return False
            await asyncio.to_thread(self._append, line)
            self._size += len(line)
        KEPT.inc()
        WAITING.set(self._size - self._done)
        return True

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read(self, start: int, end: int) -> bytes:
        with self.path.open("rb") as fh:
            fh.seek(start)
            return fh.read(end - start)

    def _empty(self) -> None:
        with self.path.open("r+b") as fh:
            fh.truncate(0)
            os.fsync(fh.fileno())

    async def replay(self, handle: Handler) -> int:
        """Hand every waiting push on, oldest first; how many. ``handle`` raising (the database
        still away) stops here: the rest waits for the next call. Once all are handed on, the
        file is emptied."""
        handed = 0
        async with self._replaying:
            while True:
                async with self._lock:
                    start, end = self._done, self._size
                    if start >= end:
                        if end:
                            await asyncio.to_thread(self._empty)
                            self._size = self._done = 0
                            WAITING.set(0)
                        return handed
                data = await asyncio.to_thread(self._read, start, end)
                handed += await self._hand_on(data, start, handle)

    async def _hand_on(self, data: bytes, offset: int, handle: Handler) -> int:
        """The lines of ``data`` (read from ``offset``), up to ``CHUNK`` at a time and at most one
        per citizen in each: the store gathers a chunk into one transaction (one at a time would
        drain slower than WeChat pushes in a busy hour) while each citizen's messages keep their
        order. The first failure stops: what was handed before it counts as done."""
        entries: list[tuple[int, dict[str, Any] | None, str]] = []  # (end offset, fields, raw)
        for line in data.splitlines(keepends=True):
            offset += len(line)
            try:
                entry = orjson.loads(line)
                entries.append((offset, dict(entry["fields"]), str(entry["raw"])))
            except (ValueError, KeyError, TypeError):
                logger.warning("wechat spool: a line that cannot be read is skipped", extra={"at": offset})
                entries.append((offset, None, ""))
        handed, i = 0, 0
        while i < len(entries):
            chunk: list[tuple[int, dict[str, Any] | None, str]] = []
            citizens: set[str] = set()
            while i < len(entries) and len(chunk) < CHUNK:
                fields = entries[i][1]
                who = str(fields.get("FromUserName", "")) if fields is not None else ""
                if who and who in citizens:
                    break
                citizens.add(who)
                chunk.append(entries[i])
                i += 1
            results = await asyncio.gather(
                *(handle(f, raw) for _, f, raw in chunk if f is not None), return_exceptions=True
            )
            outcomes = iter(results)
            for end, fields, _raw in chunk:
                outcome = next(outcomes) if fields is not None else None
                if isinstance(outcome, BaseException):
                    WAITING.set(self._size - self._done)
                    raise outcome
                self._done = end
                if fields is not None:
                    handed += 1
                    HANDED.inc()
            WAITING.set(self._size - self._done)
        return handed
