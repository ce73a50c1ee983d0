"""Interaction records: a call's states are coalesced and written in batches, one row per call,
on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from acd.voice.records import RecordStore
from hotline.storage import Interaction, make_sessionmaker


async def test_many_updates_of_many_calls_end_as_one_row_each_with_the_newest_state(migrated_engine):
    store = RecordStore(make_sessionmaker(migrated_engine))
    store.start()
    try:
        for n in range(50):
            for step in ("arrived", "queued", "answered"):
                store.put(f"c{n}", "1380000", 1000.0 + n, None, {"state": step})
        store.put("c7", "1380000", 1007.0, 1100.0, {"state": "ended"})
        await store.flush()
        assert store.batches <= 5  # coalesced, not one transaction per update
        async with store.sessions() as s:
            rows = {r.contact_id: r for r in (await s.execute(select(Interaction))).scalars()}
        assert len(rows) == 50
        assert rows["c3"].data == {"state": "answered"} and rows["c3"].ended_at is None
        assert rows["c7"].data == {"state": "ended"} and rows["c7"].ended_at is not None
        # A later update of a written call is an update, not a second row.
        store.put("c3", "1380000", 1003.0, 1200.0, {"state": "ended"})
        await store.flush()
        row = await store.get("c3")
        assert row is not None and row.data == {"state": "ended"}
        async with store.sessions() as s:
            assert len((await s.execute(select(Interaction))).scalars().all()) == 50
    finally:
        await store.stop()


async def test_an_end_once_known_stays_whatever_state_is_written_after_it(migrated_engine):
    """A step of the call still under way when the citizen hung up wrote it again without its end,
    once, and the call stayed unended for ever (the chaos bench found it): an end never goes."""
    store = RecordStore(make_sessionmaker(migrated_engine))
    store.put("a", "13800000001", 1000.0, 1010.0, {"state": "ended"})
    store.put("a", "13800000001", 1000.0, None, {"state": "ended", "ivr_path": ["welcome"]})  # the same batch
    store.put("b", "13800000002", 1000.0, 1020.0, {"state": "ended"})
    await store.flush()
    store.put("b", "13800000002", 1000.0, None, {"state": "ended", "queue": "general"})  # a later batch
    store.put("c", "13800000003", 1000.0, None, {"state": "queued"})
    await store.flush()
    a, b, c = [await store.get(k) for k in "abc"]
    assert a is not None and a.ended_at is not None and a.data["ivr_path"] == ["welcome"]
    assert b is not None and b.ended_at is not None and b.data["queue"] == "general"
    assert c is not None and c.ended_at is None  # no end known: none made up


async def test_the_open_call_backs_are_the_recent_promises_without_an_end_oldest_first(migrated_engine):
    store = RecordStore(make_sessionmaker(migrated_engine))
    store.put("old", "13800000001", 1000.0, None, {"state": "callback"})  # before the window
    store.put("b", "13800000002", 5002.5, None, {"state": "callback", "queue": "general"})
    store.put("a", "13800000003", 5001.25, None, {"state": "callback"})
    store.put("done", "13800000004", 5003.0, 5010.0, {"state": "callback"})  # made: it ended
    for n in range(5):  # calls a crash left unended: not promises, and they crowd nothing out
        store.put(f"cut{n}", "13800000005", 5000.5, None, {"state": "talking"})
    await store.flush()
    found = await store.open_callbacks(since=5000.0, limit=2)
    assert [(c, caller, arrived) for c, caller, arrived, _ in found] == [
        ("a", "13800000003", 5001.25),
        ("b", "13800000002", 5002.5),
    ]
    assert found[1][3] == {"state": "callback", "queue": "general"}
    assert [c for c, *_ in await store.open_callbacks(since=0.0, limit=1)] == ["old"]


async def test_the_unended_calls_are_the_recent_ones_without_an_end_and_no_promise(migrated_engine):
    store = RecordStore(make_sessionmaker(migrated_engine))
    store.put("promise", "13800000001", 5001.0, None, {"state": "callback"})  # waits to be called back
    store.put("talking", "13800000002", 5003.0, None, {"state": "talking", "answered": 5004.0})
    store.put("waiting", "13800000003", 5002.0, None, {"state": "queued"})
    store.put("bare", "13800000004", 5004.0, None, {})  # a record without a state is not a promise either
    store.put("done", "13800000005", 5000.5, 5010.0, {"state": "ended"})
    store.put("old", "13800000006", 1000.0, None, {"state": "queued"})  # before the window
    await store.flush()
    found = await store.unended(since=5000.0)
    assert [(c, caller, arrived) for c, caller, arrived, _ in found] == [
        ("waiting", "13800000003", 5002.0),
        ("talking", "13800000002", 5003.0),
        ("bare", "13800000004", 5004.0),
    ]
    assert found[1][3] == {"state": "talking", "answered": 5004.0}
    assert [c for c, *_ in await store.unended(since=5000.0, limit=1)] == ["waiting"]
