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
