"""Item 1 of the hold-the-line issue against a real ``hotline run``: the Socket.IO edge refuses
attachment bombs, unannounced or misplaced binary frames, floods of bytes and of connections,
disconnecting only the offender, and the engine's memory stays put."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.security.engine import running_engine

pytestmark = pytest.mark.integration
ENV = {
    "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
    "HOTLINE_SECURITY__SOCKET_BYTES_PER_MINUTE": str(2 * 1024 * 1024),
    "HOTLINE_SECURITY__SOCKET_CONNECTIONS_PER_ADDRESS": "5",
}


@pytest.fixture
async def engine(tmp_path):  # type: ignore[no-untyped-def]
    async with running_engine(tmp_path, ENV, []) as e:
        yield e


class Raw:
    """One engine.io v4 websocket, spoken by hand (the attacker's side of the protocol)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, base: str, address: str) -> Raw:
        url = base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        ws = await http.ws_connect(url, headers={"X-Forwarded-For": address}, max_msg_size=0)
        first = await ws.receive(timeout=5)
        assert first.type == aiohttp.WSMsgType.TEXT and first.data.startswith("0"), first
        await ws.send_str("40/visitor,")
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith("40/visitor"):
                return cls(ws)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg

    async def closed(self, timeout: float = 5) -> bool:
        """True once the server has closed this connection (answering its pings meanwhile)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    msg = await self.ws.receive()
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        return True
                    if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "1":  # engine.io's own close
                        return True
                    if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "2":
                        await self.ws.send_str("3")
        except TimeoutError:
            return False

    async def hello_works(self) -> bool:
        await self.ws.send_str('42/visitor,7["hello",{}]')
        async with asyncio.timeout(5):
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return False
                if msg.data.startswith("43/visitor,7"):
                    return True


async def test_an_attachment_bomb_disconnects_only_its_sender_and_costs_no_memory(engine):
    async with aiohttp.ClientSession() as http:
        bystander = await Raw.open(http, engine.base, "198.51.100.1")
        rss = engine.rss_mib()
        for n in range(4):
            bomb = await Raw.open(http, engine.base, f"203.0.113.{n}")
            await bomb.ws.send_str('451000000-/visitor,["image",{"_placeholder":true,"num":0}]')
            for _ in range(3):  # it would go on streaming 2 MB frames
                if bomb.ws.closed:
                    break
                try:
                    await bomb.ws.send_bytes(b"\x00" * 2_000_000)
                except (ConnectionError, RuntimeError):
                    break
            assert await bomb.closed()
        assert engine.rss_mib() - rss < 30
        assert await bystander.hello_works()
        refused = await engine.metric(http, "hotline_refused_total", edge="socketio", reason="attachments")
        assert refused == 4


async def test_binary_frames_only_where_a_picture_is_expected_and_one_at_a_time(engine):
    async with aiohttp.ClientSession() as http:
        stray = await Raw.open(http, engine.base, "203.0.113.20")
        await stray.ws.send_bytes(b"\x89PNG unannounced")
        assert await stray.closed()
        wrong = await Raw.open(http, engine.base, "203.0.113.21")
        await wrong.ws.send_str('451-/visitor,["message",{"_placeholder":true,"num":0}]')
        assert await wrong.closed()  # a text event does not carry a file
        extra = await Raw.open(http, engine.base, "203.0.113.22")
        await extra.ws.send_str('451-/visitor,["image",{"_placeholder":true,"num":0}]')
        await extra.ws.send_bytes(b"\x89PNG one")
        await extra.ws.send_bytes(b"\x89PNG two, never announced")
        assert await extra.closed()


async def test_a_connection_sending_too_much_in_a_minute_is_cut_off(engine):
    async with aiohttp.ClientSession() as http:
        noisy = await Raw.open(http, engine.base, "203.0.113.30")
        chunk = '42/visitor,["typing",{"text":"' + "x" * 60_000 + '"}]'
        for _ in range(60):  # 3.6 MB against 2 MiB a minute
            if noisy.ws.closed:
                break
            await noisy.ws.send_str(chunk)
            await asyncio.sleep(0)
        assert await noisy.closed()
        too_big = await Raw.open(http, engine.base, "203.0.113.31")
        await too_big.ws.send_str('42/visitor,["message",{"text":"' + "y" * 70_000 + '"}]')
        assert await too_big.closed()  # past the 64 KiB text packet cap


async def test_connections_per_address_are_capped(engine):
    async with aiohttp.ClientSession() as http:
        kept = [await Raw.open(http, engine.base, "203.0.113.40") for _ in range(5)]
        url = engine.base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(url, headers={"X-Forwarded-For": "203.0.113.40"})
        other = await Raw.open(http, engine.base, "203.0.113.41")  # another address is served
        assert await other.hello_works()
        await kept[0].ws.close()
        await asyncio.sleep(0.5)
        again = await Raw.open(http, engine.base, "203.0.113.40")  # a place freed up
        assert await again.hello_works()


async def test_an_event_named_connect_or_disconnect_is_refused_and_cuts_off_its_sender(engine):
    """A page that sends an event named as the server's own: its connect handler would run again
    with the payload as the request's headers (a forged cookie and address), its disconnect while
    connected. Refused: the sender is cut off, counted, and nothing of it runs."""
    async with aiohttp.ClientSession() as http:
        bystander = await Raw.open(http, engine.base, "198.51.100.1")
        for n, event in enumerate(("connect", "disconnect")):
            forger = await Raw.open(http, engine.base, f"203.0.113.{n + 20}")
            assert await forger.hello_works()
            forged = {"HTTP_COOKIE": "hotline_visitor=x", "hotline.remote": "10.0.0.1"}
            await forger.ws.send_str(f'42/visitor,["{event}",{json.dumps(forged)}]')
            assert await forger.closed()
        assert await engine.metric(http, "hotline_refused_total", edge="socketio", reason="reserved_event") == 2
        assert await bystander.hello_works()
