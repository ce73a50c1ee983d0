"""Migration 0017 creates what supervision/models.py declares and goes back down."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import supervision.models  # noqa: F401  (registers the tables on Base.metadata)
from hotline.migrate import downgrade, upgrade
from hotline.storage import Base, make_engine

TABLES = {"sv_supervisions", "sv_followups", "sv_letters", "sv_letter_seq"}


async def test_migration_matches_the_models_and_downgrades_cleanly(db_url):
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(ctx, Base.metadata)

            changes = await conn.run_sync(diff)
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert names >= TABLES
        assert [c for c in changes if any(f"'{t}'" in repr(c) for t in TABLES)] == []
    finally:
        await engine.dispose()
    await downgrade(db_url, "supervision@-1")  # its own branch: nothing else goes
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not names & TABLES and "wo_orders" in names
    finally:
        await engine.dispose()
