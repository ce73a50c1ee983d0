"""Remember recently seen message keys for a while, with the clock passed in.

The in-process fallback for de-duplicating WeChat retries when no Redis is configured.
The database's unique key stays the final guard; this only spares it the round trip.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenKeys:
    def __init__(self, ttl: float, capacity: int = 100_000) -> None:
        if ttl <= 0 or capacity <= 0:
            raise ValueError("ttl and capacity must be positive")
        self.ttl = ttl
        self.capacity = capacity
        self._expires: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    def seen(self, key: str, now: float) -> bool:
        self._evict(now)
        return key in self._expires

    def add(self, key: str, now: float) -> None:
        self._evict(now)
        self._expires.pop(key, None)
        self._expires[key] = now + self.ttl
        while len(self._expires) > self.capacity:
            self._expires.popitem(last=False)

    def _evict(self, now: float) -> None:
        # Entries are kept in insertion order and every entry has the same ttl, so the oldest expire first.
        while self._expires:
            key, expires = next(iter(self._expires.items()))
            if expires > now:
                break
            del self._expires[key]
