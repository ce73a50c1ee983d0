"""What every edge uses to refuse abuse cheaply: rate limits with bounded memory, the client's
real address (behind trusted proxies only), and one way to refuse with a log line and a metric.

A refusal costs a dictionary lookup and a deque append: it happens before any password check,
database query or parsing that an anonymous client could make expensive.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from prometheus_client import Counter

logger = logging.getLogger(__name__)

REFUSED = Counter("hotline_refused_total", "requests and events refused at an edge", ["edge", "reason"])


class RefusalLog:
    """In a flood every refusal is counted, but only the first ``burst`` of each kind every
    ``every_s`` seconds are logged: a line per refused request would make the attacker pay the
    engine's log instead. The next line logged says how many were left out."""

    def __init__(self, every_s: float = 10.0, burst: int = 10) -> None:
        self.every_s, self.burst = every_s, burst
        self._kinds: dict[tuple[str, str], list[float]] = {}  # kind -> [window start, lines, left out]

    def admit(self, kind: tuple[str, str], now: float) -> int | None:
        """None: leave this one out; else log it, noting how many were left out before."""
        state = self._kinds.get(kind)
        if state is None or now - state[0] >= self.every_s:
            left_out = int(state[2]) if state is not None else 0
            self._kinds[kind] = [now, 1, 0]
            return left_out
        if state[1] < self.burst:
            state[1] += 1
            return 0
        state[2] += 1
        return None


_REFUSAL_LOG = RefusalLog()


def refuse(edge: str, reason: str, **fields: Any) -> None:
    """Count and log one refusal (the caller then answers with its own clear message)."""
    REFUSED.labels(edge, reason).inc()
    left_out = _REFUSAL_LOG.admit((edge, reason), time.monotonic())
    if left_out is None:
        return
    extra = {"edge": edge, "reason": reason, **fields}
    if left_out:
        extra["not_logged_before"] = left_out
    logger.warning("refused", extra=extra)


class RateLimiter:
    """At most ``limit`` hits per key within ``window`` seconds (a sliding window).

    Memory is bounded: past ``max_keys`` keys the oldest key is forgotten first, so a spray of
    new keys (usernames, visitor ids) costs at most ``max_keys × limit`` timestamps.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be >= 1 and window > 0")
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._hits: collections.OrderedDict[Hashable, collections.deque[float]] = collections.OrderedDict()

    def retry_after(self, key: Hashable) -> float:
        """Seconds until ``key`` may hit again; 0 when it may now."""
        q = self._hits.get(key)
        if q is None:
            return 0.0
        now = self.clock()
        while q and now - q[0] >= self.window:
            q.popleft()
        if not q:
            del self._hits[key]
            return 0.0
        return self.window - (now - q[0]) if len(q) >= self.limit else 0.0

    def count(self, key: Hashable) -> int:
        """Hits of ``key`` within the window now."""
        self.retry_after(key)  # forgets the hits that have left the window
        q = self._hits.get(key)
        return len(q) if q else 0

    def hit(self, key: Hashable) -> None:
        q = self._hits.get(key)
        if q is None:
            q = self._hits[key] = collections.deque(maxlen=self.limit)
            if len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        q.append(self.clock())

    def take(self, key: Hashable) -> float:
        """Hit ``key`` if it may: 0 when taken, else the seconds to wait (nothing counted)."""
        wait = self.retry_after(key)
        if wait <= 0:
            self.hit(key)
        return wait

    def unhit(self, key: Hashable) -> None:
        """Take back the latest hit (an attempt counted while in flight that turned out fine)."""
        q = self._hits.get(key)
        if q:
            q.pop()

    def clear(self, key: Hashable) -> None:
        self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)

    # The login limiter's former names: a failure is a hit, a success clears the key.
    failed = hit
    succeeded = clear


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks as networks; ValueError names a bad one."""
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {item!r}") from None
    return tuple(out)


LOOPBACK = networks(["127.0.0.0/8", "::1/128"])


def within(address: str, nets: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in nets)


def client_address(peer: str, headers: Mapping[str, str], trusted: Iterable[Network]) -> str:
    """The address to hold a client to: the peer's, unless the peer is a trusted proxy; then the
    right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy (anything left of
    it was written by the client and proves nothing)."""
    trusted = tuple(trusted)
    if not trusted or not within(peer, trusted):
        return peer
    # Every X-Forwarded-For line, in order: a proxy such as HAProxy adds its own line after the
    # client's, and reading only the first would believe what the client wrote.
    getall = getattr(headers, "getall", None)
    forwarded = ", ".join(getall("X-Forwarded-For", ())) if getall is not None else headers.get("X-Forwarded-For", "")
    for hop in reversed([h.strip() for h in forwarded.split(",")[:32]]):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop.split("%", 1)[0])
        except ValueError:
            return peer  # a malformed chain: hold the proxy itself to account
        if not within(hop, trusted):
            return hop
    return peer
