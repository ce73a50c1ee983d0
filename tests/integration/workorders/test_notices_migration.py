"""Migration 0016 creates what workorders/models.py declares for alerts and notices, and goes back down."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import workorders.models  # noqa: F401  (registers the tables on Base.metadata)
from hotline.migrate import downgrade, upgrade
from hotline.storage import Base, make_engine

TABLES = {"wo_alerts", "wo_notices", "wo_notice_deliveries"}


async def test_migration_0016_matches_the_models_and_downgrades_cleanly(db_url):
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
    await downgrade(db_url, "0011")  # the work orders' branch before 0016 (0020 goes with it)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not TABLES & names and "wo_orders" in names
    finally:
        await engine.dispose()
