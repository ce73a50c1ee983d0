"""Fixtures of the voice tests: the sandbox's settings and a migrated SQLite database."""

from __future__ import annotations

import pytest

from hotline.migrate import upgrade
from hotline.storage import make_engine, make_sessionmaker
from tests.integration.asterisk import asterisk_settings


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    return asterisk_settings()


@pytest.fixture
async def sessions(sqlite_url):  # type: ignore[no-untyped-def]
    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    await engine.dispose()
