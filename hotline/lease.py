"""Who may route: one active engine per hotline, elected by a lease in PostgreSQL, with fencing.

With ``cluster.enabled`` several engine processes (on several machines) share one PostgreSQL.
Each holds a connection of its own for the lease; the one that takes PostgreSQL's advisory lock
``cluster.lease`` is active: it bumps the lease row's ``epoch`` (its fencing token), serves the
hotline and renews the row every ``renew_s``. The others are hot standbys: started, connected,
asking for the lock every ``poll_s``.

- **A killed active** (kill -9, the machine's power): its socket closes, PostgreSQL ends its
  session and drops its lock at once; the next standby's ask (≤ ``poll_s``) takes it.
- **A silent active** (its network cut, the process frozen): PostgreSQL may keep its session for
  minutes. When the row's last renewal is older than ``ttl_s`` *by the database's clock* and
  the session holding the lock (in this database) has been idle as long, a standby ends that
  session (``pg_terminate_backend``, the stale holder's lock goes with it) and takes the lease
  with the next epoch.
- **A cut connection** (reset by the network or a proxy, PostgreSQL restarted): the server frees
  the lock with the session and a standby takes it at its next ask; the active, told by its
  connection's termination, is fenced at once rather than at its deadline. What is left is the
  moment between the two: an active whose event loop is stalled longer than a standby's
  ``poll_s`` when its connection is reset could still send what it was sending.
- **Fencing.** The active takes as holding the lease only until ``ttl_s`` after it *sent* its
  last successful renewal (a monotonic deadline: the database stamped that renewal later, so
  no standby can steal before the deadline passes). Past it, ``holds()`` is false: every command
  a voice adapter would send (ARI, AMI) and every batch of call records checks it first and is
  refused; a watchdog thread, independent of the event loop, ends the process (exit 75, for a
  supervisor such as systemd to start it again as a standby) within ``watch_s``. A renewal that
  finds another epoch in the row ends it at once.
- **Its own thread.** The lease's connection, its asks and its renewals run on an event loop of
  their own in a thread of their own: a stall of the engine's event loop (a burst of work, a
  long collection, a slow disk in the busy hour) does not miss renewals and hand the hotline to
  a standby for nothing. An engine whose loop stays stalled past ``stall_s`` (hung, not busy)
  stops renewing and is replaced like a silent one.

The embedded default has no lease: ``ALWAYS`` holds for ever (one process, all roles).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import Counter, Gauge
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base

logger = logging.getLogger(__name__)

FENCED_EXIT = 75  # EX_TEMPFAIL: "try again later" — start again as a standby
ACTIVE = Gauge("hotline_cluster_active", "1 while this process holds the routing lease")
EPOCH = Gauge("hotline_cluster_epoch", "the fencing token (lease epoch) this process holds, 0 when none")
TAKEOVERS = Counter("hotline_cluster_takeovers_total", "leases this process took, by how", ["how"])
FENCED = Counter("hotline_cluster_fenced_commands_total", "commands refused: the lease was no longer held", ["target"])
STEALS = Counter("hotline_cluster_stale_sessions_ended_total", "silent holders' sessions this process ended")


class ClusterLease(Base):
    """One row per lease: its epoch (the fencing token) and its holder's last renewal."""

    __tablename__ = "cluster_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(128))
    holder_pid: Mapped[int] = mapped_column(Integer)  # the holder's PostgreSQL backend
    acquired_at: Mapped[dt.datetime]
    renewed_at: Mapped[dt.datetime]


class ClusterMember(Base):
    """One row per engine process: what it is and when it was last seen (``hotline cluster status``)."""

    __tablename__ = "cluster_member"

    node: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # standby | active | fenced | stopped
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    pid: Mapped[int] = mapped_column(Integer)
    http: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime]
    seen_at: Mapped[dt.datetime]
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Lease(Protocol):
    epoch: int

    def holds(self) -> bool: ...


class _Always:
    """The embedded default: one process, always active."""

    epoch = 0

    def holds(self) -> bool:
        return True


ALWAYS: Lease = _Always()


def fence(lease: Lease, target: str) -> bool:
    """Whether a command for ``target`` may go out; a refusal is counted (and the caller logs)."""
    if lease.holds():
        return True
    FENCED.labels(target).inc()
    return False


def lock_keys(name: str) -> tuple[int, int]:
    """The advisory lock's two 32-bit keys for a lease name (as pg_locks shows them: classid, objid)."""
    digest = hashlib.sha256(f"hotline-lease:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF, int.from_bytes(digest[4:8], "big") & 0x7FFFFFFF


def plain_dsn(url: str) -> str:
    """asyncpg's DSN for a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def default_node(port: int) -> str:
    return f"{socket.gethostname()}:{port}"


@dataclass
class PgLease:
    """The lease on one dedicated asyncpg connection (see the module's doc)."""

    url: str
    name: str = "router"
    node: str = field(default_factory=lambda: default_node(0))
    http: str = ""
    ttl_s: float = 1.5
    renew_s: float = 0.25
    poll_s: float = 0.1
    watch_s: float = 0.05
    stall_s: float = 10.0  # the engine's event loop silent this long: give the lease up
    exit: Callable[[int], None] = os._exit  # what the watchdog does when the lease is lost
    epoch: int = 0
    state: str = "standby"
    info: Callable[[], dict[str, Any]] = field(default=lambda: {})
    _conn: Any = field(default=None, repr=False)
    _deadline: float = 0.0  # monotonic: the lease is ours until then
    _lost: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _on_lost: Callable[[str], None] | None = field(default=None, repr=False)
    _watchdog: threading.Thread | None = field(default=None, repr=False)
    _stop_watch: threading.Event = field(default_factory=threading.Event, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)  # the lease's own
    _thread: threading.Thread | None = field(default=None, repr=False)
    _main: asyncio.AbstractEventLoop | None = field(default=None, repr=False)  # the engine's
    _ticker: asyncio.Task[None] | None = field(default=None, repr=False)
    _alive: float = 0.0  # monotonic: the engine's loop was last seen running then (0: not watched)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def holds(self) -> bool:
        return self.epoch > 0 and not self._lost and time.monotonic() < self._deadline

    # -- connection -------------------------------------------------------------------------------
    async def _connect(self) -> Any:
        import asyncpg

        # The server side notices a peer gone silent within seconds (keepalives, user timeout):
        # a cut holder's session, and its lock, do not outlive it by the kernel's two hours.
        return await asyncpg.connect(
            plain_dsn(self.url),
            timeout=max(1.0, self.ttl_s),
            command_timeout=max(0.5, self.ttl_s / 2),
            server_settings={
                "application_name": f"hotline-lease {self.node}"[:63],
                "tcp_keepalives_idle": "1",
                "tcp_keepalives_interval": "1",
                "tcp_keepalives_count": "2",
                "tcp_user_timeout": str(int(self.ttl_s * 1000)),
            },
        )

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    # -- standby ----------------------------------------------------------------------------------
    # -- the lease's own loop ---------------------------------------------------------------------
    def _own_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name=f"lease-{self.name}", daemon=True)
            self._thread.start()
            self._loop = loop
        return self._loop

    async def _on_own_loop(self, work: Any) -> Any:
        """Run ``work`` (a coroutine) on the lease's loop; cancelling the caller cancels it."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._own_loop()))

    def _stop_own_loop(self) -> None:
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)
        if not loop.is_running():
            loop.close()

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait as a standby until the lease is ours (True) or ``stop`` is set (False). The asks
        and, once taken, the renewals run on the lease's own loop (see the module's text)."""
        return bool(await self._on_own_loop(self._acquire(stop)))

    async def _acquire(self, stop: asyncio.Event) -> bool:
        k1, k2 = lock_keys(self.name)
        said_waiting = False
        stole = False  # this standby ended a silent holder's session
        unreachable = False
        while not stop.is_set():
            try:
                if self._conn is None:
                    self._conn = await self._connect()
                await self._beat("standby")
                sent = time.monotonic()
                if await self._conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", k1, k2):
                    self.epoch = int(
                        await self._conn.fetchval(
                            """INSERT INTO cluster_lease (name, epoch, holder, holder_pid, acquired_at, renewed_at)
                               VALUES ($1, 1, $2, pg_backend_pid(), now(), now())
                               ON CONFLICT (name) DO UPDATE SET epoch = cluster_lease.epoch + 1,
                                 holder = $2, holder_pid = pg_backend_pid(), acquired_at = now(), renewed_at = now()
                               RETURNING epoch""",
                            self.name,
                            self.node,
                        )
                    )
                    self._deadline = sent + self.ttl_s
                    self.state = "active"
                    ACTIVE.set(1)
                    TAKEOVERS.labels("from_silent" if stole else ("first" if self.epoch == 1 else "free")).inc()
                    EPOCH.set(self.epoch)
                    logger.warning(
                        "lease taken: this engine is active", extra={"lease": self.name, "epoch": self.epoch}
                    )
                    # The lock lives in this session: the moment the connection goes (reset, the
                    # server restarted, a proxy between dropped it), PostgreSQL frees the lock and a
                    # standby may take it at its next ask. Fenced at once, not at the deadline.
                    self._conn.add_termination_listener(self._on_terminated)
                    # Renewed from now on, while the engine starts its routing.
                    self._tasks.append(asyncio.create_task(self._renew(), name="lease-renew"))
                    return True
                if not said_waiting:
                    logger.info("standby: another engine holds the lease", extra={"lease": self.name})
                    said_waiting = True
                stole = await self._fence_silent(k1, k2) or stole
            except Exception as exc:
                if not unreachable:  # once per outage, not ten lines a second
                    logger.warning("lease: database unreachable", extra={"cause": str(exc) or type(exc).__name__})
                    unreachable = True
                await self._drop()
            else:
                if unreachable:
                    logger.warning("lease: database reachable again", extra={"lease": self.name})
                    unreachable = False
            # ``stop`` belongs to the engine's loop: read here, never waited on.
            await asyncio.sleep(self.poll_s)
        return False

    async def _fence_silent(self, k1: int, k2: int) -> bool:
        """End the session of a holder that has not renewed for ``ttl_s`` (the database's clock)."""
        row = await self._conn.fetchrow(
            "SELECT holder, holder_pid, extract(epoch FROM now() - renewed_at) AS age FROM cluster_lease WHERE name = $1",
            self.name,
        )
        if row is None or float(row["age"]) <= self.ttl_s:
            return False
        # Only this database's lock (another database on the server may have a lease of that name),
        # and only a session idle for ttl_s: the row read above may predate the stamp of a holder
        # that has just taken the lock (two standbys starting on an old row would both hold). A
        # session of another role shows no state_change: then only the row's own holder_pid.
        ended = await self._conn.fetch(
            """SELECT pg_terminate_backend(l.pid) AS ended, l.pid FROM pg_locks l
               LEFT JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objid::bigint = $2
                 AND l.objsubid = 2 AND l.granted AND l.pid <> pg_backend_pid()
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND (a.state_change < now() - make_interval(secs => $3)
                      OR (a.state_change IS NULL AND l.pid = $4))""",
            k1,
            k2,
            self.ttl_s,
            row["holder_pid"],
        )
        if any(r["ended"] for r in ended):
            STEALS.inc()
            logger.warning(
                "lease holder silent: its session ended",
                extra={"lease": self.name, "holder": row["holder"], "silent_s": round(float(row["age"]), 2)},
            )
            return True
        return False

    # -- active -----------------------------------------------------------------------------------
    def hold(self, on_lost: Callable[[str], None]) -> None:
        """Once the engine serves (called on its loop): ``on_lost(why)`` is told on that loop when
        the lease goes; a thread ends the process once it is lost (whatever the loop is doing);
        from now on the renewals stop if the engine's loop is silent for ``stall_s``."""
        self._main = asyncio.get_running_loop()
        self._on_lost = on_lost
        self._alive = time.monotonic()
        self._ticker = self._main.create_task(self._tick(), name="lease-tick")
        if self._lost:
            on_lost("lost while starting")
        self._watchdog = threading.Thread(target=self._watch, name="lease-watchdog", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        """Not on the event loop: a loop that is frozen or busy cannot keep a fenced engine alive."""
        while not self._stop_watch.wait(self.watch_s):
            # release() sets _stop_watch before _lost: a clean stop (this thread may have waited
            # for the GIL since its wait ended) is not a lost lease.
            if not self.holds() and not self._stop_watch.is_set():
                # A process that lost its lease must not go on: whatever it would still do is fenced.
                logging.getLogger(__name__).error(
                    "lease lost: this engine stops (fenced)", extra={"lease": self.name, "epoch": self.epoch}
                )
                for h in logging.getLogger().handlers:
                    with contextlib.suppress(Exception):
                        h.flush()
                self.exit(FENCED_EXIT)
                return

    async def _tick(self) -> None:
        """On the engine's loop: says it still runs."""
        while True:
            self._alive = time.monotonic()
            await asyncio.sleep(self.renew_s)

    async def _renew(self) -> None:
        while not self._lost:
            await asyncio.sleep(self.renew_s)
            sent = time.monotonic()
            silent = sent - self._alive if self._alive else 0.0
            if silent > self.stall_s:  # hung, not busy: let a standby serve
                self._lost_because(f"the engine's event loop has not run for {silent:.1f} s")
                return
            try:
                if self._conn is None:
                    raise ConnectionError("lease connection gone")
                async with asyncio.timeout(max(0.2, self._deadline - sent)):
                    done = await self._conn.execute(
                        "UPDATE cluster_lease SET renewed_at = now() WHERE name = $1 AND epoch = $2",
                        self.name,
                        self.epoch,
                    )
            except Exception as exc:
                if time.monotonic() >= self._deadline:
                    self._lost_because(f"no renewal within {self.ttl_s} s ({exc or type(exc).__name__})")
                    return
                continue
            if done != "UPDATE 1":
                self._lost_because("another engine took the lease")
                return
            self._deadline = sent + self.ttl_s
            # On the same connection, after the renewal and never holding the next one up for long.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.renew_s):
                    await self._beat(self.state)

    def _on_terminated(self, _conn: Any) -> None:
        if self.epoch and not self._lost and not self._stop_watch.is_set():
            self._lost_because("the lease's connection to PostgreSQL was lost (its lock goes with it)")

    def _lost_because(self, why: str) -> None:
        self._lost = True
        self.state = "fenced"
        ACTIVE.set(0)
        EPOCH.set(0)
        logger.error("lease lost", extra={"lease": self.name, "epoch": self.epoch, "cause": why})
        if self._on_lost is not None and self._main is not None:
            with contextlib.suppress(RuntimeError):  # the engine's loop already closed
                self._main.call_soon_threadsafe(self._on_lost, why)

    async def _beat(self, state: str) -> None:
        """This process's row in ``cluster_member`` (at most once a second)."""
        import orjson

        now = time.monotonic()
        if self._conn is None or now - getattr(self, "_beat_at", 0.0) < 0.9:
            return
        self._beat_at = now
        await self._conn.execute(
            """INSERT INTO cluster_member (node, state, epoch, pid, http, started_at, seen_at, info)
               VALUES ($1, $2, $3, $4, $5, $6, now(), $7::json)
               ON CONFLICT (node) DO UPDATE SET state = $2, epoch = $3, pid = $4, http = $5,
                 started_at = $6, seen_at = now(), info = $7::json""",
            self.node,
            state,
            self.epoch,
            os.getpid(),
            self.http,
            self.started_at,
            orjson.dumps(self.info()).decode(),
        )

    async def release(self) -> None:
        """A clean stop: give the lease up at once (a standby takes it without waiting for ``ttl_s``)."""
        self._stop_watch.set()
        self._lost = True
        if self._ticker is not None:
            self._ticker.cancel()
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                await self._on_own_loop(self._release())
        self._stop_own_loop()
        ACTIVE.set(0)

    async def _release(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._conn.execute(
                        "UPDATE cluster_member SET state = 'stopped', seen_at = now() WHERE node = $1", self.node
                    )
                    if self.epoch:
                        await self._conn.execute("SELECT pg_advisory_unlock($1, $2)", *lock_keys(self.name))
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=1.0)
        self._conn = None
        ACTIVE.set(0)
