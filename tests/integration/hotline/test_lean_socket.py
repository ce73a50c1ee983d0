"""The engine's Engine.IO transport (``hotline.sockets.LeanSocket``) against real clients.

The server runs on an event loop of its own (a thread), so that what it costs per packet can be
counted apart from the clients': python-engineio made three tasks per packet received and waited
for each packet sent under ``wait_for``; the lean socket makes none of its own (Socket.IO's one
task per event handler stays). The rest is what must not change: long-polling clients upgrading
to WebSocket (the citizen's widget), dead peers closed by the heartbeat, server-side disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from prometheus_client import REGISTRY

from bench._faults import free_port
from hotline.sockets import GuardedServer, LeanSocket, LocalManager, SocketLimits

pytestmark = pytest.mark.integration


@dataclass
class Served:
    url: str
    sio: GuardedServer
    loop: asyncio.AbstractEventLoop
    tasks_made: list[str] = field(default_factory=list)
    connected: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)

    def call(self, coro: Any, timeout: float = 5.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextlib.contextmanager
def serve(limits: SocketLimits | None = None, **eio: Any) -> Iterator[Served]:
    port = free_port()
    sio = GuardedServer(limits or SocketLimits(), async_mode="aiohttp", client_manager=LocalManager(), **eio)
    loop = asyncio.new_event_loop()
    served = Served(f"http://127.0.0.1:{port}", sio, loop)

    def count(lp: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        served.tasks_made.append(getattr(coro, "__qualname__", "?"))
        return asyncio.Task(coro, loop=lp, **kw)

    @sio.on("connect", namespace="/t")
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        served.connected.append(sid)

    @sio.on("disconnect", namespace="/t")
    async def disconnect(sid: str, reason: Any) -> None:
        served.gone.append(sid)

    @sio.on("echo", namespace="/t")
    async def echo(sid: str, data: Any) -> Any:
        return {"back": data}

    @sio.on("kick", namespace="/t")
    async def kick(sid: str, data: Any) -> None:
        await sio.disconnect(sid, namespace="/t")

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.set_task_factory(count)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield served
    finally:
        served.call(sio.shutdown(), timeout=15)
        served.call(runner.cleanup(), timeout=15)
        served.call(_cancel_the_rest(), timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _cancel_the_rest() -> None:
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


async def client(url: str, transports: list[str] | None = None) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    pushed: list[Any] = []
    sio.on("push", lambda data: pushed.append(data), namespace="/t")
    sio.pushed = pushed  # type: ignore[attr-defined]
    await sio.connect(url, namespaces=["/t"], transports=transports or ["websocket"], wait_timeout=5)
    return sio


async def wait_until(check: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within time")


async def test_a_round_trip_costs_the_server_one_task_and_arrives_in_order() -> None:
    with serve() as srv:
        c = await client(srv.url)
        try:
            (sid,) = srv.connected
            eio_sid = srv.sio.manager.eio_sid_from_sid(sid, "/t")
            assert type(srv.sio.eio.sockets[eio_sid]) is LeanSocket
            before = len(srv.tasks_made)
            answers = [await c.call("echo", n, namespace="/t", timeout=5) for n in range(100)]
            made = srv.tasks_made[before:]
            assert answers == [{"back": n} for n in range(100)]
            # One task per event handler (Socket.IO's); before: four per round trip.
            assert len(made) <= 105, sorted(set(made))

            for n in range(200):
                srv.call(srv.sio.emit("push", n, to=sid, namespace="/t"))
            await wait_until(lambda: len(c.pushed) == 200)
            assert c.pushed == list(range(200))
        finally:
            await c.disconnect()
        await wait_until(lambda: srv.gone == [sid] and not srv.sio.eio.sockets)


async def test_a_long_polling_client_moves_to_websocket_and_keeps_talking() -> None:
    with serve() as srv:
        c = await client(srv.url, transports=["polling", "websocket"])
        try:
            await wait_until(lambda: c.transport() == "websocket")
            assert await c.call("echo", "您好", namespace="/t", timeout=5) == {"back": "您好"}
            (sid,) = srv.connected
            srv.call(srv.sio.emit("push", "已受理", to=sid, namespace="/t"))
            await wait_until(lambda: c.pushed == ["已受理"])
        finally:
            await c.disconnect()
        await wait_until(lambda: len(srv.gone) == 1)


@pytest.mark.parametrize("answered", [0, 2])
async def test_a_peer_that_stops_answering_pings_is_closed_by_the_heartbeat(answered: int) -> None:
    """The first ping is the library's; those after a pong are the lean socket's timer."""
    with serve(ping_interval=1, ping_timeout=1) as srv:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(srv.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket") as ws,
        ):
            assert (await ws.receive_str(timeout=5)).startswith("0{")
            await ws.send_str("40/t,")
            assert (await ws.receive_str(timeout=5)).startswith("40/t,")
            seen: list[str] = []
            async with asyncio.timeout(8 + answered):  # a ping each second, its pong due 1 s later
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    seen.append(msg.data)
                    if msg.data == "2" and seen.count("2") <= answered:
                        await ws.send_str("3")
            assert ws.closed and seen.count("2") == answered + 1
        await wait_until(lambda: len(srv.gone) == 1 and not srv.sio.eio.sockets)


async def test_a_server_side_disconnect_ends_the_client_and_forgets_the_socket() -> None:
    with serve() as srv:
        c = await client(srv.url)
        ended = asyncio.Event()
        c.on("disconnect", lambda *a: ended.set(), namespace="/t")
        await c.emit("kick", {}, namespace="/t")
        await asyncio.wait_for(ended.wait(), 5)
        await wait_until(lambda: len(srv.gone) == 1)
        # the engine.io socket follows once the client closes its side
        await c.disconnect()
        await wait_until(lambda: not srv.sio.eio.sockets)


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("hotline_refused_total", {"edge": "socketio", "reason": reason}) or 0.0


async def raw_socket(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A WebSocket that has opened Engine.IO and joined the namespace, as a client would."""
    ws = await http.ws_connect(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str(timeout=5)).startswith("0{")
    await ws.send_str("40/t,")
    assert (await ws.receive_str(timeout=5)).startswith("40/t,")
    return ws


async def test_an_oversized_or_broken_frame_is_refused_aloud_and_other_clients_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = 4096
    with serve(SocketLimits(max_message_bytes=limit, max_text_bytes=limit)) as srv:
        ordinary = await client(srv.url)
        try:
            caplog.set_level(logging.WARNING, logger="hotline.guard")
            too_large, bad = refused("frame_too_large"), refused("bad_packet")
            async with aiohttp.ClientSession() as http:
                big = await raw_socket(http, srv.url)
                await big.send_str('42/t,["echo","' + "x" * limit + '"]')
                msg = await big.receive(timeout=5)
                assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
                await wait_until(lambda: refused("frame_too_large") == too_large + 1)

                garbage = await raw_socket(http, srv.url)
                await garbage.send_str("x not engine.io")
                assert await garbage.receive_str(timeout=5) == "1"  # Engine.IO's CLOSE
                msg = await garbage.receive(timeout=5)
                assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.PROTOCOL_ERROR
                assert msg.extra == "bad_packet"
                await wait_until(lambda: refused("bad_packet") == bad + 1)
                await big.close()
                await garbage.close()

            lines = {r.reason: r for r in caplog.records if r.getMessage() == "refused"}  # type: ignore[attr-defined]
            big_line, bad_line = lines["frame_too_large"], lines["bad_packet"]
            assert (big_line.edge, big_line.remote, big_line.limit) == ("socketio", "127.0.0.1", limit)  # type: ignore[attr-defined]
            assert big_line.size >= limit and big_line.sid  # type: ignore[attr-defined]
            assert (bad_line.size, bad_line.limit, bad_line.remote) == (15, limit, "127.0.0.1")  # type: ignore[attr-defined]
            assert "x not engine.io" in bad_line.detail and bad_line.sid != big_line.sid  # type: ignore[attr-defined]

            # Both refused sockets are gone; the ordinary client on the same server never noticed.
            await wait_until(lambda: len(srv.gone) == 2 and len(srv.sio.eio.sockets) == 1)
            assert await ordinary.call("echo", "您好", namespace="/t", timeout=5) == {"back": "您好"}
        finally:
            await ordinary.disconnect()
