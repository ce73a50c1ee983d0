"""Whether the database answers, as the engine's writers find out: one log line when it stops
answering and one when it is back (never a traceback per attempt), a gauge and a counter.

A PostgreSQL restart or a cut network shows the engine connection errors (refused, reset, a
connect or command timeout, "the database system is starting up"); those are *unavailable*
and worth trying again. Anything else (a constraint, a bug) is not, and is reported as before.
The process keeps one view: every writer that meets the outage says so here, the first says it
in the log.
"""

from __future__ import annotations

import logging
import re
import time

from prometheus_client import Counter, Gauge
from sqlalchemy import exc as sa_exc

logger = logging.getLogger(__name__)

UP = Gauge("hotline_database_up", "1 while the database answers the engine's writers, 0 during an outage")
FAILED = Counter("hotline_database_unavailable_total", "writes that met an unreachable database", ["where"])
UP.set(1)


class StorageUnavailable(ValueError):
    """A contact's write was refused because the database did not answer in time: the sender is
    told to try again (nothing was stored, so nothing is doubled)."""

    def __init__(self, message: str = "系统繁忙，消息暂未发送，请稍后重试") -> None:
        super().__init__(message)


def unavailable(exc: BaseException) -> bool:
    """A connection-level failure (worth trying again), not an error of the statement itself."""
    if isinstance(exc, StorageUnavailable | ConnectionError | TimeoutError):  # refused, reset, timed out
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sa_exc.InterfaceError):
            return True
        if isinstance(exc, sa_exc.OperationalError):
            # SQLite's "database is locked" after busy_timeout, a disk full, a file it cannot open:
            # worth a retry. A schema that does not match the code (a migration not run) is not: it
            # would be retried for ever in silence instead of being logged as the error it is.
            return not _SCHEMA_ERRORS.search(str(exc.orig or exc))
        orig = exc.orig
        # SQLAlchemy's asyncpg adapter raises its own ``Error`` *from* asyncpg's: look behind it.
        return orig is not None and (_asyncpg_unavailable(orig) or _network_cause(orig))
    return _asyncpg_unavailable(exc) or _network_cause(exc)


def _network_cause(exc: BaseException) -> bool:
    """A failure whose cause is the network (a connection cut during the driver's handshake
    surfaces as whatever the driver raised *from* the socket's error)."""
    seen = 0
    cause = exc.__cause__ or exc.__context__
    while cause is not None and seen < 5:
        if isinstance(cause, ConnectionError | TimeoutError) or _asyncpg_unavailable(cause):
            return True
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return False


_SCHEMA_ERRORS = re.compile(r"no such (table|column|index)|has no column named|syntax error", re.IGNORECASE)


def _asyncpg_unavailable(exc: BaseException) -> bool:
    name = type(exc).__name__
    # asyncpg's connection-level errors (not imported: SQLite-only installs need not have it loaded)
    return name in {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "InterfaceError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
        "PostgresConnectionError",
    }


class _Watch:
    def __init__(self) -> None:
        self.down_since: float | None = None
        self.failures = 0

    def failed(self, where: str, exc: BaseException) -> None:
        FAILED.labels(where).inc()
        self.failures += 1
        if self.down_since is None:
            self.down_since = time.monotonic()
            UP.set(0)
            logger.error(
                "database unavailable: writes are held and retried",
                extra={"where": where, "error": f"{type(exc).__name__}: {exc}"[:300]},
            )

    def answered(self, where: str) -> None:
        if self.down_since is None:
            return
        down_s, self.down_since = time.monotonic() - self.down_since, None
        UP.set(1)
        logger.warning(
            "database back",
            extra={"where": where, "down_s": round(down_s, 1), "failed_attempts": self.failures},
        )
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None


DATABASE = _Watch()


def log_failure(log: logging.Logger, message: str, exc: BaseException, where: str, **extra: object) -> None:
    """A background task's failure: an outage of the database is said once (above); anything else
    is logged with its traceback, as before."""
    if unavailable(exc):
        DATABASE.failed(where, exc)
    else:
        log.error(message, exc_info=exc, extra=extra or None)
