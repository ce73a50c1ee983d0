"""Web gateways (hotline/relay.py): two engine processes in cluster mode on PostgreSQL (one active,
one standby) and two gateway processes holding the sockets, on a Redis of the test's own, behind
a real HAProxy configured by ``hotline cluster haproxy --gateway``: the pages and the API go to the
active engine, the sockets to the gateway the stickiness cookie names.

- A citizen's chat page on gateway 1 and a seat's console on gateway 2 talk to each other: every
  event goes through the gateway to the active engine, every message back through Redis to the
  gateway holding the socket; the supervisor's board works from a gateway too.
- ``kill -9`` of the active engine: the standby takes over; the gateways see the new engine and
  connect their sockets on it again; neither the page nor the console reconnects (same socket
  ids, no disconnect): the citizen's next message reaches the seat, the seat's reply the citizen.
- A gateway killed: the engine disconnects its sockets once the gateway falls silent (the seat's
  console is gone: past the grace period the seat is set not ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from bench._faults import PrivateRedis
from bench._haproxy import configuration, running, until_checked
from tests.faults.peers import Peer
from tests.faults.test_engine_kill_scene import until
from tests.integration.hotline.test_cluster_cli import hotline, last_json
from tests.security.engine import RunningEngine, free_port, running_engine

pytestmark = pytest.mark.integration
SECRET = "relay-test-secret-0123456789"


@dataclass
class Site:
    engines: list[RunningEngine]
    gateways: list[RunningEngine]
    front: RunningEngine  # HAProxy: the pages and the API to the active engine, sockets to a gateway

    async def open(self, ns: str, gateway: str, auth: dict[str, str] | None = None) -> Peer:
        """A socket through HAProxy, to the gateway named by the stickiness cookie it sets."""
        peer = Peer(ns)
        await peer.sio.connect(
            self.front.base,
            namespaces=[ns],
            auth=auth,
            transports=["websocket"],
            headers={"Cookie": f"HLGW={gateway}"},
            wait_timeout=5,
        )
        return peer


async def active(http: aiohttp.ClientSession, engine: RunningEngine) -> bool:
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with http.get(f"{engine.base}/cluster/active", timeout=aiohttp.ClientTimeout(total=1)) as r:
            return r.status == 200
    return False


@contextlib.asynccontextmanager
async def site(pg_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    redis = PrivateRedis(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    redis.start()
    common = {
        "REDIS_URL": redis.url,
        "HOTLINE_SECRET_KEY": "gateway-test-secret-0123456789abcdef",
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        "HOTLINE_CLUSTER__RELAY_SECRET": SECRET,
        "HOTLINE_CLUSTER__GATEWAY_SILENT_S": "2",
        "HOTLINE_CONSOLE__GRACE_S": "1",
    }
    accounts = [("seat1", "seat", None), ("sup1", "supervisor", None)]
    for name in ("a", "b", "g1", "g2"):
        (tmp_path / name).mkdir()
    try:
        async with contextlib.AsyncExitStack() as stack:
            engines = []
            for n, name in enumerate(("a", "b")):
                env = {**common, "HOTLINE_CLUSTER__ENABLED": "true", "HOTLINE_CLUSTER__NODE": f"engine-{name}"}
                engine = await stack.enter_async_context(
                    running_engine(tmp_path / name, env, accounts if n == 0 else [], pg_url)
                )
                engines.append(engine)
                if n == 0:
                    async with aiohttp.ClientSession() as http:
                        await until(lambda e=engine: active(http, e), 60, "engine a active")
            gateways = []
            for name in ("g1", "g2"):
                env = {
                    **common,
                    "HOTLINE_CLUSTER__ROLE": "gateway",
                    "HOTLINE_CLUSTER__NODE": name,
                    "HOTLINE_CLUSTER__ENGINES": json.dumps([e.base for e in engines]),
                }
                gateways.append(await stack.enter_async_context(running_engine(tmp_path / name, env, [], pg_url)))
            listen, stats = free_port(), f"127.0.0.1:{free_port()}"
            config = configuration(
                *("--listen", f"127.0.0.1:{listen}", "--stats", stats),
                *(a for n, e in zip("ab", engines, strict=True) for a in ("--engine", f"{n}={e.base[7:]}")),
                *(a for n, g in zip(("g1", "g2"), gateways, strict=True) for a in ("--gateway", f"{n}={g.base[7:]}")),
            )
            stack.enter_context(running(tmp_path, config))
            async with aiohttp.ClientSession() as http:
                await until_checked(http, stats, {"a"})
                await until_checked(http, stats, {"g1", "g2"}, backend="gateways")
            front = dataclasses.replace(engines[0], base=f"http://127.0.0.1:{listen}")
            yield Site(engines, gateways, front)
    finally:
        redis.stop()


async def console(site: Site, http: aiohttp.ClientSession, gateway: str) -> Peer:
    token = await site.front.login(http, "seat1")  # the API: through HAProxy to the active engine
    peer = await site.open("/agent", gateway, {"token": token})
    ack = await peer.call("login", {"phone": "external", "ready": True})
    assert ack["ok"], ack
    return peer


async def metric(http: aiohttp.ClientSession, process: RunningEngine, name: str, **labels: str) -> float:
    return await process.metric(http, name, **labels)


async def test_a_visitor_on_one_gateway_chats_with_a_seat_on_another_across_a_kill_9_of_the_engine(
    pg_url: str, tmp_path: Path
) -> None:
    async with site(pg_url, tmp_path) as s, aiohttp.ClientSession() as http:
        g1, g2 = s.gateways
        seat = await console(s, http, "g2")
        citizen = await s.open("/visitor", "g1")
        hello = await citizen.call("hello")
        assert hello["ok"] and hello["open"], hello
        ack = await citizen.call("message", {"text": "小区路灯不亮", "cid": "msg-0001"})
        assert ack["ok"], ack
        contact = f"webchat-{ack['conversation']}"
        offer = await seat.next("offer", timeout=10)
        assert offer["contact_id"] == contact
        assert (await seat.call("accept", {"contact_id": contact}))["ok"]
        await citizen.next("assigned", timeout=5)
        assert (await seat.call("chat_send", {"contact_id": contact, "text": "您好，请讲"}))["ok"]
        reply = await citizen.next("message", where=lambda d: d.get("text") == "您好，请讲")
        assert reply["conversation"] == ack["conversation"]
        # The supervisor's board, through a gateway as well: one internet contact, answered.
        sup = await s.open("/supervisor", "g1", {"token": await s.front.login(http, "sup1")})
        board = await sup.call("board")
        assert board["ok"], board
        assert [row["chats"] for row in board["seats"] if row["seat"] == "seat1"] == [[contact]], board["seats"]

        # `hotline cluster status` names the gateways relaying to the active engine and their sockets.
        async def gateways_shown() -> Any:
            out = await hotline(tmp_path, "cluster", "status", "--json", url=pg_url)
            found = last_json(out)
            active = [m for m in found["members"] if m["active"]]
            shown = {g["gateway"].split("/")[0]: g["sockets"] for g in active[0]["gateways"]} if active else {}
            return shown if shown == {"g1": 2, "g2": 1} else None

        await until(gateways_shown, 10, "the gateways in hotline cluster status")
        text = (await hotline(tmp_path, "cluster", "status", url=pg_url)).stdout
        assert "web gateways 网关 relaying to engine-a:" in text and " 2 sockets" in text, text

        sids = (seat.sio.get_sid("/agent"), citizen.sio.get_sid("/visitor"), sup.sio.get_sid("/supervisor"))
        s.engines[0].kill9()
        await until(lambda: active(http, s.engines[1]), 10, "engine b active")

        # Nothing reconnected: the same sockets; each page is told to read again what it shows,
        # and the console does what its page does (console.js): signed out here, it signs in again.
        for peer in (seat, citizen, sup):
            await peer.next("resync", timeout=10)
        assert (seat.sio.get_sid("/agent"), citizen.sio.get_sid("/visitor"), sup.sio.get_sid("/supervisor")) == sids
        assert "disconnect" not in seat.seen + citizen.seen + sup.seen
        state = await seat.call("state")
        assert state["ok"] and not state["logged_in"], state  # the new engine has the seat signed out
        again = await seat.call("login", {"phone": "external", "ready": True})
        assert again["ok"] and again["chats"] == [contact], again  # and its chat back at once

        async def said() -> Any:
            ack = await citizen.call("message", {"text": "路灯在3号楼", "cid": "msg-0002"})
            return ack if ack["ok"] else None

        ack2 = await until(said, 10, "the citizen's message taken by the new engine")
        assert ack2["conversation"] == ack["conversation"]
        got = await seat.next("chat_message", timeout=10, where=lambda d: d["message"]["body"]["text"] == "路灯在3号楼")
        assert got["contact_id"] == contact
        assert (await seat.call("chat_send", {"contact_id": contact, "text": "已派单处理"}))["ok"]
        await citizen.next("message", where=lambda d: d.get("text") == "已派单处理")
        state = await seat.call("state")
        assert state["ok"] and state["chats"] == [contact], state
        board = await sup.call("board")
        assert board["ok"], board
        # Each gateway connected its sockets again on the new engine, and only once each.
        assert await metric(http, g1, "hotline_relay_replayed_total") == 2  # the page and the board
        assert await metric(http, g2, "hotline_relay_replayed_total") == 1  # the console
        history = await citizen.call("hello")
        texts = [m["text"] for m in history["conversation"]["messages"]]
        assert texts == ["小区路灯不亮", "您好，请讲", "路灯在3号楼", "已派单处理"], texts  # none lost or doubled

        # A gateway killed: once it falls silent, the engine lets go of its sockets; the seat's
        # console was there: past the grace period the seat is shown offline and set not ready.
        g2.kill9()

        async def seat_away() -> Any:
            board = await sup.call("board")
            row = [r for r in board["seats"] if r["seat"] == "seat1"]
            # Busy with its chat, it is set not ready once that ends: no new contact meanwhile.
            return row and row[0]["online"] == "offline" and row[0]["pending"] == "disconnected"

        await until(seat_away, 10, "the seat set not ready after its gateway died")
        assert await metric(http, s.engines[1], "hotline_relay_swept_total") == 1
        for peer in (citizen, sup):
            await peer.sio.disconnect()


async def test_the_relay_refuses_strangers_and_a_gateway_without_engines_says_busy(pg_url: str, tmp_path: Path) -> None:
    async with site(pg_url, tmp_path) as s, aiohttp.ClientSession() as http:
        engine = s.engines[0]
        msg = {"kind": "event", "gateway": "x", "ns": "/visitor", "sid": "abc", "event": "hello", "args": [{}]}
        async with http.post(f"{engine.base}/cluster/relay", json=msg) as r:
            assert r.status == 403  # no secret
        async with http.post(f"{engine.base}/cluster/relay", json=msg, headers={"X-Hotline-Relay": "wrong"}) as r:
            assert r.status == 403
        assert await engine.metric(http, "hotline_refused_total", edge="relay", reason="secret") == 2
        good = {"X-Hotline-Relay": SECRET}
        async with http.post(f"{engine.base}/cluster/relay", json=msg, headers=good) as r:
            assert r.status == 409  # a socket it never saw connect: not run
        async with http.post(f"{engine.base}/cluster/relay", data=b"[1,2", headers=good) as r:
            assert r.status == 400
        async with http.post(f"{engine.base}/cluster/relay", json={**msg, "ns": "/nope"}, headers=good) as r:
            assert r.status == 400
        # The standby takes no relay (the load balancer's and the gateways' cue to try the other).
        async with http.post(f"{s.engines[1].base}/cluster/relay", json=msg, headers=good) as r:
            assert r.status == 503
        # A gateway answers only Socket.IO; its pages are the engine's.
        async with http.get(f"{s.gateways[0].base}/console/") as r:
            assert r.status == 404
        # One page's burst of events is bounded on its gateway (each would hold a connection to the
        # engine that the gateway's other sockets need): past 8 on the way, refused at once.
        greedy = await s.open("/visitor", "g1")
        acks = await asyncio.gather(*(greedy.call("hello") for _ in range(40)))
        refused = [a for a in acks if not a["ok"]]
        assert refused and all(a["error"] == "请求过于频繁，请稍后再试" for a in refused), acks
        assert len(refused) <= 32
        assert await s.gateways[0].metric(http, "hotline_refused_total", edge="relay", reason="inflight") == len(
            refused
        )
        assert (await greedy.call("hello"))["ok"]  # and the page goes on once its burst is answered
        await greedy.sio.disconnect()
        # With both engines gone, a page's connection is refused with a clear reason (not a hang).
        for e in s.engines:
            e.kill9()
        citizen = Peer("/visitor")
        started = time.monotonic()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await citizen.sio.connect(
                s.gateways[0].base, namespaces=["/visitor"], transports=["websocket"], wait_timeout=15
            )
        assert time.monotonic() - started < 12  # relay_wait_s (5 s) and the answer
        reason = citizen.events["connect_error"].get_nowait()
        assert "系统繁忙" in str(reason), reason
