"""Migration 0020 adds the leader's capability to accounts as auth.py declares it, keeps the
accounts that were there (not leaders), and goes back down."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import hotline.auth  # noqa: F401  (registers accounts on Base.metadata)
from hotline.migrate import downgrade, upgrade
from hotline.storage import Base, make_engine


async def _columns(db_url):
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("accounts")})
    finally:
        await engine.dispose()


async def test_migration_0020_matches_the_accounts_model_and_downgrades_cleanly(db_url):
    await upgrade(db_url)
    await downgrade(db_url, "0016")
    assert "unit_leader" not in await _columns(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO accounts (username, display_name, role, unit_id, password_hash, active, created_at)"
                    " VALUES ('water1', '水务', 'unit', 'water', 'x', :t, CURRENT_TIMESTAMP)"
                ),
                {"t": True},
            )
    finally:
        await engine.dispose()
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(ctx, Base.metadata)

            changes = await conn.run_sync(diff)
            leader = (await conn.execute(text("SELECT unit_leader FROM accounts WHERE username = 'water1'"))).scalar()
        assert [c for c in changes if "'accounts'" in repr(c)] == []
        assert leader in (False, 0)
    finally:
        await engine.dispose()
