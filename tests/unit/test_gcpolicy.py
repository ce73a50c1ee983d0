"""The engine's collector policy: freezes between sweeps, sweeps when due, refuses bad periods."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hotline.gcpolicy import GcPolicy


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_freezes_survivors_then_sweeps_when_due() -> None:
    now = [0.0]
    policy = GcPolicy(10, 30, clock=lambda: now[0])
    gc.unfreeze()
    keep = [[i] for i in range(1000)]  # long-lived objects of a running engine
    now[0] = 10
    assert policy.step() == "freeze"
    frozen = gc.get_freeze_count()
    assert frozen >= len(keep)

    class Node:
        def __init__(self) -> None:
            self.me = self

    Node()  # cyclic garbage: only a collection frees it
    now[0] = 20
    assert policy.step() == "freeze" and policy.freezes == 2
    now[0] = 30
    assert policy.step() == "sweep" and policy.sweeps == 1 and policy.last_sweep_ms >= 0
    assert gc.get_freeze_count() > 0  # frozen again after the sweep
    now[0] = 40
    assert policy.step() == "freeze"  # the next sweep is 30 s after this one
    assert keep[999] == [999]


@pytest.mark.parametrize(("freeze", "sweep"), [(0, 10), (-1, 10), (10, 5)])
def test_bad_periods_refused(freeze: float, sweep: float) -> None:
    with pytest.raises(ValueError):
        GcPolicy(freeze, sweep)


async def test_start_freezes_what_start_up_built_and_runs_the_policy_unless_freezing_is_off() -> None:
    import asyncio

    from hotline import gcpolicy

    gc.unfreeze()
    keep = [[i] for i in range(1000)]
    assert gcpolicy.start(0, 3600) is None  # off: the start-up objects are frozen all the same
    assert gc.get_freeze_count() >= len(keep)
    task = gcpolicy.start(0.01, 0.001)  # a sweep period below the freeze period is raised to it
    assert task is not None and task.get_name() == "gc-policy"
    await asyncio.sleep(0.05)
    assert not task.done()  # running, and the raised period was accepted (GcPolicy refuses it)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
