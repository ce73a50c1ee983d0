"""The hand-written 0005 migration creates exactly what channels/models.py declares, and goes back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import channels.models  # noqa: F401  (registers the tables on Base.metadata)
from hotline.migrate import downgrade, upgrade
from hotline.storage import Base, make_engine

TABLES = {"channel_conversations", "channel_messages", "channel_media"}


async def test_migration_matches_the_models_and_downgrades_cleanly(db_url):
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(ctx, Base.metadata)

            changes = await conn.run_sync(diff)
        ours = [c for c in changes if any(t in repr(c) for t in TABLES)]
        assert ours == []
    finally:
        await engine.dispose()
    await downgrade(db_url, "channels@-1")
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not names & TABLES and "interactions" in names
    finally:
        await engine.dispose()
