"""The typed bundle of shared services every feature's plugin receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

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
