"""The transactional outbox (SQLite and PostgreSQL): a row written in the caller's transaction is
carried out once, after it commits and even by another process after a stop; a failure is tried
again with backoff, then kept as failed; ``hotline outbox status`` says what waits and why."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import subprocess
from typing import Any

from hotline import outbox
from hotline.outbox import MAX_TRIES, Outbox, retry_after, status
from hotline.storage import make_sessionmaker

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def write(engine: Any, *rows: tuple[str, str, dict[str, Any]], fail: bool = False) -> None:
    """Rows in one transaction of the caller's, committed or (``fail``) rolled back."""

    def work(conn: Any) -> None:
        for kind, key, payload in rows:
            outbox.add(conn, kind, key, payload, dt.datetime.fromtimestamp(T0, dt.UTC))
        if fail:
            raise RuntimeError("the caller's transaction fails")

    try:
        async with engine.begin() as conn:
            await conn.run_sync(work)
    except RuntimeError:
        assert fail


async def test_rows_are_carried_out_once_after_their_commit_and_never_for_a_rolled_back_one(migrated_engine):
    done: list[tuple[str, dict[str, Any]]] = []

    async def handler(key: str, payload: dict[str, Any]) -> None:
        done.append((key, payload))

    await write(migrated_engine, ("order", "wechat-1", {"conversation": 1}), ("order", "wechat-1", {"again": True}))
    await write(migrated_engine, ("order", "wechat-2", {"conversation": 2}), fail=True)
    await write(migrated_engine, ("other", "x-1", {}))
    # Another process (a restarted engine) carries out what the first one committed.
    box = Outbox(make_sessionmaker(migrated_engine), Clock())
    box.register("order", handler)
    assert await box.carry_out() == 1
    assert await box.carry_out() == 0
    assert done == [("wechat-1", {"conversation": 1})]  # the second row with its key was ignored
    found = await status(box.sessions, T0 + 30)
    assert found["kinds"] == {
        "order": {"waiting": 0, "failed": 0, "done": 1, "oldest_waiting_s": None},
        "other": {"waiting": 1, "failed": 0, "done": 0, "oldest_waiting_s": 30.0},  # nobody carries it here
    }


async def test_a_failing_row_is_tried_again_with_backoff_then_kept_as_failed(migrated_engine):
    clock = Clock()
    tries: list[float] = []

    async def flaky(key: str, payload: dict[str, Any]) -> None:
        tries.append(clock.now)
        raise ConnectionRefusedError(111, "the work-order service is away")

    await write(migrated_engine, ("order", "wechat-3", {}))
    box = Outbox(make_sessionmaker(migrated_engine), clock)
    box.register("order", flaky)
    assert await box.carry_out() == 1
    assert await box.carry_out() == 0  # not due before its backoff
    clock.now += retry_after(1) - 0.1
    assert await box.carry_out() == 0
    clock.now += 0.2
    assert await box.carry_out() == 1
    while len(tries) < MAX_TRIES:
        clock.now += retry_after(len(tries))
        assert await box.carry_out() == 1
    clock.now += 86400
    assert await box.carry_out() == 0  # failed for good: not tried again
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(tries)]
    assert gaps[:4] == [5.1, 10.0, 20.0, 40.0] and max(gaps) == 300.0
    found = await status(box.sessions, clock.now)
    assert found["kinds"]["order"]["failed"] == 1
    assert found["errors"][0]["key"] == "wechat-3" and "away" in found["errors"][0]["error"]


def test_the_status_command_says_what_waits(tmp_path):
    from tests.security.engine import HOTLINE, ROOT

    async def fill(url: str) -> None:
        from hotline.migrate import upgrade
        from hotline.storage import make_engine

        await upgrade(url)
        engine = make_engine(url)
        try:
            await write(engine, ("snap_workorder", "wechat-9", {"conversation": 9}))
        finally:
            await engine.dispose()

    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    asyncio.run(fill(url))
    env = {**os.environ, "DATABASE_URL": url, "HOTLINE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([*HOTLINE, "outbox", "status", "--json"], env=env, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert found["kinds"]["snap_workorder"]["waiting"] == 1
    table = subprocess.run([*HOTLINE, "outbox", "status"], env=env, capture_output=True, text=True, check=False)
    assert table.returncode == 0 and "snap_workorder" in table.stdout, table.stdout + table.stderr
