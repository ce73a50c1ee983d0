"""Fast check for WeChat retries: Redis when the engine has one, the process's memory otherwise.

The unique ``dedup_key`` column is the real guarantee; a key is remembered only after the
message is stored, so a failed store never turns the retry into a "duplicate".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from channels.core.dedup import SeenKeys
from hotline.redislink import FAILURES, RedisHealth

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)


class Deduplicator(Protocol):
    async def seen(self, key: str) -> bool: ...

    async def remember(self, key: str) -> None: ...


class MemoryDedup:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys = SeenKeys(ttl)
        self._clock = clock

    async def seen(self, key: str) -> bool:
        return self._keys.seen(key, self._clock())

    async def remember(self, key: str) -> None:
        self._keys.add(key, self._clock())


class RedisDedup:
    """Keys in Redis, shared by the engine processes. Redis down or hanging must not refuse
    messages: the check answers "not seen" (the database's unique key still catches the retry),
    said once for the process by ``RedisHealth``, not once a push."""

    def __init__(
        self, redis: Redis, ttl: int, prefix: str = "hotline:wechat:seen:", health: RedisHealth | None = None
    ) -> None:
        self._redis = redis
        self._ttl = ttl
        self._prefix = prefix
        self._health = health or RedisHealth()

    async def seen(self, key: str) -> bool:
        if not self._health.worth_trying():
            return False
        try:
            found = bool(await self._redis.exists(self._prefix + key))
        except FAILURES as exc:
            self._health.failed("wechat_dedup", exc)
            return False
        self._health.ok("wechat_dedup")
        return found

    async def remember(self, key: str) -> None:
        if not self._health.worth_trying():
            return
        try:
            await self._redis.set(self._prefix + key, b"1", ex=self._ttl)
        except FAILURES as exc:
            self._health.failed("wechat_dedup", exc)
            return
        self._health.ok("wechat_dedup")
