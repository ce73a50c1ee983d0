"""start_eagerly: the first step runs in the caller, the rest as an ordinary task."""

from __future__ import annotations

import asyncio

import pytest

from hotline.aio import run, start_eagerly


async def test_first_step_runs_before_start_eagerly_returns() -> None:
    seen: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def work() -> str:
        seen.append("first step")
        value = await gate
        seen.append(f"then {value}")
        return "done"

    task = start_eagerly(work(), name="eager")
    assert seen == ["first step"]  # create_task would not have run anything yet
    assert task.get_name() == "eager"
    gate.set_result(1)
    assert await task == "done"
    assert seen == ["first step", "then 1"]


async def test_ahead_of_work_already_scheduled() -> None:
    order: list[str] = []

    async def note(name: str) -> None:
        order.append(name)

    scheduled = asyncio.create_task(note("scheduled earlier"))
    eager = start_eagerly(note("eager"))
    await asyncio.gather(scheduled, eager)
    assert order == ["eager", "scheduled earlier"]


async def test_the_task_is_current_during_the_first_step() -> None:
    caller = asyncio.current_task()
    during: list[asyncio.Task[None] | None] = []

    async def work() -> None:
        during.append(asyncio.current_task())
        await asyncio.sleep(0)
        during.append(asyncio.current_task())

    task = start_eagerly(work())
    assert asyncio.current_task() is caller  # given back to the caller afterwards
    await task
    assert during == [task, task]


async def test_a_timeout_opened_in_the_first_step_cancels_the_task_not_the_caller() -> None:
    async def work() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "slept"

    task = start_eagerly(work())
    assert await task == "timed out"
    await asyncio.sleep(0.02)  # the caller was not cancelled meanwhile


async def test_errors_of_the_first_step_and_later_go_to_the_task() -> None:
    async def fails_at_once() -> None:
        raise ValueError("at once")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    first = start_eagerly(fails_at_once())
    later = start_eagerly(fails_later())
    with pytest.raises(ValueError, match="at once"):
        await first
    with pytest.raises(KeyError):
        await later


async def test_a_result_without_waiting() -> None:
    async def quick() -> int:
        return 42

    assert await start_eagerly(quick()) == 42


async def test_cancelled_while_waiting_reaches_the_coroutine() -> None:
    cleaned: list[str] = []
    never = asyncio.get_running_loop().create_future()

    async def work() -> None:
        try:
            await never
        finally:
            cleaned.append("finally ran")

    task = start_eagerly(work())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally ran"]
    assert never.cancelled()


async def test_a_cancellation_the_coroutine_swallows_lets_it_go_on() -> None:
    never = asyncio.get_running_loop().create_future()

    async def work() -> str:
        try:
            await never
        except asyncio.CancelledError:
            await asyncio.sleep(0)
            return "stopped cleanly"
        return "no"

    task = start_eagerly(work())
    await asyncio.sleep(0)
    task.cancel()
    assert await task == "stopped cleanly"


async def test_values_sent_back_reach_the_coroutine_each_time() -> None:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]

    async def work() -> list[int]:
        return [await f for f in futures]

    task = start_eagerly(work())
    for i, f in enumerate(futures):
        f.set_result(i)
        await asyncio.sleep(0)
    assert await task == [0, 1, 2]


async def test_cancelling_a_task_whose_first_step_finished_keeps_its_result() -> None:
    async def quick() -> int:
        return 7

    task = start_eagerly(quick())
    task.cancel()  # as on Python 3.12, where the task is already done here
    assert await task == 7


def test_on_the_engine_loop() -> None:
    order: list[str] = []

    async def main() -> list[str]:
        gate = asyncio.get_running_loop().create_future()

        async def work() -> None:
            order.append("first step")
            await gate
            order.append("rest")

        task = start_eagerly(work())
        order.append("returned")
        gate.set_result(None)
        await task
        return order

    assert run(main(), loop="uvloop") == ["first step", "returned", "rest"]
