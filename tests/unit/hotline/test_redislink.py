"""RedisHealth on a clock of the test's own: one line when Redis goes, one when it is back, and
while it is away one caller a second tries it again, the others skip it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from hotline.redislink import RedisHealth, SharedEmits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_every_caller_tries_redis_while_it_answers() -> None:
    health = RedisHealth(clock=Clock())
    assert all(health.worth_trying() for _ in range(5))


def test_while_redis_is_down_one_caller_a_second_tries_it_again() -> None:
    clock = Clock()
    health = RedisHealth(retry_after_s=1.0, clock=clock)
    health.failed("emits", ConnectionError("refused"))
    assert [health.worth_trying() for _ in range(3)] == [False, False, False]
    clock.now += 1.0
    assert [health.worth_trying() for _ in range(3)] == [True, False, False]
    clock.now += 0.5
    assert not health.worth_trying()
    health.ok("emits")
    assert health.worth_trying() and health.worth_trying()


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    health = RedisHealth(clock=clock)
    with caplog.at_level(logging.INFO, logger="hotline.redislink"):
        health.ok("emits")  # answering all along: nothing to say
        for use in ("emits", "subscribe", "wechat_dedup", "emits"):
            health.failed(use, TimeoutError())
            health.not_shared()
        clock.now += 4.0
        health.ok("subscribe")
        health.ok("emits")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("redis unavailable (emits: TimeoutError)")
    assert lines[1] == (
        "redis back (subscribe) after 4.0 s; 4 emits were not shared with other engine processes meanwhile"
    )
    assert health.down_since is None and health.unshared == 0


async def test_pages_are_told_to_read_again_when_redis_is_back_and_a_flapping_redis_tells_them_once_per_interval() -> (
    None
):
    health = RedisHealth()
    manager = SharedEmits("redis://127.0.0.1:1/0", health, resync_every_s=0.3)  # never connected here
    manager.rooms = {"/visitor": {}, "/agent": {}}
    sent: list[tuple[str, str]] = []

    async def emit(event: str, data: Any, namespace: str = "/", **_kw: Any) -> None:
        sent.append((event, namespace))

    manager.emit = emit
    health.failed("subscribe", ConnectionError("refused"))
    health.ok("subscribe")
    for _ in range(3):  # the subscriber's own "I lost emits" on top: still one
        manager.resync_soon()
    await asyncio.sleep(0.05)
    assert sent == [("resync", "/visitor"), ("resync", "/agent")]
    for _ in range(5):  # Redis goes and comes back five times at once
        health.failed("emits", TimeoutError())
        health.ok("emits")
    await asyncio.sleep(0.05)
    assert len(sent) == 2  # not yet: one was sent less than 0.3 s ago
    await asyncio.sleep(0.5)
    assert sent[2:] == [("resync", "/visitor"), ("resync", "/agent")]
