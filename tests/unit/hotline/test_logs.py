"""A malformed request's parser traceback becomes one warning line and a count."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import BadHttpMessage

from hotline.guard import REFUSED
from hotline.logs import JsonFormatter, MalformedRequests


def test_a_bad_http_message_is_logged_as_one_warning_without_traceback() -> None:
    before = REFUSED.labels("http", "malformed")._value.get()
    try:
        raise BadHttpMessage("Invalid header value char:\n\n  b'X: \\x00'")
    except BadHttpMessage as exc:
        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, "", 0, "Error handling request", (), (type(exc), exc, exc.__traceback__)
        )
    assert MalformedRequests().filter(record)
    line = JsonFormatter().format(record)
    assert '"level": "warning"' in line and "Traceback" not in line and "Invalid header value char" in line
    assert REFUSED.labels("http", "malformed")._value.get() == before + 1


def test_other_errors_keep_their_traceback() -> None:
    try:
        raise RuntimeError("a real bug")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, "", 0, "boom", (), (type(exc), exc, exc.__traceback__)
        )
    assert MalformedRequests().filter(record)
    assert "Traceback" in JsonFormatter().format(record)
