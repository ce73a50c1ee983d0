"""What an engine process measures of itself during a benchmark: its CPU time (read by the
caller), the time it spent ready to run but waiting for a core, how late its event loop wakes,
and the collector's pauses. Used by ``bench/chat_engine.py``."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any


def runqueue_wait_s() -> float:
    """Seconds this process's threads have spent ready to run but waiting for a core (Linux
    schedstat): the share of the machine the neighbours took, 0.0 where it cannot be read."""
    total = 0
    try:
        for task in Path("/proc/self/task").iterdir():
            total += int((task / "schedstat").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return total / 1e9


def percentile_ms(values: list[float], p: float) -> float | None:
    """The p-th percentile of seconds, in milliseconds (nearest rank)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)


class LoopWatch:
    """How late the event loop wakes a 10 ms sleeper: the engine's own stalls, apart from the load."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            self.lags.append(time.monotonic() - t - 0.01)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="bench-loop-watch")

    def take(self) -> dict[str, float | None]:
        lags, self.lags = self.lags, []
        return {"lag_p99_ms": percentile_ms(lags, 99), "lag_max_ms": percentile_ms(lags, 100)}


class GcWatch:
    """The collector's pauses in this process (any thread), as wall time and CPU time."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float]] = []
        self._started = (0.0, 0.0)

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = (time.perf_counter(), time.thread_time())
        else:
            wall, cpu = self._started
            self.pauses.append((time.perf_counter() - wall, time.thread_time() - cpu))

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def take(self) -> dict[str, float | int | None]:
        pauses, self.pauses = self.pauses, []
        return {
            "gc_collections": len(pauses),
            "gc_cpu_s": sum(cpu for _, cpu in pauses),
            "gc_pause_max_ms": percentile_ms([wall for wall, _ in pauses], 100),
        }
