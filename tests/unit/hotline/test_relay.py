"""The relay between web gateways and the engine (hotline/relay.py): what goes on the wire, the
engine's table of gateways' sockets, and the engine's Socket.IO server acting on those sockets as
on its own (sessions and rooms) while a real namespace handles their events."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from hotline.relay import RELAY_PATH, SECRET_HEADER, RemoteSockets, install_engine, pack, unpack
from hotline.settings import ClusterSettings
from hotline.sockets import SocketLimits, make_server

SECRET = "unit-relay-secret-0123456789"


def test_a_picture_crosses_as_base64_and_comes_back_as_bytes() -> None:
    args = [{"name": "灯.png", "data": b"\x89PNG\r\n\x1a\n\x00\xff"}]
    body = orjson.loads(orjson.dumps(pack(args)))
    assert body["args"] == [{"name": "灯.png", "data": {"_placeholder": True, "num": 0}}]
    assert body["attachments"] == [base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff").decode()]
    assert unpack(body) == args
    assert pack([{"text": "你好"}]) == {"args": [{"text": "你好"}]}


def test_a_text_events_look_alike_placeholder_stays_a_dict() -> None:
    # As in Socket.IO: a placeholder is read only in a packet that came with attachments.
    looks = [{"data": {"_placeholder": True, "num": 0}}]
    assert unpack({"args": looks}) == looks
    with pytest.raises(ValueError):
        unpack({"args": "not a list"})
    with pytest.raises(ValueError):
        unpack({"args": [], "attachments": [1]})


def test_sockets_of_a_silent_gateway_are_given_up_and_only_theirs() -> None:
    now = [100.0]
    remote = RemoteSockets(silent_s=5.0, clock=lambda: now[0])
    remote.add("/agent", "s1", "g1")
    remote.add("/visitor", "s2", "g1")
    remote.add("/visitor", "s3", "g2")
    remote.heard.update({"g1": 100.0, "g2": 100.0})
    now[0] = 104.0
    remote.heard["g2"] = 104.0
    assert remote.silent() == []
    now[0] = 105.5
    assert sorted(remote.silent()) == [("/agent", "s1"), ("/visitor", "s2")]
    assert "g1" not in remote.heard and remote.count("g2") == 1
    assert remote.silent() == []  # said once
    remote.drop("/agent", "s1")
    remote.drop("/agent", "s1")  # twice: counted once
    remote.add("/visitor", "s3", "g2")  # connected again: still one
    assert remote.count("g1") == 1 and remote.count("g2") == 1 and remote.count("g3") == 0
    remote.drop("/visitor", "s2")
    assert "g1" not in remote.per_gateway


def test_settings_refuse_a_short_secret_a_bad_engine_and_a_sweep_shorter_than_three_beats() -> None:
    ClusterSettings(role="gateway", engines=["http://10.0.0.11:8345"], relay_secret=SECRET)
    for bad in (
        {"relay_secret": "short"},
        {"engines": ["10.0.0.11:8345"]},
        {"gateway_beat_s": 1.0, "gateway_silent_s": 2.0},
        {"role": "router"},
    ):
        with pytest.raises(ValidationError):
            ClusterSettings(**bad)  # type: ignore[arg-type]


class Desk(socketio.AsyncNamespace):  # type: ignore[misc]
    """A namespace written for local sockets only: it keeps a session, enters rooms, reads them."""

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != "ok":
            raise socketio.exceptions.ConnectionRefusedError("请先登录")
        if auth.get("slow"):  # a connect that waits on something (the database) before its session
            await self.gate.wait()
        await self.save_session(sid, {"user": auth["user"], "remote": environ.get("hotline.remote"), "n": 0})
        await self.enter_room(sid, f"seat:{auth['user']}")

    async def on_count(self, sid: str, data: Any = None) -> dict[str, Any]:
        session = await self.get_session(sid)
        session["n"] += 1
        await self.save_session(sid, session)
        return {"user": session["user"], "n": session["n"], "rooms": sorted(self.rooms(sid))}

    async def on_move(self, sid: str, data: Any = None) -> dict[str, Any]:
        await self.leave_room(sid, "seat:u1")
        await self.enter_room(sid, "queue:q2")
        return {"rooms": sorted(self.rooms(sid))}

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.gone.append((sid, reason))

    gone: list[Any] = []
    gate = asyncio.Event()


async def test_the_engine_runs_a_gateways_socket_through_its_own_namespace() -> None:
    sio = make_server(SocketLimits())
    app = web.Application()
    sio.attach(app)
    desk = Desk("/desk")
    sio.register_namespace(desk)
    install_engine(app, sio, SECRET, 5.0, lambda: 7)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:

        async def post(msg: dict[str, Any], secret: str = SECRET) -> tuple[int, dict[str, Any]]:
            resp = await client.post(RELAY_PATH, data=orjson.dumps(msg), headers={SECRET_HEADER: secret})
            return resp.status, await resp.json()

        base = {"gateway": "g1", "ns": "/desk", "sid": "abc"}
        assert (await post({**base, "kind": "connect", "auth": {"token": "no"}}))[1]["refused"] == {
            "message": "请先登录"
        }
        assert sio.remote is not None and sio.remote.get("/desk", "abc") is None
        environ = {"hotline.remote": "198.51.100.9", "HTTP_X_EVIL": "x"}
        status, out = await post({**base, "kind": "connect", "auth": {"token": "ok", "user": "u1"}, "environ": environ})
        assert status == 200 and out["connected"] and out["epoch"] == 7
        assert out["session"] == {"user": "u1", "remote": "198.51.100.9", "n": 0}  # only the kept keys came
        status, out = await post({**base, "kind": "event", "event": "count", "args": [{}]})
        assert out["ack"] == {"user": "u1", "n": 1, "rooms": ["abc", "seat:u1"]}
        status, out = await post({**base, "kind": "event", "event": "count", "args": [{}]})
        assert out["ack"]["n"] == 2 and out["session"]["n"] == 2  # the session is kept between events
        status, out = await post({**base, "kind": "event", "event": "move", "args": [{}]})
        assert out["ack"] == {"rooms": ["abc", "queue:q2"]}
        # Connected again (an answer lost on the way): nothing runs twice.
        status, out = await post({**base, "kind": "connect", "auth": {"token": "ok", "user": "u1"}})
        assert out["connected"] and out["session"]["n"] == 2
        # Another engine's session given back on connecting: it goes on from there.
        other = {**base, "sid": "def"}
        status, out = await post(
            {**other, "kind": "connect", "auth": {"token": "ok", "user": "u2"}, "session": {"n": 40}}
        )
        assert out["session"] == {"user": "u2", "remote": None, "n": 40}
        status, out = await post({**base, "kind": "disconnect", "reason": "client"})
        assert status == 200 and desk.gone == [("abc", "client")]
        status, out = await post({**base, "kind": "event", "event": "count", "args": [{}]})
        assert status == 409 and out["unknown"]  # gone: not run
        assert (await post({**base, "kind": "beat"}))[1]["sockets"] == 1  # g1 holds "def" still
        assert (await post({"gateway": "g2", "kind": "beat"}))[1]["sockets"] == 0
        # An event that overtakes its socket's connect (sent by the gateway beside it) waits for it.
        slow = {**base, "sid": "slow"}
        connecting = asyncio.ensure_future(
            post({**slow, "kind": "connect", "auth": {"token": "ok", "user": "u3", "slow": 1}})
        )
        await asyncio.sleep(0.05)
        counting = asyncio.ensure_future(post({**slow, "kind": "event", "event": "count", "args": [{}]}))
        await asyncio.sleep(0.05)
        assert not counting.done()
        desk.gate.set()
        assert (await connecting)[1]["connected"]
        status, out = await counting
        assert status == 200 and out["ack"]["user"] == "u3" and out["ack"]["n"] == 1
        # A census: the gateway names the sockets it holds; one it no longer holds is let go (its
        # disconnect handler runs), one connected within the grace is left alone.
        for sid in ("c1", "c2"):
            await post(
                {"gateway": "g9", "ns": "/desk", "sid": sid, "kind": "connect", "auth": {"token": "ok", "user": sid}}
            )
        later = sio.remote.clock() + 11.0
        sio.remote.clock = lambda: later
        await post(
            {"gateway": "g9", "ns": "/desk", "sid": "c3", "kind": "connect", "auth": {"token": "ok", "user": "c3"}}
        )
        status, out = await post({"gateway": "g9", "kind": "census", "sockets": [["/desk", "c1"]]})
        assert status == 200 and out["dropped"] == 1 and ("c2", "gone from its gateway") in desk.gone
        assert sio.remote.get("/desk", "c1") is not None and sio.remote.get("/desk", "c3") is not None
        assert (await post({"gateway": "g9", "kind": "census", "sockets": "x"}))[1]["dropped"] == 0
        assert (await post({**base, "kind": "beat"}, secret="wrong"))[0] == 403
        assert (await post({**base, "kind": "nonsense"}))[0] == 400
        assert (await post({**base, "kind": "event", "args": "x"}))[0] == 409  # unknown socket first
    finally:
        await client.close()
