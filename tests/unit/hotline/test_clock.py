"""The engine's steady time: exactly the wall clock while it behaves, never a step when it jumps."""

from __future__ import annotations

import itertools

import pytest

from hotline.clock import SteadyClock


class Clocks:
    def __init__(self) -> None:
        self.wall = 1_800_000_000.0
        self.mono = 100.0

    def run(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def steady(c: Clocks) -> SteadyClock:
    return SteadyClock(wall=lambda: c.wall, mono=lambda: c.mono)


def test_it_is_the_wall_clock_while_the_wall_clock_keeps_pace_even_slewed_by_ntp() -> None:
    c = Clocks()
    clock = steady(c)
    for _ in range(100):
        c.run(1.0)
        c.wall += 0.0005  # NTP slewing at its limit, 500 ppm
        assert clock() == c.wall


@pytest.mark.parametrize("step", [-3600.0, 3600.0, -5.0, 7.0])
def test_a_step_of_the_wall_clock_is_absorbed_at_a_tenth_of_the_pace_never_jumped(step: float) -> None:
    c = Clocks()
    clock = steady(c)
    before = clock()
    c.wall += step
    c.run(1.0)
    first = clock()
    assert first - before == pytest.approx(1.0 + (0.1 if step > 0 else -0.1))  # not the step
    seen = [first]
    for _ in range(int(abs(step) / 0.1) + 10):
        c.run(1.0)
        seen.append(clock())
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert all(0.9 - 1e-9 <= g <= 1.1 + 1e-9 for g in gaps)  # a timer of 15 s takes 13.6 to 16.7 s
    assert seen[-1] == c.wall  # caught up after about ten times the step, then follows exactly


def test_it_never_goes_back_whatever_the_clocks_do() -> None:
    c = Clocks()
    clock = steady(c)
    last = clock()
    for k in range(2000):
        c.wall += [-10.0, 0.3, 25.0, -0.01, 0.0][k % 5]
        c.mono += [0.001, 0.5, 0.0, 2.0, 0.01][k % 3]
        now = clock()
        assert now >= last
        last = now


def test_the_slew_must_be_a_fraction() -> None:
    with pytest.raises(ValueError):
        SteadyClock(slew=1.5)
