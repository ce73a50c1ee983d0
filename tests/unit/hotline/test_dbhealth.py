"""Which database failures are an outage (held and tried again) and which are errors to report."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from hotline.dbhealth import unavailable


def _operational(message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))


def test_a_locked_or_full_or_unreachable_database_is_an_outage_worth_trying_again() -> None:
    assert unavailable(_operational("database is locked"))
    assert unavailable(_operational("database or disk is full"))
    assert unavailable(_operational("unable to open database file"))
    assert unavailable(ConnectionRefusedError(111, "Connection refused"))
    assert unavailable(TimeoutError())


def test_a_schema_that_does_not_match_the_code_is_an_error_not_an_outage() -> None:
    """Retried as an outage, a missing migration was never logged as the error it is."""
    assert not unavailable(_operational("no such table: interactions"))
    assert not unavailable(_operational("table interactions has no column named server"))
    assert not unavailable(_operational('near "SELEC": syntax error'))
    assert not unavailable(sa_exc.IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed")))
    assert not unavailable(ValueError("a bug"))


def test_a_statement_given_straight_to_sqlite3_fails_as_sqlalchemy_would() -> None:
    """The chat batch speaks to sqlite3 itself (channels/websql.py): a locked or full database must
    still read as an outage to retry, and a schema error as the error it is."""
    from hotline.storage import driver_errors

    for text, outage in (("database is locked", True), ("database or disk is full", True), ("no such table: x", False)):
        with pytest.raises(sa_exc.OperationalError) as caught, driver_errors("INSERT INTO x VALUES (1)"):
            raise sqlite3.OperationalError(text)
        assert unavailable(caught.value) is outage, text
        assert isinstance(caught.value.orig, sqlite3.OperationalError)


def test_a_driver_error_raised_from_a_cut_connection_is_an_outage() -> None:
    """asyncpg cut mid-handshake raises its own error from the socket's: still an outage (a seat's
    knowledge suggestion during a PostgreSQL cut logged a traceback in the faults tier)."""

    class InternalClientError(Exception):  # a driver error of no known name
        pass

    def cut() -> None:
        try:
            raise ConnectionResetError("connection reset by peer")
        except ConnectionResetError as exc:
            raise InternalClientError("unexpected connection_lost() call") from exc

    with pytest.raises(InternalClientError) as caught:
        cut()
    assert unavailable(caught.value)
    assert not unavailable(InternalClientError("a bug of ours"))


def test_sqlalchemys_wrapped_asyncpg_error_from_a_closed_connection_is_an_outage() -> None:
    """SQLAlchemy hands asyncpg's error on as its own adapter's ``Error`` (raised *from* asyncpg's):
    a connection closed while the pool was connecting is an outage, not a traceback (a PostgreSQL cut
    in the faults tier logged one)."""

    class ConnectionDoesNotExistError(Exception):  # asyncpg's, by name
        pass

    class Error(Exception):  # sqlalchemy.dialects.postgresql.asyncpg.Error, the adapter's
        pass

    def wrapped() -> None:
        try:
            raise ConnectionDoesNotExistError("connection was closed in the middle of operation")
        except ConnectionDoesNotExistError as exc:
            raise Error("connection was closed in the middle of operation") from exc

    with pytest.raises(Error) as caught:
        wrapped()
    assert unavailable(sa_exc.DBAPIError("SELECT 1", {}, caught.value))
    assert not unavailable(sa_exc.DBAPIError("SELECT 1", {}, Error("syntax error at or near")))
