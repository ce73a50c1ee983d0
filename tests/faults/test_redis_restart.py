"""The faults tier: the engine's Redis (a private ``redis-server`` of this test, never the shared
one) is killed with SIGKILL in the middle of web chats and started again on the same port a few
seconds later. Redis is a cache and a messenger here, never the only copy: every message both
ways must be stored once and reach its seat or citizen once, the engine must keep answering, and
its log must say in one line each that Redis went away and came back."""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bench._faults import PrivateRedis
from tests.faults.peers import Peer, seat, take_offers
from tests.integration.channels import wechat_kit as kit
from tests.security.engine import RunningEngine, running_engine

pytestmark = pytest.mark.integration
ACCOUNTS: list[tuple[str, str, str | None]] = [("seat1", "seat", None), ("seat2", "seat", None)]
CITIZENS = 4


@pytest.fixture
def redis_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def engine_env(redis_server: PrivateRedis) -> dict[str, str]:
    return {
        "REDIS_URL": redis_server.url,
        # Several engine processes sign and read the same tokens (a citizen's page may reconnect to another).
        "HOTLINE_SECRET_KEY": "redis-restart-test-secret-0123456789",
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        # The test's citizens write faster than a person; the flood limit is not what is tested.
        "HOTLINE_WEBCHAT__FLOOD_RATE": "50",
        "HOTLINE_WEBCHAT__FLOOD_BURST": "50",
        "HOTLINE_WECHAT__TOKEN": kit.TOKEN,
    }


@pytest.fixture
async def engine(pg_url: str, tmp_path: Path, redis_server: PrivateRedis) -> AsyncIterator[RunningEngine]:
    """On a fresh PostgreSQL database (several engine processes share one) and the private Redis."""
    async with running_engine(tmp_path, engine_env(redis_server), ACCOUNTS, database_url=pg_url) as e:
        yield e


class Talk:
    """Every message the test sends, per conversation and direction, to count at the end."""

    def __init__(self) -> None:
        self.sent: dict[tuple[int, str], list[str]] = collections.defaultdict(list)

    async def citizen_writes(self, citizen: Peer, conversation: int, text: str) -> None:
        ack = await citizen.call("message", {"text": text})
        assert ack.get("conversation") == conversation, ack
        self.sent[(conversation, "in")].append(text)

    async def seat_writes(self, console: Peer, conversation: int, text: str) -> None:
        ack = await console.call("chat_send", {"contact_id": f"webchat-{conversation}", "text": text})
        assert ack["ok"], ack
        self.sent[(conversation, "out")].append(text)

    async def round(self, label: str, chats: list[tuple[Peer, Peer, int]]) -> None:
        """Each citizen writes once and each seat answers once, all at the same time."""
        jobs = []
        for citizen, console, conversation in chats:
            jobs.append(self.citizen_writes(citizen, conversation, f"{label}：市民{conversation}的问题"))
            jobs.append(self.seat_writes(console, conversation, f"{label}：座席答复{conversation}"))
        await asyncio.gather(*jobs)


async def offered_to(consoles: list[Peer], timeout: float = 10.0) -> Peer:
    """The console the ACD offered the next chat to (whichever seat it chose)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for console in consoles:
            if not console.events["offer"].empty():
                return console
        await asyncio.sleep(0.05)
    raise AssertionError("no seat was offered the chat")


async def waiting(peer: Peer, event: str, want: int, timeout: float = 20.0) -> None:
    """Until ``want`` of ``event`` wait to be taken (or the wait is over), and half a second more:
    a double has its chance to show."""
    deadline = time.monotonic() + timeout
    while peer.events[event].qsize() < want and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


async def received(peer: Peer, event: str, want: int, timeout: float = 20.0) -> list[Any]:
    """Every ``event`` the peer was sent, once ``want`` of them have come (or the wait is over)."""
    await waiting(peer, event, want, timeout)
    return peer.pending(event)


async def wechat_push(engine: RunningEngine, http: aiohttp.ClientSession, msg_id: int) -> None:
    """A citizen's WeChat message as WeChat's servers push it (and push it again as a retry)."""
    body = kit.text(f"o_citizen_{msg_id}", f"微信留言{msg_id}", msg_id)
    async with http.post(f"{engine.base}/wechat/webhook", params=kit.query(), data=body) as r:
        assert (r.status, await r.text()) == (200, "success")


async def rows(pg_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def logged(engine: RunningEngine, text: str, timeout: float = 20.0) -> str:
    """The engine's log once it holds ``text`` (or the wait is over)."""
    deadline = time.monotonic() + timeout
    while True:
        log = (engine.cwd / "engine.log").read_text()
        if text in log or time.monotonic() > deadline:
            return log
        await asyncio.sleep(0.1)


async def stored(pg_url: str) -> dict[tuple[int, str], list[str]]:
    sql = "SELECT conversation_id, direction, body FROM channel_messages WHERE channel = 'webchat' ORDER BY id"
    out: dict[tuple[int, str], list[str]] = collections.defaultdict(list)
    for row in await rows(pg_url, sql):
        body = row["body"] if isinstance(row["body"], dict) else json.loads(row["body"])
        out[(row["conversation_id"], row["direction"])].append(body["text"])
    return out


async def test_a_redis_killed_mid_chat_and_started_again_loses_and_doubles_no_message(
    engine: RunningEngine, redis_server: PrivateRedis, pg_url: str
) -> None:
    talk = Talk()
    async with aiohttp.ClientSession() as http:
        consoles = [await seat(engine, http, "seat1"), await seat(engine, http, "seat2")]
        chats: list[tuple[Peer, Peer, int]] = []
        for n in range(CITIZENS):
            citizen = await Peer.open(engine, "/visitor", f"198.51.100.{n + 10}")
            assert (await citizen.call("hello"))["ok"]
            ack = await citizen.call("message", {"text": f"第{n}位市民：小区路灯不亮"})
            conversation = int(ack["conversation"])
            talk.sent[(conversation, "in")].append(f"第{n}位市民：小区路灯不亮")
            console = await offered_to(consoles)
            assert await take_offers(console, 1) == [f"webchat-{conversation}"]
            await citizen.next("assigned")
            chats.append((citizen, console, conversation))

        await talk.round("故障前", chats)
        # Redis hangs first (a seat's reply must not wait for it), then dies, for a few seconds.
        redis_server.freeze()
        await wechat_push(engine, http, 7001)
        await talk.round("冻结", chats)
        redis_server.kill9()
        for n in range(2):
            await talk.round(f"断开{n}", chats)
            await asyncio.sleep(1.0)
        await wechat_push(engine, http, 7002)
        async with http.get(f"{engine.base}/healthz") as r:
            assert r.status == 200
        redis_server.start()  # empty: every key the engine kept there is gone
        for n in range(3):
            await asyncio.sleep(1.0)
            await talk.round(f"恢复{n}", chats)
        # WeChat's retries of both pushes: Redis forgot them, the database has them.
        await wechat_push(engine, http, 7001)
        await wechat_push(engine, http, 7002)

        # Storage: every message sent, once, in its own conversation and direction.
        assert await stored(pg_url) == talk.sent
        wechat = await rows(pg_url, "SELECT dedup_key FROM channel_messages WHERE channel = 'wechat' ORDER BY id")
        assert [r["dedup_key"] for r in wechat] == ["msg:7001", "msg:7002"]
        # Delivery: each citizen got each of its seat's answers once, each seat each citizen's
        # message once (the first came with the offer, before the seat held the chat).
        for citizen, _console, conversation in chats:
            want = talk.sent[(conversation, "out")]
            got = [m.get("text") for m in await received(citizen, "message", len(want))]
            assert collections.Counter(got) == collections.Counter(want), conversation
        for console in consoles:
            mine = [c for _, k, c in chats if k is console]
            want = [t for c in mine for t in talk.sent[(c, "in")][1:]]
            got = [m["message"]["body"]["text"] for m in await received(console, "chat_message", len(want))]
            assert collections.Counter(got) == collections.Counter(want)

        # The engine stayed up and said what happened: one line when Redis went, one when it came back.
        assert engine.proc.poll() is None
        async with http.get(f"{engine.base}/healthz") as r:
            assert r.status == 200
        log = await logged(engine, "redis back")
        about_redis = [line for line in log.splitlines() if "redis" in line.lower()]
        assert len(about_redis) == 2, "\n".join(about_redis[:20])
        assert "redis unavailable" in about_redis[0] and "redis back" in about_redis[1]
        assert "Traceback" not in log, log[-3000:]
        assert await engine.metric(http, "hotline_redis_down") == 0
        assert await engine.metric(http, "hotline_redis_errors_total", use="subscribe") >= 1
        assert await engine.metric(http, "hotline_redis_unshared_emits_total") >= 1
        for peer in [*consoles, *(c for c, _, _ in chats)]:
            await peer.sio.disconnect()


async def test_a_chat_whose_seat_and_citizen_are_on_two_engines_catches_up_after_redis_comes_back(
    engine: RunningEngine, redis_server: PrivateRedis, pg_url: str, tmp_path: Path
) -> None:
    """The seat on one engine, the citizen's page reconnected to another: what each writes reaches
    the other only through Redis. Emits published while Redis is away are gone (nothing keeps them);
    when it is back every page is told ``resync`` and reads again what it shows, as the widget
    (``hello``) and the console (``chat_history``) do. Nothing lost, nothing shown twice."""
    (tmp_path / "b").mkdir()
    second = running_engine(tmp_path / "b", engine_env(redis_server), [], database_url=pg_url)
    async with second as other, aiohttp.ClientSession() as http:
        console = await seat(engine, http, "seat1")
        citizen = await Peer.open(engine, "/visitor", "198.51.100.7")
        token = (await citizen.call("hello"))["token"]
        ack = await citizen.call("message", {"text": "你好，我家门口的井盖丢了"})
        conversation, contact = int(ack["conversation"]), f"webchat-{ack['conversation']}"
        assert await take_offers(console, 1) == [contact]
        await citizen.sio.disconnect()
        citizen = await Peer.open(other, "/visitor", "198.51.100.7", {"visitor": token})
        assert (await citizen.call("hello"))["conversation"]["state"] == "assigned"

        shown_to_citizen: dict[int, str] = {}  # what the page shows: message id -> text
        shown_to_seat: dict[int, str] = {}
        live_to_citizen: list[int] = []
        live_to_seat: list[int] = []
        sent: dict[str, list[str]] = {"in": [], "out": []}

        async def exchange(label: str) -> None:
            ack = await console.call("chat_send", {"contact_id": contact, "text": f"{label}：座席"})
            assert ack["ok"], ack
            sent["out"].append(f"{label}：座席")
            ack = await citizen.call("message", {"text": f"{label}：市民"})
            assert ack.get("conversation") == conversation, ack
            sent["in"].append(f"{label}：市民")

        def take_live() -> None:
            for m in citizen.pending("message"):
                live_to_citizen.append(int(m["id"]))
                shown_to_citizen[int(m["id"])] = m["text"]
            for m in console.pending("chat_message"):
                live_to_seat.append(int(m["message"]["id"]))
                shown_to_seat[int(m["message"]["id"])] = m["message"]["body"]["text"]

        async def catch_up() -> None:
            """What the widget and the console do on ``resync``."""
            hello = await citizen.call("hello")
            for m in hello["conversation"]["messages"]:
                if m["direction"] == "out":
                    shown_to_citizen[int(m["id"])] = m["text"]
            history = await console.call("chat_history", {"contact_id": contact})
            for m in history["messages"]:
                if m["direction"] == "in":
                    shown_to_seat[int(m["id"])] = m["body"]["text"]

        await exchange("之前")
        await waiting(citizen, "message", 1)
        redis_server.kill9()
        for n in range(2):
            await exchange(f"断开{n}")
            await asyncio.sleep(0.5)
        take_live()
        redis_server.start()
        # Both pages are told to read again (each engine subscribes again and says so).
        for peer in (citizen, console):
            try:
                await peer.next("resync", timeout=20)
            except TimeoutError:
                pytest.fail(f"{peer.ns} was never told to read again: what Redis dropped stays unseen")
        take_live()
        await catch_up()
        await exchange("之后")
        await waiting(citizen, "message", 1)
        await waiting(console, "chat_message", 1)
        take_live()

        # Every message shown once at its other end: live, or read again after the gap.
        assert sorted(shown_to_citizen.values()) == sorted(sent["out"])
        assert sorted(shown_to_seat.values()) == sorted(["你好，我家门口的井盖丢了", *sent["in"]])
        # No live message came twice, and the outage's were not all live (the gap was real).
        assert len(live_to_citizen) == len(set(live_to_citizen))
        assert len(live_to_seat) == len(set(live_to_seat))
        assert len(live_to_citizen) < len(sent["out"]), "every reply went live: Redis was not away"
        stored_texts = await stored(pg_url)
        assert stored_texts[(conversation, "out")] == sent["out"]
        assert stored_texts[(conversation, "in")] == ["你好，我家门口的井盖丢了", *sent["in"]]
        for peer in (console, citizen):
            await peer.sio.disconnect()
