"""A burst of emits bigger than one Redis client's pool (a new active engine telling hundreds of
seats at once) waits for pooled connections instead of being taken for a Redis outage: every
emit is published, none is counted unshared, and the process does not say Redis is down.

Real Redis (REDIS_URL). Before the pool waited, redis-py refused the 101st command in flight at
once ("Too many connections") and the process stopped sharing its emits for a second."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from hotline.redislink import POOL_SIZE, POOL_WAIT_S, TIMEOUT_S, RedisHealth, SharedEmits, client
from tests.conftest import REDIS_URL, need_server


async def _reachable() -> None:
    probe = client(REDIS_URL)
    try:
        await probe.ping()
    except Exception as exc:  # any failure means no usable Redis
        need_server(f"Redis at {REDIS_URL} unreachable: {exc}")
    finally:
        await probe.aclose()


async def test_a_burst_of_emits_past_the_pool_is_published_whole(caplog: pytest.LogCaptureFixture) -> None:
    await _reachable()
    health = RedisHealth()
    emits = SharedEmits(REDIS_URL, health)
    emits.channel = f"hotline-burst-{uuid.uuid4().hex}"
    listener = client(REDIS_URL, socket_timeout=None)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(emits.channel)
    heard: list[int] = []

    async def listen() -> None:
        async for message in pubsub.listen():
            heard.append(json.loads(message["data"])["n"])

    reader = asyncio.create_task(listen())
    burst = POOL_SIZE * 10  # 320: past redis-py's own default pool (100) too
    try:
        await asyncio.gather(*(emits._publish({"n": n}) for n in range(burst)))
        for _ in range(100):
            if len(heard) == burst:
                break
            await asyncio.sleep(0.05)
    finally:
        reader.cancel()
        await pubsub.aclose()
        await listener.aclose()
        await emits.redis.aclose()
    assert sorted(heard) == list(range(burst))
    assert health.down_since is None and health.unshared == 0
    assert not [r for r in caplog.records if "redis unavailable" in r.getMessage()]
    # The client kept to its pool: the burst waited for connections, it did not open 320.
    assert emits.redis.connection_pool.max_connections == POOL_SIZE


async def test_a_request_s_own_redis_check_waits_for_a_connection_no_longer_than_a_command() -> None:
    """The WeChat retry key and token share one client: with its 32 connections busy, a push
    waits at most TIMEOUT_S for one (WeChat gives up after 5 s), not the emits' POOL_WAIT_S."""
    await _reachable()
    shared = client(REDIS_URL)
    hogs = [await shared.connection_pool.get_connection() for _ in range(POOL_SIZE)]
    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await shared.get("hotline-burst-probe")
        assert TIMEOUT_S - 0.1 <= loop.time() - t0 < POOL_WAIT_S / 2
    finally:
        for conn in hogs:
            await shared.connection_pool.release(conn)
        await shared.aclose()
