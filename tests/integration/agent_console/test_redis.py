"""Two engine processes' console servers share emits through Redis (AsyncRedisManager)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from agent_console.plugin import SIO
from tests.conftest import REDIS_URL, need_server
from tests.integration.agent_console.harness import start_engine, stop_engine


async def test_an_emit_on_one_engine_reaches_a_seat_connected_to_the_other(tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    probe = aioredis.Redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except Exception as exc:  # any failure means no usable Redis
        need_server(f"Redis at {REDIS_URL} unreachable: {exc}")
    finally:
        await probe.aclose()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = await start_engine(tmp_path / "a", redis_url=REDIS_URL)
    b = await start_engine(tmp_path / "b", redis_url=REDIS_URL)
    try:
        seat = await a.client("/agent", await a.account("1001"))
        assert (await seat.call("state"))["ok"]
        sio_b = b.runner.app[SIO]
        marker = uuid.uuid4().hex
        for _ in range(20):  # the subscriber of engine A may take a moment to listen
            await sio_b.emit(
                "forced", {"action": "not_ready", "by": marker, "reason": ""}, room="seat:1001", namespace="/agent"
            )
            try:
                got = await seat.next("forced", timeout=0.25)
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("an emit on engine B never reached the seat on engine A")
        assert got["by"] == marker
    finally:
        await stop_engine(a)
        await stop_engine(b)
