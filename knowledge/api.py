"""The knowledge base's public face for the other features: what the consoles use of it.

Features hold it from ``ctx.deps.knowledge``; the knowledge feature's adapters stay its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from knowledge.core.model import Entry
from knowledge.core.query import Hit


class Found(Protocol):
    @property
    def hits(self) -> Sequence[Hit]: ...


class KnowledgeApi(Protocol):
    # ``{entry id: reason}`` of the entries with an open correction, when that part runs (else None)
    open_flags: Callable[[list[str]], Awaitable[dict[str, str]]] | None

    async def search(
        self, query: str, scope: str | None = None, audience: str = "seat", limit: int | None = None
    ) -> Found: ...

    async def get(self, entry_id: str) -> Entry: ...
