"""What the kernel's own parts (logins, tokens) need of the application's context: the settings
and the database. The composition root's ``AppContext`` is one; the kernel names only this."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.settings import Settings


class Kernel(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...
