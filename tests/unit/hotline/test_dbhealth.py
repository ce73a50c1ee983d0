"""Which database failures are an outage (held and tried again) and which are errors to report."""

from __future__ import annotations

import sqlite3

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
