"""The engine's Redis: a cache and a messenger, never the only copy of anything.

What uses it: the Socket.IO server shares emits between engine processes through it
(python-socketio's Redis manager, with the publishing and listening below), the WeChat webhook
keeps its fast retry check there and the WeChat API client its access token. Every message is
stored in the database before anyone is told of it, so a Redis that is down or hangs costs speed
and sharing, never a message; these are the rules that keep it that way:

- every command has a time limit (``TIMEOUT_S``) and is not tried again after it: a Redis that stopped answering
  (frozen, its host gone) cannot hold a seat's reply or a WeChat push for redis-py's default
  5 s times three retries;
- once it has failed, callers skip it (an emit reaches this process's sockets only, a retry check
  answers "not seen", the token is kept in this process) and one caller every ``retry_after_s``
  tries again: nothing is queued for it, so nothing grows while it is away;
- the process says so in one line when it goes and one when it is back (not a line per emit), and
  counts in ``hotline_redis_down``, ``hotline_redis_errors_total{use}`` and
  ``hotline_redis_unshared_emits_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio
from prometheus_client import Counter, Gauge
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

TIMEOUT_S = 1.0
POOL_SIZE = 32  # connections of one client; more commands at once wait for one (``client``)
# How long a command waits for one of them. Not a sign of Redis down (each command on the wire
# still fails within TIMEOUT_S): a busy process's own backlog. With 1 s, a new active engine at 20
# calls/s on a saturated machine took its backlog for an outage 117 times in three minutes and
# kept those emits (seats' offers among them) from the gateways.
POOL_WAIT_S = 10.0
DOWN = Gauge("hotline_redis_down", "1 from a failed command to the engine's Redis until one succeeds")
ERRORS = Counter("hotline_redis_errors_total", "commands to Redis that failed or timed out", ["use"])
UNSHARED = Counter(
    "hotline_redis_unshared_emits_total",
    "Socket.IO emits not shared with other engine processes because Redis was down",
)
# What a failing command raises: Redis's own errors, the socket's, asyncio's time limit.
FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def client(url: str, pool_wait_s: float = TIMEOUT_S, **kw: Any) -> Redis:
    """A Redis client whose commands fail within ``TIMEOUT_S`` and are not retried after a time
    limit. A closed connection is tried again once at once: after a restart every pooled
    connection is a dead one, and that is not a new outage.

    Its pool holds at most ``POOL_SIZE`` connections and a command finding them all busy waits
    for one (up to ``pool_wait_s``) instead of failing at once as redis-py's own pool does past
    100 ("Too many connections"). A request's own checks (the WeChat retry key, the token) keep
    ``TIMEOUT_S``: a push must be answered within WeChat's 5 s. The emits' publisher waits up to
    ``POOL_WAIT_S`` (``SharedEmits``): a new active engine's first second, hundreds of seats'
    emits published together, was taken for a Redis outage and its emits kept from the gateways.
    While Redis hangs, the commands on the wire fail within ``TIMEOUT_S`` and free their
    connections, and callers skip Redis from the first failure on (``RedisHealth``): the wait is
    bounded by what was already waiting."""
    options: dict[str, Any] = {
        "socket_connect_timeout": TIMEOUT_S,
        "socket_timeout": TIMEOUT_S,
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        **kw,
    }
    pool = BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=pool_wait_s, **options)
    return Redis.from_pool(pool)


class RedisHealth:
    """Whether this process's Redis answers, from what its users saw: one per process."""

    def __init__(self, retry_after_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_after_s = retry_after_s
        self.clock = clock
        self.down_since: float | None = None
        self._last_try = 0.0
        self.unshared = 0
        self.when_back: list[Callable[[], None]] = []

    def worth_trying(self) -> bool:
        """True while Redis is up; while it is down, True for one caller every ``retry_after_s``."""
        if self.down_since is None:
            return True
        now = self.clock()
        if now - self._last_try < self.retry_after_s:
            return False
        self._last_try = now
        return True

    def failed(self, use: str, exc: BaseException) -> None:
        ERRORS.labels(use).inc()
        now = self.clock()
        self._last_try = now
        if self.down_since is None:
            self.down_since = now
            DOWN.set(1)
            logger.error(
                "redis unavailable (%s: %s): emits reach this process's sockets only and the fast caches are "
                "off until it answers; every message is still stored",
                use,
                str(exc) or type(exc).__name__,
            )

    def ok(self, use: str) -> None:
        if self.down_since is None:
            return
        logger.warning(
            "redis back (%s) after %.1f s; %d emits were not shared with other engine processes meanwhile",
            use,
            self.clock() - self.down_since,
            self.unshared,
        )
        self.down_since = None
        self.unshared = 0
        DOWN.set(0)
        for hook in self.when_back:
            hook()

    def not_shared(self) -> None:
        self.unshared += 1
        UNSHARED.inc()


class SharedEmits(socketio.AsyncRedisManager):  # type: ignore[misc]  # python-socketio ships no types
    """python-socketio's Redis manager, publishing and listening on the rules above.

    An emit is handed to this process's sockets first (the library's order) and then published
    for the others. The library tries a failed publish twice, logs two errors for every emit while
    Redis is down, and waits on redis-py's defaults (5 s, three retries) when Redis hangs; its
    listener logs every retry. Here a publish is tried once within ``TIMEOUT_S``, skipped while
    Redis is known to be down, and the listener resubscribes every 0.5 s at first, at most every 5 s.

    Nothing is kept to be published later: what an emit carries is in storage. After a gap (Redis
    back, or this process subscribed again after losing its subscription, during which other
    processes' emits passed it by) every socket of every process is sent ``resync``, once, and
    the pages read again what they show (the visitor's page its ``hello``, the seat's console its
    state and chat history, the supervisor's board its board).
    """

    RESYNC = "resync"

    def __init__(self, url: str, health: RedisHealth, resync_every_s: float = 5.0) -> None:
        super().__init__(url)
        self.health = health
        # A Redis that comes and goes makes every page read again at most once per this many seconds.
        self.resync_every_s = resync_every_s
        self._resync: asyncio.Task[None] | None = None
        self._resynced_at = -float("inf")
        health.when_back.append(self.resync_soon)
        # Set once listening: a gateway serves no socket before (what an engine sends it before
        # would pass it by, a room entered at a socket's connect among them).
        self.listening = asyncio.Event()

    def resync_soon(self) -> None:
        """Tell every socket to read its page again: now, or at the end of the interval if one
        was sent within it; several asks meanwhile make one."""
        if self._resync is None or self._resync.done():
            self._resync = asyncio.get_running_loop().create_task(self._send_resync())

    async def _send_resync(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._resynced_at + self.resync_every_s - loop.time()))
        self._resynced_at = loop.time()
        for namespace in list(self.rooms):
            await self.emit(self.RESYNC, {}, namespace=namespace)

    def _redis_connect(self) -> None:
        self.redis = client(self.redis_url, pool_wait_s=POOL_WAIT_S)
        self.connected = True

    async def _publish(self, data: Any) -> None:
        if not self.health.worth_trying():
            self.health.not_shared()
            return
        try:
            if not self.connected:
                self._redis_connect()
            await self.redis.publish(self.channel, self.json.dumps(data))
        except FAILURES as exc:
            self.health.failed("emits", exc)
            self.health.not_shared()
            return
        self.health.ok("emits")

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        pause = 0.5
        lost = False
        while True:
            # No read time limit here: a quiet channel is not a fault. A Redis that dies closes it.
            listener = client(self.redis_url, socket_timeout=None)
            pubsub = listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.listening.set()
                self.health.ok("subscribe")
                if lost:  # others' emits meanwhile passed this process's sockets by
                    self.resync_soon()
                lost = False
                pause = 0.5
                async for message in pubsub.listen():
                    yield message
            except FAILURES as exc:
                lost = True
                self.health.failed("subscribe", exc)
            finally:
                with contextlib.suppress(*FAILURES):
                    await pubsub.aclose()
                with contextlib.suppress(*FAILURES):
                    await listener.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
