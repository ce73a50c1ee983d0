"""Per-visitor flood limit for web chat: a token bucket per key, clock passed in.

A visitor may send ``burst`` messages at once and ``rate`` per second after that; a refused
message says how long to wait. Idle buckets are dropped so memory follows active visitors.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until one more message would be allowed; 0 when allowed


class FloodLimit:
    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be positive, burst and max_keys at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str, now: float) -> Decision:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        # A clock that steps back (NTP) must not mint tokens, so elapsed time is never negative.
        tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return Decision(True, 0.0)
        self._store(key, tokens, now)
        return Decision(False, (1.0 - tokens) / self.rate)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets.pop(key, None)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self.prune(now)
            while len(self._buckets) > self.max_keys:
                # Oldest-touched first: dict order is the order of last use.
                del self._buckets[next(iter(self._buckets))]

    def prune(self, now: float) -> int:
        """Forget buckets that have refilled completely (their visitor would start full anyway)."""
        full_after = self.burst / self.rate
        gone = [k for k, (_, at) in self._buckets.items() if now - at >= full_after]
        for key in gone:
            del self._buckets[key]
        return len(gone)
