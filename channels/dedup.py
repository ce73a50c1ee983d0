"""Fast check for WeChat retries: Redis when the engine has one, the process's memory otherwise.

The unique ``dedup_key`` column is the real guarantee; a key is remembered only after the
message is stored, so a failed store never turns the retry into a "duplicate".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from redis.exceptions import RedisError

from channels.core.dedup import SeenKeys

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
    def __init__(self, redis: Redis, ttl: int, prefix: str = "hotline:wechat:seen:") -> None:
        self._redis = redis
        self._ttl = ttl
        self._prefix = prefix

    async def seen(self, key: str) -> bool:
        try:
            return bool(await self._redis.exists(self._prefix + key))
        except RedisError as exc:
            # Redis down must not refuse messages: the database's unique key still catches retries.
            logger.warning("redis dedup unavailable (%s); relying on the database", exc)
            return False

    async def remember(self, key: str) -> None:
        try:
            await self._redis.set(self._prefix + key, b"1", ex=self._ttl)
        except RedisError as exc:
            logger.warning("redis dedup unavailable (%s); relying on the database", exc)
