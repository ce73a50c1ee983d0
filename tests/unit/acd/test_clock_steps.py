"""The ACD's timers across a step of the wall clock (NTP, a resumed VM, ``date -s``): a seat's
ring timeout fires on time, not an hour late when the clock steps back, and not at once when it
steps forward. Real time passes here (about a second per case); the wall clock is the test's."""

from __future__ import annotations

import asyncio
import time

import pytest

from acd.core import CancelOffer, ContactArrived, Offer, QueueConfig, QueueConfigured, SeatLoggedIn
from acd.service import AcdService
from hotline.bus import Bus
from hotline.clock import SteadyClock

RING_S = 0.6


class Recorder:
    def __init__(self) -> None:
        self.commands: list[tuple[float, object]] = []

    async def execute(self, command: object) -> None:
        self.commands.append((time.monotonic(), command))


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
async def test_a_ring_timeout_fires_on_time_when_the_wall_clock_steps(step: float) -> None:
    offset = [0.0]
    acd = AcdService(Bus(), clock=SteadyClock(wall=lambda: time.time() + offset[0]))
    seen = Recorder()
    acd.register("chat", seen)
    acd.start()
    try:
        await acd.feed(QueueConfigured(acd.now(), QueueConfig("q", ring_timeout_s=RING_S)))
        await acd.feed(SeatLoggedIn(acd.now(), "s1", (("general", 3),), ready=True))
        await acd.feed(ContactArrived(acd.now(), "webchat-1", "webchat", "q"))
        offered_at = time.monotonic()
        assert [type(c) for _, c in seen.commands] == [Offer]
        offset[0] = step  # the wall clock jumps while the seat's phone rings
        await asyncio.sleep(0.2)
        assert [type(c) for _, c in seen.commands] == [Offer]  # forward: not fired at once
        for _ in range(100):  # back: not an hour late
            if len(seen.commands) > 1:
                break
            await asyncio.sleep(0.05)
        at, cancel = seen.commands[1]
        assert isinstance(cancel, CancelOffer) and cancel.contact_id == "webchat-1"
        # within the slew: the 0.6 s ring lasted between 0.6 / 1.1 and 0.6 / 0.9 s of real time
        assert RING_S / 1.1 - 0.05 <= at - offered_at <= RING_S / 0.9 + 1.0
    finally:
        await acd.stop()
