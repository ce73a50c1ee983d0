"""Migration 0013 creates exactly what knowledge/requests_models.py declares and goes back down
to 0012 alone."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import knowledge.models  # noqa: F401  (registers the tables on Base.metadata)
from hotline.migrate import downgrade, upgrade
from hotline.storage import Base, make_engine

TABLES = {"kb_queries", "kb_flags", "kb_emergency", "kb_usage"}


async def _names_and_diff(db_url):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(ctx, Base.metadata)

            changes = await conn.run_sync(diff)
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    return names, [c for c in changes if any(f"'{t}'" in repr(c) for t in TABLES)]


async def test_migration_0013_matches_the_models_and_downgrades_to_0012(db_url):
    await upgrade(db_url)
    names, ours = await _names_and_diff(db_url)
    assert names >= TABLES
    assert ours == []
    await downgrade(db_url, "0012")
    names, _ = await _names_and_diff(db_url)
    assert not TABLES & names and "kb_entries" in names
