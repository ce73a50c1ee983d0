"""The ACD's public face for the other features: the running ACD as a typed protocol.

Features hold it from ``ctx.deps.acd``; they feed it events of :mod:`acd.core` and read the
core through its query face (``acd.core.seat``, ``contact``, ``queue_names``...), never its
internals.
"""

from __future__ import annotations

from typing import Protocol

from acd.core import Acd, Command, Event


class Executor(Protocol):
    """Carries out the core's commands for one kind of media ("voice" or "chat")."""

    async def execute(self, command: Command) -> None: ...


class AcdApi(Protocol):
    @property
    def core(self) -> Acd: ...

    def now(self) -> float: ...

    async def feed(self, event: Event) -> list[Command]: ...

    def register(self, media: str, executor: Executor) -> None: ...
