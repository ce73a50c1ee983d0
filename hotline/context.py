"""The typed bundle of shared services every feature's plugin receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.offload import Lane
from hotline.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None = None
    # Features publish their services here by name (e.g. "acd", "workorders") for the others to use.
    services: dict[str, Any] = field(default_factory=dict)
    _compute: Lane | None = field(default=None, repr=False)

    @property
    def compute(self) -> Lane:
        """Worker processes for computations a request may ask for (staffing, Erlang): bounded in
        number, each with a time limit, never on the event loop (settings.security)."""
        if self._compute is None:
            sec = self.settings.security
            self._compute = Lane("compute", workers=sec.computations_at_once, waiting=4, processes=True)
        return self._compute
