"""The routing lease (hotline/lease.py) on a real PostgreSQL: who takes it, how a standby takes
over from a released, killed, frozen or outvoted holder, and that a holder past its deadline is
fenced and ends itself (exit 75). Holders that die or freeze run as real processes where it
matters (kill -9, SIGSTOP); the others run here with an ``exit`` that records the code.

Each test has a lease name of its own: other tests on the same server do not see its lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from hotline.commands.run import _lease
from hotline.errors import CommandError
from hotline.lease import FENCED_EXIT, PgLease, fence, lock_keys, plain_dsn
from hotline.migrate import upgrade
from hotline.settings import ClusterSettings, SettingsError, load_settings

pytestmark = pytest.mark.integration

TTL_S, RENEW_S, POLL_S = 0.6, 0.1, 0.05
STEALS = "hotline_cluster_stale_sessions_ended_total"
FENCED = "hotline_cluster_fenced_commands_total"
REPO = Path(__file__).parents[3]

# A holder in a process of its own, with the production exit (os._exit): prints its epoch once held.
HOLDER = """
import asyncio, sys
from hotline.lease import PgLease

async def main():
    url, name, ttl, renew = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    lease = PgLease(url, name, node="process", ttl_s=ttl, renew_s=renew, poll_s=0.05)
    assert await lease.acquire(asyncio.Event())
    lease.hold(lambda why: None)
    print("holding", lease.epoch, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got if isinstance(got, bool) else await got:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def freeze(lease: PgLease) -> None:
    """What a frozen holder looks like from outside: its renewals stop (on the lease's own loop),
    its connection, session and lock stay."""
    assert lease._loop is not None
    lease._loop.call_soon_threadsafe(lease._tasks[0].cancel)


@dataclass
class Made:
    """What a test built: its leases (released at the end), their recorded exits, its processes."""

    url: str
    name: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")
    leases: list[PgLease] = field(default_factory=list)
    exits: dict[str, list[int]] = field(default_factory=dict)
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    conns: list[Any] = field(default_factory=list)

    def lease(self, node: str, url: str | None = None, **kw: Any) -> PgLease:
        codes = self.exits.setdefault(node, [])
        opts = {"ttl_s": TTL_S, "renew_s": RENEW_S, "poll_s": POLL_S, **kw}
        lease = PgLease(url or self.url, self.name, node=node, exit=codes.append, **opts)
        self.leases.append(lease)
        return lease

    async def sql(self, url: str | None = None) -> Any:
        conn = await asyncpg.connect(plain_dsn(url or self.url))
        self.conns.append(conn)
        return conn

    async def holder_process(self, ttl_s: float, renew_s: float) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HOLDER,
            self.url,
            self.name,
            str(ttl_s),
            str(renew_s),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.decode().split() == ["holding", "1"], line
        return proc


@pytest.fixture
async def made(pg_url: str) -> AsyncIterator[Made]:
    await upgrade(pg_url)
    m = Made(pg_url)
    try:
        yield m
    finally:
        for proc in m.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                    proc.kill()
                await proc.wait()
        for lease in m.leases:
            await lease.release()
        for conn in m.conns:
            conn.terminate()


@pytest.fixture
async def other_url(pg_url: str) -> AsyncIterator[str]:
    """A second database on the same server."""
    name = f"hotline_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(plain_dsn(pg_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{pg_url.rsplit('/', 1)[0]}/{name}"
        await upgrade(url)
        yield url
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def lease_row(conn: Any, name: str) -> Any:
    return await conn.fetchrow("SELECT * FROM cluster_lease WHERE name = $1", name)


async def alive(conn: Any, pid: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid))


async def gone(conn: Any, pid: int) -> bool:
    """A session ended: its lock goes a moment before it leaves pg_stat_activity."""
    return not await alive(conn, pid)


async def equals(got: Awaitable[Any], want: Any) -> bool:
    return await got == want


async def test_one_of_two_takes_the_lease_and_the_other_takes_over_at_once_when_it_is_released(made: Made):
    # The settings' defaults: a takeover well under ttl_s can only come from the released lock.
    ttl = 1.5
    a, b = made.lease("a", ttl_s=ttl, renew_s=0.25), made.lease("b", ttl_s=ttl, renew_s=0.25)
    stops = {a.node: asyncio.Event(), b.node: asyncio.Event()}
    tasks = {asyncio.create_task(lease.acquire(stops[lease.node])): lease for lease in (a, b)}
    done, _ = await asyncio.wait(tasks, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1
    winner_task = done.pop()
    assert winner_task.result() is True
    first = tasks[winner_task]
    second = b if first is a else a
    assert first.epoch == 1 and first.holds() and first.state == "active"
    lost: list[str] = []
    first.hold(lost.append)

    # A holder that renews is never replaced, however long the standby waits.
    steals = metric(STEALS)
    await asyncio.sleep(ttl + 0.5)
    assert first.holds() and second.epoch == 0 and not second.holds()
    assert metric(STEALS) == steals
    stops[second.node].set()
    assert await asyncio.wait_for(next(t for t in tasks if tasks[t] is second), 5) is False

    sql = await made.sql()

    async def members() -> dict[str, tuple[str, int]]:
        rows = await sql.fetch("SELECT node, state, epoch FROM cluster_member")
        return {r["node"]: (r["state"], r["epoch"]) for r in rows}

    await until(lambda: equals(members(), {first.node: ("active", 1), second.node: ("standby", 0)}))

    standby = asyncio.create_task(second.acquire(asyncio.Event()))
    await asyncio.sleep(0.3)
    assert not standby.done()
    released = time.monotonic()
    await first.release()
    assert await asyncio.wait_for(standby, 10) is True
    assert time.monotonic() - released < ttl
    assert metric(STEALS) == steals  # taken from a free lock, no session ended
    assert second.epoch == 2 and second.holds() and not first.holds()
    row = await lease_row(sql, made.name)
    assert (row["epoch"], row["holder"]) == (2, second.node)
    await until(lambda: equals(members(), {first.node: ("stopped", 1), second.node: ("active", 2)}))
    assert made.exits == {"a": [], "b": []} and lost == []


async def test_a_killed_holder_is_replaced_without_waiting_for_the_ttl(made: Made):
    ttl = 3.0  # long: only the session ending with the process explains a takeover before it
    proc = await made.holder_process(ttl_s=ttl, renew_s=0.3)
    standby = made.lease("standby", ttl_s=ttl, renew_s=0.3)
    task = asyncio.create_task(standby.acquire(asyncio.Event()))
    await asyncio.sleep(0.3)
    assert not task.done() and standby.epoch == 0
    steals = metric(STEALS)

    proc.kill()
    killed = time.monotonic()
    assert await asyncio.wait_for(task, 10) is True
    assert time.monotonic() - killed < ttl
    assert await proc.wait() == -signal.SIGKILL
    assert standby.epoch == 2 and standby.holds()
    assert metric(STEALS) == steals
    row = await lease_row(await made.sql(), made.name)
    assert (row["epoch"], row["holder"]) == (2, standby.node)


async def test_a_frozen_holder_is_fenced_before_the_standby_ends_its_session_and_takes_over(made: Made):
    holder, standby = made.lease("frozen"), made.lease("standby")
    lost: list[str] = []
    assert await holder.acquire(asyncio.Event())
    holder.hold(lost.append)
    await asyncio.sleep(3 * RENEW_S)
    sql = await made.sql()
    holder_pid = (await lease_row(sql, made.name))["holder_pid"]
    steals, fenced = metric(STEALS), metric(FENCED, target="ari")
    assert fence(holder, "ari") and metric(FENCED, target="ari") == fenced

    # Frozen: no more renewals, the connection (and its session, and its lock) stays.
    freeze(holder)
    await asyncio.sleep(0.1)  # a renewal already sent lands
    last = (await lease_row(sql, made.name))["renewed_at"]
    task = asyncio.create_task(standby.acquire(asyncio.Event()))
    while await sql.fetchval("SELECT extract(epoch FROM now() - $1::timestamptz)", last) < 0.8 * TTL_S:
        assert not task.done() and standby.epoch == 0
        await asyncio.sleep(0.02)
    assert await alive(sql, holder_pid)

    assert await asyncio.wait_for(task, 10) is True
    assert not holder.holds()  # fenced before the new holder could act: never two at once
    row = await lease_row(sql, made.name)
    assert (row["epoch"], row["holder"]) == (holder.epoch + 1, standby.node) == (2, standby.node)
    assert (row["acquired_at"] - last).total_seconds() > TTL_S
    assert metric(STEALS) == steals + 1
    await until(lambda: gone(sql, holder_pid))
    assert fence(holder, "ari") is False
    assert metric(FENCED, target="ari") == fenced + 1
    await until(lambda: made.exits["frozen"] == [FENCED_EXIT])
    # Its session ended by the standby: the holder hears of it (its loop runs here) and is lost.
    assert made.exits["standby"] == [] and [w for w in lost if "connection" not in w] == []


async def test_a_stopped_holder_process_is_replaced_after_the_ttl_and_exits_75_when_let_go(made: Made):
    proc = await made.holder_process(ttl_s=TTL_S, renew_s=RENEW_S)
    sql = await made.sql()
    holder_pid = (await lease_row(sql, made.name))["holder_pid"]
    steals = metric(STEALS)

    proc.send_signal(signal.SIGSTOP)
    await asyncio.sleep(0.1)
    last = (await lease_row(sql, made.name))["renewed_at"]
    standby = made.lease("standby")
    assert await asyncio.wait_for(standby.acquire(asyncio.Event()), 10) is True
    row = await lease_row(sql, made.name)
    assert (row["epoch"], row["holder"]) == (2, standby.node)
    assert (row["acquired_at"] - last).total_seconds() > TTL_S
    assert metric(STEALS) == steals + 1
    await until(lambda: gone(sql, holder_pid))

    proc.send_signal(signal.SIGCONT)
    assert await asyncio.wait_for(proc.wait(), 10) == FENCED_EXIT
    assert standby.holds()


async def test_a_holder_that_finds_another_epoch_at_its_renewal_is_lost_at_once(made: Made):
    holder = made.lease("holder", ttl_s=3.0, renew_s=RENEW_S)  # the deadline is far: only the row tells
    lost: list[str] = []
    assert await holder.acquire(asyncio.Event())
    holder.hold(lost.append)
    sql = await made.sql()
    await sql.execute("UPDATE cluster_lease SET epoch = epoch + 1 WHERE name = $1", made.name)

    await until(lambda: bool(lost), timeout=2.0)
    assert len(lost) == 1 and "another engine" in lost[0]
    assert not holder.holds() and holder.state == "fenced"
    assert fence(holder, "ami") is False
    await until(lambda: made.exits["holder"] == [FENCED_EXIT])


async def test_a_holder_whose_connection_is_reset_is_fenced_at_once_not_at_its_deadline(made: Made):
    """PostgreSQL frees the lock the moment the holder's session ends (a reset, a restart, a proxy
    in between dropping it) and a standby takes it at its next ask: the holder must not go on
    until its deadline (ttl_s later), or two engines would command Asterisk meanwhile."""
    holder = made.lease("holder", ttl_s=10.0, renew_s=RENEW_S)  # a deadline far away
    standby = made.lease("standby")
    lost: list[str] = []
    assert await holder.acquire(asyncio.Event())
    holder.hold(lost.append)
    sql = await made.sql()
    pid = (await lease_row(sql, made.name))["holder_pid"]
    assert await sql.fetchval("SELECT pg_terminate_backend($1)", pid)
    await until(lambda: bool(lost), timeout=2.0)
    assert "connection" in lost[0], lost
    assert not holder.holds() and fence(holder, "ari") is False
    await until(lambda: made.exits["holder"] == [FENCED_EXIT], timeout=2.0)
    # The lock went with the session: the standby takes it at once, with the next epoch.
    stop = asyncio.Event()
    assert await asyncio.wait_for(standby.acquire(stop), 5.0)
    assert standby.epoch == holder.epoch + 1


async def test_a_standby_ends_only_the_silent_holder_of_its_own_database(made: Made, other_url: str):
    holder, standby = made.lease("frozen"), made.lease("standby")
    elsewhere = made.lease("elsewhere", url=other_url)  # the same lease name, another database
    lost: list[str] = []
    assert await holder.acquire(asyncio.Event())
    assert await elsewhere.acquire(asyncio.Event())
    elsewhere.hold(lost.append)
    other = await made.sql(other_url)
    elsewhere_pid = (await lease_row(other, made.name))["holder_pid"]

    freeze(holder)
    assert await asyncio.wait_for(standby.acquire(asyncio.Event()), 10) is True
    await asyncio.sleep(2 * TTL_S)
    assert await alive(other, elsewhere_pid)
    assert elsewhere.holds() and lost == [] and made.exits["elsewhere"] == []


async def test_a_standby_spares_a_holder_that_took_the_lock_and_has_not_yet_stamped_the_row(made: Made):
    """Two standbys starting on an old row: the one that lost the race may read the row before
    the winner stamps it. Ending the winner then would leave two holders until the winner's
    deadline; a session that still talks is spared, one that stays silent past ttl_s is not."""
    sql = await made.sql()
    await sql.execute(
        "INSERT INTO cluster_lease VALUES ($1, 7, 'gone', 0, now() - interval '1 hour', now() - interval '1 hour')",
        made.name,
    )
    taker = await made.sql()
    assert await taker.fetchval("SELECT pg_try_advisory_lock($1, $2)", *lock_keys(made.name))
    taker_pid = await taker.fetchval("SELECT pg_backend_pid()")
    steals = metric(STEALS)
    standby = made.lease("standby")
    task = asyncio.create_task(standby.acquire(asyncio.Event()))
    talking_until = time.monotonic() + 2 * TTL_S
    while time.monotonic() < talking_until:
        await taker.execute("SELECT 1")
        await asyncio.sleep(RENEW_S)
    assert not task.done() and standby.epoch == 0
    assert metric(STEALS) == steals and await alive(sql, taker_pid)

    # Silent from now on (frozen before stamping the row): its lock must not be held for ever.
    assert await asyncio.wait_for(task, 10) is True
    assert standby.epoch == 8 and metric(STEALS) == steals + 1
    await until(lambda: gone(sql, taker_pid))


async def test_a_clean_release_never_reads_as_a_lost_lease(made: Made):
    lost: list[str] = []
    for n in range(5):
        lease = made.lease(f"node{n}", watch_s=0.001)
        assert await lease.acquire(asyncio.Event())
        lease.hold(lost.append)
        await asyncio.sleep(0.02)
        # A busy event loop, as at a shutdown: the watchdog's wait may end while it cannot run.
        busy_until = time.perf_counter() + 0.02
        while time.perf_counter() < busy_until:
            pass
        await lease.release()
        assert lease._watchdog is not None
        lease._watchdog.join(5)
        assert made.exits[lease.node] == [] and lost == []


async def test_a_busy_event_loop_keeps_the_lease_and_a_hung_one_gives_it_up(made: Made):
    """The renewals run on the lease's own loop: the engine's loop blocked for five times the ttl
    (a burst of work in the busy hour) loses nothing; blocked past stall_s it is taken as hung,
    the lease is let go and a standby takes over."""
    holder, standby = made.lease("busy", stall_s=3 * 5 * TTL_S), made.lease("standby")
    lost: list[str] = []
    assert await holder.acquire(asyncio.Event())
    holder.hold(lost.append)
    sql = await made.sql()
    before = (await lease_row(sql, made.name))["renewed_at"]
    time.sleep(5 * TTL_S)  # the engine's loop does nothing else meanwhile
    row = await lease_row(sql, made.name)
    assert holder.holds() and lost == [] and made.exits["busy"] == []
    assert row["epoch"] == holder.epoch == 1 and row["renewed_at"] > before  # renewed while blocked
    task = asyncio.create_task(standby.acquire(asyncio.Event()))
    await asyncio.sleep(3 * TTL_S)
    assert not task.done() and holder.holds()

    time.sleep(3 * 5 * TTL_S + 2 * RENEW_S)  # past stall_s: hung
    assert not holder.holds() and made.exits["busy"] == [FENCED_EXIT]  # the watchdog did not wait for the loop
    assert await asyncio.wait_for(task, 10) is True and standby.epoch == 2
    await until(lambda: bool(lost))
    assert "event loop has not run" in lost[0], lost


def test_cluster_settings_refuse_a_renewal_slower_than_a_third_of_the_ttl():
    assert ClusterSettings(ttl_s=1.5, renew_s=0.5).renew_s == 0.5
    with pytest.raises(ValidationError, match="renew_s must be at most a third of ttl_s"):
        ClusterSettings(ttl_s=1.5, renew_s=0.51)
    with pytest.raises(SettingsError, match="renew_s"):
        load_settings(cluster={"enabled": True, "ttl_s": 1.0, "renew_s": 0.5})


def test_run_with_a_cluster_needs_postgresql(tmp_path: Path):
    settings = load_settings(data_dir=tmp_path, cluster={"enabled": True, "node": "n1", "ttl_s": 2, "renew_s": 0.5})
    ctx = SimpleNamespace()
    with pytest.raises(CommandError, match=r"cluster\.enabled needs PostgreSQL"):
        _lease(settings, ctx, f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
    assert not hasattr(ctx, "lease")

    lease = _lease(settings, ctx, "postgresql+asyncpg://u@127.0.0.1:5432/h")
    assert ctx.lease is lease
    assert (lease.name, lease.node, lease.ttl_s, lease.renew_s) == ("router", "n1", 2, 0.5)
    assert lease.http == f"http://{settings.http.host}:{settings.http.port}"


async def test_a_standby_says_once_that_the_database_is_unreachable_not_at_every_ask(made: Made, caplog):
    import logging

    standby = made.lease("standby", url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", poll_s=0.05)
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="hotline.lease")
    asyncio.get_running_loop().call_later(1.0, stop.set)
    assert await standby.acquire(stop) is False
    said = [r for r in caplog.records if r.getMessage() == "lease: database unreachable"]
    assert len(said) == 1, [r.getMessage() for r in caplog.records]
