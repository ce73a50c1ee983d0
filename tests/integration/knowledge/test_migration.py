"""Migration 0012 creates what knowledge/models.py declares plus each database's own index, and
goes back down."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import knowledge.models  # noqa: F401  (registers the tables on Base.metadata)
from hotline.migrate import downgrade, upgrade
from hotline.storage import Base, make_engine

TABLES = {"kb_entries", "kb_versions"}
INDEX_TABLES = {"kb_search", "kb_fts"}


async def test_migration_matches_the_models_has_the_right_index_and_downgrades_cleanly(db_url):
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(ctx, Base.metadata)

            changes = await conn.run_sync(diff)
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        # The full-text tables are each database's own (knowledge/index.py), not in the models.
        ours = [c for c in changes if any(f"'{t}'" in repr(c) for t in TABLES)]
        assert [c for c in ours if not (c[0] == "remove_table" and c[1].name in INDEX_TABLES)] == []
        if db_url.startswith("sqlite"):
            assert "kb_fts" in names and "kb_search" not in names
        else:
            assert "kb_search" in names and "kb_fts" not in names
            assert {"kb_terms", "kb_search_totals"} <= names  # 0014: PostgreSQL's term statistics
    finally:
        await engine.dispose()
    await downgrade(db_url, "knowledge@-3")  # 0014 (term statistics) and 0013 (requests) sit on 0012
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not {n for n in names if n.startswith("kb_")} and "interactions" in names
    finally:
        await engine.dispose()
