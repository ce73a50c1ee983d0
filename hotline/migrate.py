"""Run Alembic migrations from code (``hotline db upgrade`` and ``hotline run``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.storage import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(url: str, revision: str = "heads", engine: AsyncEngine | None = None) -> None:
    own = engine is None
    eng = engine or make_engine(url)
    try:
        async with eng.begin() as conn:

            def _do(sync_conn: object) -> None:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, revision)

            await conn.run_sync(_do)
    finally:
        if own:
            await eng.dispose()


async def downgrade(url: str, revision: str) -> None:
    eng = make_engine(url)
    try:
        async with eng.begin() as conn:

            def _do(sync_conn: object) -> None:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = sync_conn
                command.downgrade(cfg, revision)

            await conn.run_sync(_do)
    finally:
        await eng.dispose()


def upgrade_sync(url: str) -> None:
    asyncio.run(upgrade(url))
