"""The faults tier: PostgreSQL stops answering a real ``hotline run`` (its connections cut, new
ones refused: what a restart or a cut network looks like from the engine) while citizens and a
seat chat. A short outage costs nobody anything but a delay; a long one tells each sender to
send again (the widget keeps the text) and refuses new chats clearly; the engine stays up and
serves what it holds in memory; afterwards every message acknowledged is stored exactly once and
reached the other side, and nothing refused is stored. One log line per outage and back.

The database is the machine's PostgreSQL behind a TCP relay of the test's own that can cut it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import aiohttp
import asyncpg
import pytest

from bench._faults import Relay
from tests.faults.peers import Peer, seat, take_offers
from tests.security.engine import running_engine

pytestmark = pytest.mark.integration
ENV = {"HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}
ACCOUNTS: list[tuple[str, str, str | None]] = [("seat1", "seat", None)]
BUSY = "系统繁忙，消息暂未发送，请稍后重试"


@pytest.fixture
async def relay(pg_url):  # type: ignore[no-untyped-def]
    host_port = re.search(r"@([^/:]+):(\d+)/", pg_url)
    assert host_port, pg_url
    r = Relay(host_port.group(1), int(host_port.group(2)))
    await r.mend()
    url = pg_url.replace(host_port.group(0), f"@127.0.0.1:{r.port}/")
    yield r, url, pg_url
    if r.server is not None:
        await r.cut()


async def stored(direct_url: str) -> list[tuple[str, str]]:
    """(direction, text) of every chat message in the database, read past the relay."""
    conn = await asyncpg.connect(direct_url.replace("postgresql+asyncpg", "postgresql"), timeout=5)
    try:
        rows = await conn.fetch("SELECT direction, body FROM channel_messages ORDER BY id")
    finally:
        await conn.close()
    return [(r["direction"], json.loads(r["body"]).get("text", "")) for r in rows]


async def send(peer: Peer, event: str, data: dict[str, Any]) -> dict[str, Any]:
    ack: dict[str, Any] = await peer.call(event, data, timeout=15)
    return ack


async def test_postgresql_gone_for_a_moment_then_for_long_loses_and_doubles_nothing(relay, tmp_path):
    net, url, direct = relay
    async with running_engine(tmp_path, ENV, ACCOUNTS, database_url=url) as engine, aiohttp.ClientSession() as http:
        console = await seat(engine, http, "seat1")
        citizen = await Peer.open(engine, "/visitor", "198.51.100.7")
        assert (await citizen.call("hello"))["ok"]
        ack = await citizen.call("message", {"text": "小区路灯不亮"})
        assert ack["ok"], ack
        contact = f"webchat-{ack['conversation']}"
        assert await take_offers(console, 1) == [contact]

        # 1. A moment (a restart): the messages sent meanwhile wait, then go through, once each.
        await net.cut()
        from_citizen = asyncio.ensure_future(send(citizen, "message", {"text": "在人民路口"}))
        from_seat = asyncio.ensure_future(send(console, "chat_send", {"contact_id": contact, "text": "请问具体位置？"}))
        await asyncio.sleep(1.5)
        assert not from_citizen.done() and not from_seat.done()  # held, not refused
        await net.mend()
        assert (await from_citizen)["ok"] and (await from_seat)["ok"]
        await console.next("chat_message", where=lambda d: d["message"]["body"]["text"] == "在人民路口")
        await citizen.next("message", where=lambda d: d.get("text") == "请问具体位置？")

        # 2. Long (past the hold): each sender is told to send again; a new chat is refused
        # clearly; the engine stays up and answers from memory.
        await net.cut()
        refused = await send(citizen, "message", {"text": "还在吗"})
        assert refused == {"ok": False, "error": BUSY}
        newcomer = await Peer.open(engine, "/visitor", "198.51.100.8")
        hello = await newcomer.call("hello")
        opened = await send(newcomer, "message", {"text": "我要投诉噪音"})
        assert opened == {"ok": False, "error": BUSY}, (hello, opened)
        reply = await send(console, "chat_send", {"contact_id": contact, "text": "在的"})
        assert reply == {"ok": False, "error": BUSY}
        # the ACD answers from memory: the seat pauses and is ready again
        assert (await console.call("not_ready", {"reason": "培训"}))["ok"]
        assert (await console.call("ready"))["ok"]
        async with http.get(f"{engine.base}/healthz") as r:
            assert r.status == 200
        await net.mend()

        # 3. Back: the senders send again, the newcomer's chat is offered; all goes through.
        assert (await send(citizen, "message", {"text": "还在吗"}))["ok"]
        assert (await send(console, "chat_send", {"contact_id": contact, "text": "在的"}))["ok"]
        again = await send(newcomer, "message", {"text": "我要投诉噪音"})
        assert again["ok"], again
        await console.next("chat_message", where=lambda d: d["message"]["body"]["text"] == "还在吗")
        await citizen.next("message", where=lambda d: d.get("text") == "在的")
        assert await take_offers(console, 1) == [f"webchat-{again['conversation']}"]

        # Exactly the acknowledged messages are stored, once each, in order; none refused is.
        rows = await stored(direct)
        assert rows[0] == ("in", "小区路灯不亮")
        assert sorted(rows[1:3]) == [("in", "在人民路口"), ("out", "请问具体位置？")]  # one transaction
        assert rows[3:] == [("in", "还在吗"), ("out", "在的"), ("in", "我要投诉噪音")]
        assert await engine.metric(http, "hotline_database_up") == 1.0
        assert await engine.metric(http, "hotline_database_unavailable_total", where="chat messages") >= 2
        for peer in (console, citizen, newcomer):
            with contextlib.suppress(Exception):
                await peer.sio.disconnect()

    log = (tmp_path / "engine.log").read_text()
    assert log.count('"database unavailable') == 2, log[-3000:]  # one line per outage ...
    assert log.count('"database back"') == 2, log[-3000:]  # ... and one when it answers again
    assert "Traceback" not in log, log[-3000:]
