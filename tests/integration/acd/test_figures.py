"""The ACD's figures kept in the database (SQLite and PostgreSQL): written as they change,
idempotently, and read back into a new engine's statistics at a start."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from acd.core.stats import Stats
from acd.figures import FiguresStore
from hotline.storage import IntervalFigures, make_sessionmaker

pytestmark = pytest.mark.integration


async def test_figures_are_kept_as_they_change_and_added_back_at_a_start(migrated_engine):
    store = FiguresStore(make_sessionmaker(migrated_engine), clock=lambda: 10_000.0)
    stats = Stats(900, 0.0, 60.0)
    stats.add(9000.0, "general", "voice", "offered")
    stats.answered(9000.0, "general", "voice", 12.0, 15.0)
    stats.add(9950.0, "internet", "webchat", "offered")
    stats.seat_state_time("ready", 9800.0, 9950.0)
    await store.keep(stats)
    stats.add(9000.0, "general", "voice", "offered")  # the same row again: an update, not a second row
    await store.keep(stats)
    await store.keep(stats)  # nothing changed: nothing written
    assert store.writes == 2
    async with store.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(IntervalFigures))).scalar_one() == 4

    started = Stats(900, 0.0, 60.0)
    assert await store.restore(started, since=0.0) == 4
    assert started.report() == stats.report()
    assert started.occupancy() == stats.occupancy()
    later = Stats(900, 0.0, 60.0)
    assert await store.restore(later, since=9900.0) == 2  # only the intervals from 9900 on


async def test_a_database_that_fails_keeps_the_changes_for_the_next_write(migrated_engine, caplog):
    sessions = make_sessionmaker(migrated_engine)
    store = FiguresStore(sessions)
    stats = Stats(900, 0.0, 60.0)
    stats.add(100.0, "general", "voice", "offered")

    async def refuse(_changes: object) -> None:
        raise OSError("disk I/O error")

    real = store.write
    store.write = refuse  # type: ignore[method-assign]
    with pytest.raises(OSError):
        await store.keep(stats)
    store.write = real  # type: ignore[method-assign]
    await store.keep(stats)
    assert (await store.load(0.0))["rows"][0][1]["offered"] == 1

    class Broken:
        def __call__(self) -> object:
            raise OSError("database is gone")

    lost = FiguresStore(Broken())  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="acd.figures"):
        assert await lost.restore(Stats(900, 0.0, 60.0), since=0.0) == 0
    [line] = [r for r in caplog.records if r.name == "acd.figures"]
    assert "counts from zero" in line.getMessage() and line.cause == "database is gone"


async def test_a_quiet_second_during_an_outage_does_not_say_the_database_is_back(migrated_engine, caplog):
    """Only a write that went through ends an outage: the figures' second with nothing to write
    said "database back" during every outage, and the log had two lines a second."""
    import asyncio

    from hotline.dbhealth import DATABASE

    store = FiguresStore(make_sessionmaker(migrated_engine), every_s=0.01)
    stats = Stats(900, 0.0, 60.0)
    DATABASE.failed("a test's writer", ConnectionRefusedError("database away"))
    try:
        with caplog.at_level(logging.WARNING, logger="hotline.dbhealth"):
            store.start(stats)
            await asyncio.sleep(0.1)  # several quiet seconds of the store
            assert DATABASE.down
            stats.add(100.0, "general", "voice", "offered")  # now a write goes through
            for _ in range(100):
                if not DATABASE.down:
                    break
                await asyncio.sleep(0.01)
            assert not DATABASE.down and store.writes == 1
        backs = [r for r in caplog.records if r.name == "hotline.dbhealth" and r.getMessage() == "database back"]
        assert len(backs) == 1
    finally:
        await store.stop(stats)
        DATABASE.answered("a test's writer")
