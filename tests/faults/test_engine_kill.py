"""The faults tier: a real ``hotline run`` killed with SIGKILL (no shutdown code runs) and started
again on the same database. Every web chat a citizen started, waiting or already with a seat,
must reach a seat exactly once afterwards, oldest first, at its original place in time.

Calls, call-backs and chats together across one kill, on the sandbox Asterisk and PostgreSQL:
``test_engine_kill_scene.py``; this test needs no Asterisk."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from tests.faults.peers import Peer, seat, take_offers
from tests.security.engine import running_engine

pytestmark = pytest.mark.integration
ENV = {"HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}
ACCOUNTS: list[tuple[str, str, str | None]] = [
    ("seat1", "seat", None),
    ("seat2", "seat", None),
    ("sup1", "supervisor", None),
]


FIGURES = ("offered", "answered", "abandoned", "internet_rate_today")


def internet_figures(board: dict[str, Any]) -> dict[str, Any]:
    assert board["ok"], board
    return next(q for q in board["queues"] if q["queue"] == "internet")


@pytest.fixture
async def engine(db_url, tmp_path):  # type: ignore[no-untyped-def]
    """On its own SQLite file and on a fresh PostgreSQL database."""
    url = "" if db_url.startswith("sqlite") else db_url
    async with running_engine(tmp_path, ENV, ACCOUNTS, database_url=url) as e:
        yield e


async def test_chats_waiting_and_with_a_seat_survive_a_kill_9_and_reach_seats_once_oldest_first(engine):
    async with aiohttp.ClientSession() as http:
        console = await seat(engine, http, "seat1")
        citizens: list[Peer] = []
        tokens: list[str] = []
        contacts: list[str] = []
        first_at = 0.0
        for n in range(6):
            citizen = await Peer.open(engine, "/visitor", f"198.51.100.{n + 10}")
            hello = await citizen.call("hello")
            assert hello["ok"], hello
            ack = await citizen.call("message", {"text": f"第{n}位市民：小区路灯不亮"})
            assert ack["ok"], ack
            if n == 2:  # the first of those who will wait (the two before it are answered)
                first_at = time.time()
            citizens.append(citizen)
            tokens.append(hello["token"])
            contacts.append(f"webchat-{ack['conversation']}")
            if n < 2:  # the first two are answered before the kill ...
                assert await take_offers(console, 1) == [contacts[n]]
                await citizen.next("assigned")
            if n == 1:  # ... then the only seat pauses: the other four wait
                assert (await console.call("not_ready", {"reason": "培训"}))["ok"]
        waiting = [(await c.call("hello"))["queue"]["position"] for c in citizens[2:]]
        assert waiting == [1, 2, 3, 4]
        ack = await console.call("chat_send", {"contact_id": contacts[0], "text": "您好，请讲"})
        assert ack["ok"], ack
        await asyncio.sleep(1.5)  # the figures are kept once a second
        sup = await Peer.open(engine, "/supervisor", "127.0.0.1", {"token": await engine.login(http, "sup1")})
        before = internet_figures(await sup.call("board"))
        assert (before["offered"], before["answered"], before["abandoned"]) == (6, 2, 0)
        await sup.sio.disconnect()
        for peer in [console, *citizens]:
            await peer.sio.disconnect()

        engine.kill9()
        await engine.restart()

        # The citizens' pages reconnect: the four waited for on at their places, oldest first; the
        # two a seat held are still that seat's; every conversation and message is kept.
        back = [
            await Peer.open(engine, "/visitor", f"198.51.100.{n + 10}", {"visitor": t}) for n, t in enumerate(tokens)
        ]
        hellos = [await c.call("hello") for c in back]
        assert [f"webchat-{h['conversation']['id']}" for h in hellos] == contacts
        assert [h["conversation"]["state"] for h in hellos] == ["assigned"] * 2 + ["queued"] * 4
        assert [h["conversation"]["seat"] for h in hellos[:2]] == ["seat1", "seat1"]
        assert [h["queue"] and h["queue"]["position"] for h in hellos] == [None, None, 1, 2, 3, 4]
        assert [m["text"] for m in hellos[3]["conversation"]["messages"]] == ["第3位市民：小区路灯不亮"]
        # The board counts their wait from the first message, not from the restart.
        sup = await Peer.open(engine, "/supervisor", "127.0.0.1", {"token": await engine.login(http, "sup1")})
        board = await sup.call("board")
        internet = internet_figures(board)
        assert internet["waiting"] == 4
        # (2 s of slack: the board's figure is a moment old; counted from the restart it would be
        # shorter by the kill, the restart and the wait for the figures, several seconds.)
        assert internet["longest_wait_s"] >= time.time() - first_at - 2.0
        # The day's figures are those before the kill: nobody is counted twice or lost.
        assert {k: internet[k] for k in FIGURES} == {k: before[k] for k in FIGURES}

        # Seats sign in again: seat1 has its two chats back at once (not offered again) and room for
        # one more; the four waiting are offered once each, oldest first.
        first = await seat(engine, http, "seat1")
        state = await first.call("state")
        assert state["chats"] == contacts[:2], state
        assert await take_offers(first, 1) == contacts[2:3]
        second = await seat(engine, http, "seat2")
        assert await take_offers(second, 3) == contacts[3:]
        ack = await first.call("chat_send", {"contact_id": contacts[0], "text": "您好，路灯已报修"})
        assert ack["ok"], ack
        reply = await back[0].next("message", where=lambda d: d.get("text") == "您好，路灯已报修")
        assert f"webchat-{reply['conversation']}" == contacts[0]
        await asyncio.sleep(1.0)
        assert first.pending("offer") == [] and second.pending("offer") == []  # none offered twice
        after = internet_figures(await sup.call("board"))
        # Six citizens, each counted once as offered and once as answered, across the kill.
        assert (after["waiting"], after["offered"], after["answered"], after["abandoned"]) == (0, 6, 6, 0)
        assert after["internet_rate_today"] == before["internet_rate_today"]  # the one reply before the kill
        for peer in [first, second, sup, *back]:
            await peer.sio.disconnect()
