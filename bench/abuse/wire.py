"""Socket.IO spoken by hand over one aiohttp WebSocket (Engine.IO 4, Socket.IO 5 text packets).

Both sides of the abuse bench use it: the legitimate seats and visitors (many cheap connections
in one process) and the attackers (who need the raw socket to send what no library would).
Every client stands for its own remote address through ``X-Forwarded-For``; the engine trusts
loopback as its proxy during the bench.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp


class Refused(Exception):
    """The engine would not open the connection or the namespace; the text says how."""


class Dropped(Exception):
    """The connection closed while an answer was awaited."""


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"


async def open_ws(
    http: aiohttp.ClientSession, base: str, address: str, cookie: str = ""
) -> aiohttp.ClientWebSocketResponse:
    """The Engine.IO handshake only; Refused when the engine turns the connection down."""
    headers = {"X-Forwarded-For": address}
    if cookie:
        headers["Cookie"] = cookie
    try:
        ws = await http.ws_connect(ws_url(base), headers=headers, autoping=False, max_msg_size=0)
    except aiohttp.WSServerHandshakeError as exc:
        raise Refused(f"handshake {exc.status}") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Refused(f"connection: {type(exc).__name__}: {exc}") from None
    first = await ws.receive(timeout=30)
    if first.type != aiohttp.WSMsgType.TEXT or not str(first.data).startswith("0"):
        await ws.close()
        raise Refused(f"no Engine.IO open: {first.type.name}")
    return ws


async def join(ws: aiohttp.ClientWebSocketResponse, ns: str, auth: dict[str, Any] | None = None) -> None:
    """Connect a namespace; Refused with the engine's reason when it says no (packet 44)."""
    await ws.send_str(f"40{ns}," + (json.dumps(auth) if auth else ""))
    while True:
        msg = await ws.receive(timeout=30)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise Refused(f"closed while joining {ns}: {msg.type.name}")
        text = str(msg.data)
        if text == "2":
            await ws.send_str("3")
        elif text.startswith(f"40{ns}"):
            return
        elif text.startswith(f"44{ns}"):
            raise Refused(text[len(ns) + 3 :][:200])


class Client:
    """One namespace on one connection: acks, events, and whether the engine dropped it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, ns: str) -> None:
        self.ws = ws
        self.ns = ns
        self.handlers: dict[str, Callable[[Any], None]] = {}
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self.closed = asyncio.Event()
        self.closing = False  # we closed it ourselves: not a drop
        self.why = "open"
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(
        cls,
        http: aiohttp.ClientSession,
        base: str,
        ns: str,
        address: str,
        *,
        auth: dict[str, Any] | None = None,
        cookie: str = "",
    ) -> Client:
        ws = await open_ws(http, base, address, cookie)
        try:
            await join(ws, ns, auth)
        except BaseException:
            await ws.close()
            raise
        return cls(ws, ns)

    def on(self, event: str, fn: Callable[[Any], None]) -> None:
        self.handlers[event] = fn

    async def call(self, event: str, data: Any, timeout: float = 30.0) -> Any:
        if self.closed.is_set():
            raise Dropped("already closed")
        self._next += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[self._next] = fut
        await self.ws.send_str(f"42{self.ns},{self._next}{json.dumps([event, data], ensure_ascii=False)}")
        return await asyncio.wait_for(fut, timeout)

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                text = str(msg.data)
                if text == "2":
                    await self.ws.send_str("3")
                elif text == "1" or text.startswith(f"41{self.ns}"):
                    self.why = f"the engine ended the session ({text[:40]})"
                    return
                elif text.startswith(f"42{self.ns},"):
                    event, *rest = json.loads(text[len(self.ns) + 3 :])
                    handler = self.handlers.get(event)
                    if handler is not None:
                        handler(rest[0] if rest else None)
                elif text.startswith(f"43{self.ns},"):
                    body = text[len(self.ns) + 3 :]
                    cut = body.index("[")
                    fut = self._acks.pop(int(body[:cut]), None)
                    if fut is not None and not fut.done():
                        fut.set_result(json.loads(body[cut:])[0])
            self.why = f"closed by the engine (code {self.ws.close_code})"
        except Exception as exc:  # a broken packet or connection: the socket is gone either way
            self.why = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self.closed.set()
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(Dropped(self.why))
            self._acks.clear()


async def closed_by_engine(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> bool:
    """True once the engine closes this connection (its pings answered meanwhile)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return True
                if msg.type == aiohttp.WSMsgType.TEXT and (msg.data == "1" or str(msg.data).startswith("41")):
                    return True
                if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "2":
                    await ws.send_str("3")
    except TimeoutError:
        return False
    except (aiohttp.ClientError, OSError, RuntimeError):
        return True
