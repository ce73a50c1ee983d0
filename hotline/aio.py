"""The event loop the engine runs on: uvloop where it is installed (the default), else asyncio's.

uvloop's loop moves the engine's socket reads and writes (ARI, AMI, Socket.IO, HTTP) out of
Python; on `hotline bench voice` phase 1 it took about half a millisecond off the engine's
median delay from a caller's INVITE to the seat's. The setting ``event_loop = "asyncio"``
keeps the standard loop (the tests run on it). ``start_eagerly`` starts a task whose first
step runs at once, in the caller (the voice side's handling of ARI events).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], loop: str = "uvloop") -> T:
    """``asyncio.run`` on the chosen loop."""
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            logger.warning("uvloop is not installed: running on asyncio's own event loop")
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(main)
    return asyncio.run(main)


def start_eagerly(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """A task for coro whose first step runs now, in the caller, up to coro's first real wait.

    ``create_task`` only schedules the first step: it runs after everything already ready on
    the loop (on a busy engine, other calls' steps and the rest of a websocket read). A
    caller's StasisStart rings the seat in that first step, so it starts here instead. Python
    3.12 has this as ``asyncio.eager_task_factory``; on 3.11 the same is done by hand: the
    task is made first and is the current task during the step (``asyncio.timeout`` and
    ``current_task`` see it, not the caller's task), then it carries on from where the step
    stopped. Exceptions from the step, cancellation and the result all go through the task.
    """
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):
        return asyncio.eager_task_factory(loop, coro, name=name)
    rest = _CarryOn(coro)
    task: asyncio.Task[T] = loop.create_task(rest, name=name)
    caller = asyncio.current_task(loop)
    if caller is not None:
        asyncio.tasks._leave_task(loop, caller)
    asyncio.tasks._enter_task(loop, task)
    try:
        rest.first_step()
    finally:
        asyncio.tasks._leave_task(loop, task)
        if caller is not None:
            asyncio.tasks._enter_task(loop, caller)
    return task


class _CarryOn(Coroutine[Any, Any, T]):
    """A coroutine whose first step is taken before its task runs it: the task then gets
    what that step waits on (or its result, or its error) and drives the rest as it would
    have. A cancellation before the task's first turn goes into the coroutine, as it would
    have had the task itself taken that step."""

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._outcome: tuple[str, Any] | None = None  # ("waits", x) | ("result", x) | ("error", exc)

    def first_step(self) -> None:
        try:
            self._outcome = ("waits", self._coro.send(None))
        except StopIteration as stop:
            self._outcome = ("result", stop.value)
        except BaseException as exc:  # handed to the task, which raises it as its own
            self._outcome = ("error", exc)

    def send(self, value: Any) -> Any:
        outcome, self._outcome = self._outcome, None
        if outcome is None:
            return self._coro.send(value)
        kind, x = outcome
        if kind == "waits":
            return x
        if kind == "result":
            raise StopIteration(x)
        raise x

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        exc = typ if isinstance(typ, BaseException) else (val if val is not None else typ())
        outcome, self._outcome = self._outcome, None
        if outcome is not None:
            kind, x = outcome
            if kind == "result":
                raise StopIteration(x)
            if kind == "error":
                raise x
            if isinstance(x, asyncio.Future) and isinstance(exc, asyncio.CancelledError):
                x.cancel()  # what the task would have cancelled, had it been waiting on it
        return self._coro.throw(exc)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, T]:
        raise TypeError("_CarryOn is driven by its task only")
