"""Work that must not run on the event loop, with a bound on how much of it runs and waits.

- ``Lane.thread``: calls that release the interpreter lock (password hashing: OpenSSL's scrypt);
  at most ``workers`` at once, at most ``waiting`` more queued, anything beyond is refused at once.
- ``Lane.process``: pure computations (staffing, Erlang, forecasts) in worker processes with a time
  limit; a computation past its limit is killed with its worker, so it cannot keep a core.

Either way the loop keeps serving calls and chats while the work runs, and a flood of requests
is refused (``Busy``) instead of queued without end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Busy(Exception):
    """Too much of this work is running or waiting already."""


class TooLong(Exception):
    """The computation passed its time limit and was stopped."""


class Lane:
    def __init__(self, name: str, *, workers: int, waiting: int, processes: bool = False) -> None:
        if workers < 1 or waiting < 0:
            raise ValueError("workers must be >= 1 and waiting >= 0")
        self.name = name
        self.workers, self.waiting = workers, waiting
        self.processes = processes
        self._slots = asyncio.Semaphore(workers)
        self._queued = 0
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

    async def _enter(self) -> None:
        if self._slots.locked() and self._queued >= self.waiting:
            raise Busy(f"{self.name}: {self.workers} running and {self.waiting} waiting")
        self._queued += 1
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1

    async def thread(self, fn: Callable[..., T], *args: Any) -> T:
        await self._enter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), fn, *args)
        finally:
            self._slots.release()

    async def process(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """``fn(*args)`` in a worker process; TooLong (and the worker killed) past ``timeout`` s."""
        await self._enter()
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
            self._slots.release()

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
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
