"""The AMI adapter's manager: closed means closed (no reconnect loop left behind, no login beside
its successor), and an outage is said once, not at every reconnect attempt."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest

from acd.ami import Ami, AmiDisconnected, _Manager


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_failed_first_connect_leaves_no_manager_reconnecting_behind() -> None:
    port = _free_port()
    ami = Ami("127.0.0.1", port, "u", "p", timeout=1)
    with pytest.raises(AmiDisconnected):
        await ami.connect()
    came: list[int] = []

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        came.append(1)
        w.close()

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        await asyncio.sleep(1.5)  # panoramisk retries after 1 s
    finally:
        server.close()
        await server.wait_closed()
        await ami.close()
    assert came == []


def _failed(loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    f: asyncio.Future[Any] = loop.create_future()
    f.set_exception(ConnectionRefusedError("refused"))
    return f


async def test_an_outage_is_said_once_while_every_attempt_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    manager = _Manager(loop=loop, host="127.0.0.1", port=9, username="u", secret="p", reconnect_timeout=0)
    attempts: list[int] = []
    manager.connect = lambda *_a, **_k: attempts.append(1)
    with caplog.at_level(logging.WARNING, logger="panoramisk.manager"):
        for _ in range(4):
            manager.connection_made(_failed(loop))
        await asyncio.sleep(0.01)
    assert len(attempts) == 4
    assert [r.getMessage() for r in caplog.records].count("Not able to reconnect") == 1


async def test_a_connection_made_after_close_is_closed_at_once() -> None:
    loop = asyncio.get_running_loop()
    manager = _Manager(loop=loop, host="127.0.0.1", port=9, username="u", secret="p")
    manager.close()
    closed: list[bool] = []

    class Transport:
        def close(self) -> None:
            closed.append(True)

    f: asyncio.Future[Any] = loop.create_future()
    f.set_result((Transport(), object()))
    manager.connection_made(f)
    assert closed == [True] and manager.protocol is None
    assert manager.connect() is None
