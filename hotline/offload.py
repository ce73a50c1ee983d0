"""Work that must not run on the event loop, with a bound on how much of it runs and waits.

- ``Lane.thread``: calls that release the interpreter lock (password hashing: OpenSSL's scrypt);
  at most ``workers`` at once, at most ``waiting`` more queued, anything beyond is refused at once.
- ``Lane.process``: pure computations (staffing, Erlang, forecasts) in worker processes with a time
  limit; a computation past its limit is killed with its worker, so it cannot keep a core.

Either way the loop keeps serving calls and chats while the work runs, and a flood of requests
is refused (``Busy``) instead of queued without end.

``PDF`` is the process's one lane for drawing PDFs (reports, 提醒函), and ``pdf`` draws on it for
a request, refusing with a 503 when it is full.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from hotline.guard import refuse

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Busy(Exception):
    """Too much of this work is running or waiting already."""


class TooLong(Exception):
    """The computation passed its time limit and was stopped."""


class _Places:
    """A lane's running and waiting places on one event loop: an asyncio semaphore belongs to the
    loop it first waited on, and a lane made at import (``PDF``) outlives each test's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, workers: int) -> None:
        self.loop = loop
        self.slots = asyncio.Semaphore(workers)
        self.queued = 0


class Lane:
    def __init__(self, name: str, *, workers: int, waiting: int, processes: bool = False) -> None:
        if workers < 1 or waiting < 0:
            raise ValueError("workers must be >= 1 and waiting >= 0")
        self.name = name
        self.workers, self.waiting = workers, waiting
        self.processes = processes
        self._places: _Places | None = None
        self._pool: concurrent.futures.Executor | None = None

    def _executor(self) -> concurrent.futures.Executor:
        if self._pool is None:
            if self.processes:
                # forkserver: a fresh interpreter forks the workers, never this threaded one.
                ctx = multiprocessing.get_context("forkserver")
                self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=ctx)
            else:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
        return self._pool

    async def _enter(self) -> _Places:
        """A running place (the caller releases it), or Busy at once when the queue is full too."""
        loop = asyncio.get_running_loop()
        if self._places is None or self._places.loop is not loop:
            self._places = _Places(loop, self.workers)
        places = self._places
        if places.slots.locked() and places.queued >= self.waiting:
            raise Busy(f"{self.name}: {self.workers} running and {self.waiting} waiting")
        places.queued += 1
        try:
            await places.slots.acquire()
        finally:
            places.queued -= 1
        return places

    async def thread(self, fn: Callable[..., T], *args: Any) -> T:
        places = await self._enter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), fn, *args)
        finally:
            places.slots.release()

    async def process(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """``fn(*args)`` in a worker process; TooLong (and the worker killed) past ``timeout`` s."""
        places = await self._enter()
        try:
            future = asyncio.get_running_loop().run_in_executor(self._executor(), fn, *args)
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                self._kill()
                raise TooLong(f"{self.name}: stopped after {timeout:g} s") from None
            except concurrent.futures.process.BrokenProcessPool:
                self._kill()
                raise TooLong(f"{self.name}: the worker died") from None
        finally:
            places.slots.release()

    def _kill(self) -> None:
        """Stop the pool's workers now (a computation cannot be interrupted any other way)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = dict(getattr(pool, "_processes", None) or {})
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes.values():
            with contextlib.suppress(Exception):
                proc.kill()
        logger.warning("offloaded work stopped", extra={"lane": self.name, "workers_killed": len(processes)})

    def close(self) -> None:
        """Stop the workers (queued calls are cancelled); a later call starts new ones."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


# WeasyPrint (Pango, fontconfig) must not lay out from two threads at once, whoever asks: one
# thread for the whole process, reports and letters alike. A long report takes about a second, so
# a few may wait; beyond them a request is refused at once instead of stalling.
PDF = Lane("pdf", workers=1, waiting=8)
PDF_RETRY_AFTER_S = 5


async def pdf(edge: str, draw: Callable[..., bytes], *args: Any) -> bytes:
    """``draw(*args)`` on the PDF lane for an HTTP request of ``edge`` (the feature); a full lane
    is a 503 with ``Retry-After``, counted and logged as a refusal (``hotline.guard.refuse``)."""
    try:
        return await PDF.thread(draw, *args)
    except Busy:
        refuse(edge, "pdf_busy", lane=PDF.name, waiting=PDF.waiting)
        body = {"error": "busy", "detail": "PDF 生成繁忙，请稍后再试"}
        raise web.HTTPServiceUnavailable(
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers={"Retry-After": str(PDF_RETRY_AFTER_S)},
        ) from None
