"""Storage: SQLAlchemy 2 async engine and the declarative base every feature's tables use.

SQLite (``aiosqlite``) is the embedded default; PostgreSQL (``asyncpg``) is chosen by
``DATABASE_URL``. The schema is owned by Alembic migrations (``hotline db upgrade``).
``Transactions`` runs a group-commit writer's batch (plain synchronous Core) in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import JSON, BigInteger, Connection, DateTime, Engine, Integer, MetaData, String, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, dt.datetime: DateTime(timezone=True)}


class Interaction(Base):
    """One citizen contact (a call or a chat), from arrival to its end."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str] = mapped_column(String(64), default="")
    arrived_at: Mapped[dt.datetime] = mapped_column(index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IntervalFigures(Base):
    """The ACD's figures per interval as it counts them (``acd/core/stats.py``), kept every second
    so that a restart changes no reported figure: ``kind`` "contacts" (per queue and channel:
    offered, answered within 15 s, abandoned ...) or "seats" (seconds in a seat state, queue "")."""

    __tablename__ = "acd_interval_figures"

    interval_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime]


class EventLogEntry(Base):
    """The ACD's replayable event log: what went into the core, in order."""

    __tablename__ = "acd_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(48))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)


T = TypeVar("T")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask, usually 0644):
    it holds password hashes and citizens' data. SQLite gives its -wal and -shm files the same mode."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path.startswith(":memory:") or "mode=memory" in path:
        return
    file = Path(path.split("?", 1)[0])
    if file.exists():
        return
    file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


# PostgreSQL: a connection found dead after a restart of the server is replaced before use
# (pre-ping), and neither a connect nor a statement waits for ever on a cut network.
PG_CONNECT_TIMEOUT_S = 5.0
PG_COMMAND_TIMEOUT_S = 30.0


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
    elif url.startswith("postgresql+asyncpg"):
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_timeout", 10)
        connect = {"timeout": PG_CONNECT_TIMEOUT_S, "command_timeout": PG_COMMAND_TIMEOUT_S}
        kwargs["connect_args"] = {**connect, **kwargs.get("connect_args", {})}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Transactions:
    """Runs ``fn(connection)``, plain synchronous SQLAlchemy Core, in one transaction: the batch
    of a group-commit writer, whatever its size.

    On SQLite the batch runs in a thread of its own, on a connection of its own (kept open between
    batches: a pool checkout and its reset cost a quarter of a small batch) that takes the
    write lock at BEGIN (``BEGIN IMMEDIATE``, so it waits for another writer instead of failing
    after its reads): one hand-over between threads per batch. Through the async engine each
    statement costs four (aiosqlite's cursor, execute, fetch, close) plus SQLAlchemy's greenlet
    switches, about 0.25 ms of CPU per statement on the project's machine against 0.08 ms here.
    Other databases (asyncpg) speak from the event loop: the batch runs there, through
    ``run_sync`` on the async engine's connection.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._conn: Connection | None = None  # the thread's, only ever touched there
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._sync = create_engine(url.set(drivername="sqlite"), json_serializer=_json_text)
            event.listen(self._sync, "connect", _sqlite_pragmas)
            event.listen(self._sync, "connect", _sqlite_manual_begin)
            event.listen(self._sync, "begin", _sqlite_begin_immediate)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="db-batch")

    async def run(self, fn: Callable[[Connection], T], timeout: float | None = None) -> T:
        """``timeout`` bounds a transaction on the event loop (a database that stopped answering
        mid-statement: it is rolled back); SQLite's thread is not interrupted (its lock waits are
        bounded by ``busy_timeout``)."""
        if self._sync is None:
            return await asyncio.wait_for(self._on_loop(fn), timeout)
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_thread, fn)

    async def _on_loop(self, fn: Callable[[Connection], T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(fn)

    def _in_thread(self, fn: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        if self._conn is None:
            self._conn = self._sync.connect()
        conn = self._conn
        try:
            with conn.begin():
                return fn(conn)
        except BaseException:
            # Rolled back; a connection that failed (a full disk, a lost file) is not trusted
            # again: the next batch opens a fresh one.
            self._close_conn()
            raise

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.submit(self._close_conn).result()
            self._thread.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()


def _json_text(value: Any) -> str:
    """JSON columns written by the batch thread: orjson (Chinese text as UTF-8, a fifth of the
    standard module's time); read back the same by either engine."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_manual_begin(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # the driver's own BEGIN is deferred: SQLAlchemy sends ours


@contextlib.contextmanager
def driver_errors(statement: str) -> Iterator[None]:
    """Around a statement given straight to ``sqlite3``: its errors raised as SQLAlchemy raises
    them (``OperationalError`` for a locked or full database...), so that callers tell an outage
    from a bad statement the same way whichever path the statement took."""
    try:
        yield
    except sqlite3.Error as exc:
        raise sa_exc.DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def _sqlite_begin_immediate(conn: Connection) -> None:
    # Straight to the driver: through ``exec_driver_sql`` this one statement cost a tenth of a batch.
    raw = conn.connection.dbapi_connection
    assert raw is not None
    with driver_errors("BEGIN IMMEDIATE"):
        raw.execute("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
