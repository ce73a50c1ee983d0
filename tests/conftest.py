"""Shared fixtures: real databases (SQLite file and PostgreSQL), migrated to the newest schema.

Servers a test needs must be there under CI=true: a missing one fails the test. Elsewhere
the test is skipped with the reason printed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotline.migrate import upgrade
from hotline.storage import make_engine

IN_CI = os.environ.get("CI", "").lower() == "true"
# An engine app built by a test must not take calls from the sandbox's Stasis application:
# the voice tests drive their own voice stack, and two consumers of one app would fight over
# every call. A test that wants the app's voice side sets this back itself.
os.environ.setdefault("HOTLINE_ASTERISK__VOICE", "false")
PG_ADMIN_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def need_server(reason: str) -> None:
    """Fail under CI (the server must be there), skip elsewhere with the reason."""
    if IN_CI:
        pytest.fail(f"required server missing under CI=true: {reason}")
    pytest.skip(reason)  # outside CI only: under CI=true the line above fails the test


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import asyncpg

    admin = _asyncpg_dsn(PG_ADMIN_URL)
    try:
        conn = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        need_server(f"PostgreSQL at {admin} unreachable: {exc}")
        raise
    name = f"hotline_t_{uuid.uuid4().hex[:12]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}"
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    else:
        gen = pg_url.__wrapped__()  # type: ignore[attr-defined]
        url = await gen.__anext__()
        try:
            yield url
        finally:
            await gen.aclose()


@pytest.fixture
async def migrated_engine(db_url: str):  # type: ignore[no-untyped-def]
    """An AsyncEngine on a database migrated to every head."""
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()
