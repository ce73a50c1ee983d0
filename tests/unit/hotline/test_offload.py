"""Work off the event loop: bounded, refused beyond the bound, and a runaway computation stopped."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from hotline.offload import Busy, Lane, TooLong


def _spin(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def _square(n: int) -> int:
    return n * n


def _pid() -> int:
    import os

    return os.getpid()


def _alive(pid: int) -> bool:
    """Running (a killed child not yet reaped is a zombie, 'Z': not running)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_threads_run_at_most_workers_at_once_and_refuse_beyond_the_queue() -> None:
    lane = Lane("t", workers=2, waiting=1)
    gate = threading.Event()
    running = []

    def job() -> int:
        running.append(1)
        gate.wait(5)
        return len(running)

    tasks = [asyncio.create_task(lane.thread(job)) for _ in range(3)]  # 2 run, 1 waits
    await asyncio.sleep(0.2)
    with pytest.raises(Busy):
        await lane.thread(job)
    assert len(running) == 2
    gate.set()
    assert sorted(await asyncio.gather(*tasks))[-1] == 3
    lane.close()


async def test_a_computation_past_its_limit_is_stopped_and_the_lane_works_again() -> None:
    lane = Lane("p", workers=1, waiting=0, processes=True)
    try:
        assert await lane.process(_square, 12, timeout=30) == 144
        worker = await lane.process(_pid, timeout=30)
        with pytest.raises(TooLong):
            await lane.process(_spin, 60.0, timeout=0.5)
        for _ in range(50):
            if not _alive(worker):
                break
            await asyncio.sleep(0.1)
        assert not _alive(worker)  # the spinning worker no longer holds a core
        assert await lane.process(_square, 3, timeout=30) == 9  # a fresh worker took over
    finally:
        lane.close()


def test_a_lane_made_before_any_loop_serves_one_loop_after_another() -> None:
    """A module's lane (``offload.PDF``) outlives each loop that uses it, as in the tests."""
    lane = Lane("l", workers=1, waiting=2)
    gate = threading.Event()

    async def crowd() -> list[bool]:
        gate.clear()
        tasks = [asyncio.create_task(lane.thread(gate.wait, 5)) for _ in range(3)]  # 1 runs, 2 wait
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await lane.thread(gate.wait, 5)
        gate.set()
        return await asyncio.gather(*tasks)

    try:
        for _ in range(2):
            assert asyncio.run(crowd()) == [True, True, True]
    finally:
        lane.close()
