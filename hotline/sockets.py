"""The engine's Socket.IO server, with limits at the edge and two costs python-socketio pays on
every packet taken out.

Costs (measured with py-spy and cProfile on ``hotline bench chat``, 400 messages a second):

- ``JsonPacket``: packets are encoded and decoded with orjson. Whether a payload carries bytes
  (a picture) is what encoding it answers: orjson refuses bytes, and only then is the payload
  walked. The library walks every payload first, recursively, then encodes it with the
  standard module.
- ``LocalManager``: an emit without a callback goes to each recipient's Engine.IO socket in turn;
  the library makes one task per recipient and waits for all, even when the room holds one
  socket, which is every emit of a chat. With Redis (several processes) the library's manager,
  publishing on ``hotline.redislink``'s rules.
- ``LeanSocket``: python-engineio reads each WebSocket frame through a new task under
  ``asyncio.wait_for``, hands each message to another new task, and its writer waits for each
  packet under ``wait_for`` too: three tasks and two timeout scopes per packet, about a tenth of the
  engine's CPU per chat message. Here the reader awaits the frame itself and hands the message on
  in place (Socket.IO still runs each event's handler in a task of its own), and the writer awaits
  its queue. The timeouts they replaced watched for dead peers; the heartbeat does that: a peer that
  misses its pong is closed by the Engine.IO service task, and the close now ends the writer and the
  WebSocket (before, the reader's timeout did, 45 s after the peer's last frame).

Limits:

python-socketio trusts its clients: a packet may announce up to 10**10 binary attachments and
the server keeps every one in memory until the last arrives; nothing caps what one connection or
one address may open or send. Here, before any namespace sees a packet:

- binary attachments: only in the events that carry a picture (``PICTURE_EVENTS``), one per
  packet, each at most ``max_message_bytes`` (engine.io's ``max_http_buffer_size``);
- text packets at most ``max_text_bytes``;
- each connection at most ``bytes_per_minute`` received (a sliding minute);
- each remote address at most ``connections_per_address`` connections at once;
- no event named as the server's own (``connect``, ``disconnect``): python-socketio would hand it to
  the namespace's handler of that name.

A client past a limit is disconnected (only that client), with a log line and
``hotline_refused_total{edge="socketio", reason=...}``. So is a WebSocket frame the Engine.IO layer
cannot take: longer than ``max_message_bytes`` (``frame_too_large``: aiohttp refuses it from the
frame's header, before reading it, and closes the WebSocket with 1009 "message too big") or not an
Engine.IO packet a client sends (``bad_packet``: the server sends Engine.IO's CLOSE packet, then
closes the WebSocket with 1002 "protocol error" and the reason as its text). The log line names
the socket, the remote address, the frame's size and the limit; in a flood only the first of each
kind every ten seconds are written (``hotline.guard.refuse``), all are counted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import socketio
from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet
from socketio.async_pubsub_manager import AsyncPubSubManager

from hotline.guard import Network, client_address, refuse
from hotline.redislink import RedisHealth, SharedEmits
from hotline.relay import RemoteSockets

logger = logging.getLogger(__name__)

# Events only the server raises (python-socketio's own names); a client sending one is cut off.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
# (namespace, event) pairs that may carry one binary attachment: a picture in a chat.
PICTURE_EVENTS = frozenset({("/visitor", "image"), ("/agent", "chat_image")})


@dataclass(frozen=True)
class SocketLimits:
    max_message_bytes: int = 3 * 1024 * 1024  # a 2 MiB picture and its frame
    max_text_bytes: int = 64 * 1024
    bytes_per_minute: int = 20 * 1024 * 1024
    connections_per_address: int = 300  # a call centre's seats may share one address
    trusted_proxies: tuple[Network, ...] = ()


class FrameTooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        super().__init__(f"a frame of {size if size is not None else 'unknown'} bytes")
        self.size = size


_ANNOUNCED = re.compile(r"size (\d+)")  # aiohttp: "Message size N exceeds limit L"


async def _frame(ws: Any) -> str | bytes | None:
    """The next WebSocket frame's data; None once the peer is gone (a close frame, a reset).
    Raises FrameTooLarge when the frame was refused for its length."""
    sock = getattr(ws, "_sock", None)
    if not isinstance(sock, web.WebSocketResponse):
        data: str | bytes = await ws.wait()  # another server than aiohttp: its driver's own read
        return data
    msg = await sock.receive()
    if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
        frame: str | bytes = msg.data
        return frame
    too_big = isinstance(msg.data, WebSocketError) and msg.data.code == WSCloseCode.MESSAGE_TOO_BIG
    if msg.type is WSMsgType.ERROR and too_big:  # aiohttp has closed it with 1009 already
        found = _ANNOUNCED.search(str(msg.data))
        raise FrameTooLarge(int(found.group(1)) if found else None)
    return None


class Refusal(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class OrjsonModule:
    """What python-socketio needs of a JSON module (``dumps``, ``loads``), on orjson.

    orjson writes Chinese text as UTF-8 rather than ``\\uXXXX`` escapes (a third of the bytes) and
    accepts non-string keys as the standard module does. On reading, an integer beyond 64 bits
    becomes a float (and one beyond a double is refused): never the long digit-by-digit
    conversion Engine.IO's own guard is there to prevent."""

    @staticmethod
    def dumps(obj: Any, **_kw: Any) -> str:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()

    @staticmethod
    def loads(text: str | bytes, **_kw: Any) -> Any:
        return orjson.loads(text)


class JsonPacket(sio_packet.Packet):  # type: ignore[misc]  # python-socketio ships no types
    json = OrjsonModule

    def __init__(
        self,
        packet_type: int = sio_packet.EVENT,
        data: Any = None,
        namespace: str | None = None,
        id: int | None = None,
        binary: bool | None = None,
        encoded_packet: Any = None,
    ) -> None:
        self._json: str | None = None
        if binary is None and data is not None and encoded_packet is None:
            try:
                self._json = OrjsonModule.dumps(data)
                binary = False
            except TypeError:  # bytes somewhere: the library takes them out as attachments
                pass
        super().__init__(packet_type, data, namespace, id, binary, encoded_packet)

    def encode(self) -> Any:
        if self._json is None or self.packet_type in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK):
            return super().encode()
        head = str(self.packet_type)
        if self.namespace is not None and self.namespace != "/":
            head += self.namespace + ","
        if self.id is not None:
            head += str(self.id)
        return head + self._json

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, (bytes, bytearray)):
                return True
            # lists and dicts only: those are what the library takes attachments out of
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return False


class LocalManager(socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs)
            return
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            args = list(data)  # a tuple is several arguments, anything else one
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        packets = [
            eio_packet.Packet(eio_packet.MESSAGE, p) for p in (encoded if isinstance(encoded, list) else [encoded])
        ]
        eio = self.server.eio
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid not in skip:
                for pkt in packets:
                    # Puts the packet on the socket's queue; never waits for the network.
                    await eio.send_packet(eio_sid, pkt)


class LeanSocket(AsyncSocket):  # type: ignore[misc]  # python-engineio ships no types
    """An Engine.IO socket whose WebSocket transport costs no task or timeout per packet (see the
    module's notes). Long-polling, and its upgrade handshake, are the library's own."""

    _writer_done = False
    _ping_timer: asyncio.TimerHandle | None = None
    _close_with: tuple[int, str] | None = None  # the WebSocket close code and text of a refusal
    remote = ""  # the client's address, as the server's limits count it

    async def send(self, pkt: Any) -> None:
        if self._writer_done:
            return  # the WebSocket is gone: nothing would ever take it off the queue
        if await self.check_ping_timeout():
            self.queue.put_nowait(pkt)  # the queue has no bound: this never waits

    def schedule_ping(self) -> None:
        """The next heartbeat in ``ping_interval``: a timer, where the library starts a task that
        sleeps (88 a second with 2,200 consoles and widgets open)."""
        if not self.upgraded:
            super().schedule_ping()  # long-polling, and the first ping of every socket
        elif self.last_ping:
            self.last_ping = None
            self._ping_timer = asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping)

    def _ping(self) -> None:
        self._ping_timer = None
        if not (self.closing or self.closed or self._writer_done):
            self.last_ping = time.time()  # the library's heartbeat check reads wall time
            self.queue.put_nowait(eio_packet.Packet(eio_packet.PING))

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        await super().close(wait=wait, abort=abort, reason=reason)
        if self.closed and self.upgraded and not self._writer_done:
            # The library's heartbeat close queues no CLOSE packet (its send refuses once the
            # pong is late): the writer must hear of it, end, and close the WebSocket.
            self.queue.put_nowait(None)

    async def receive(self, pkt: Any) -> None:
        if pkt.packet_type == eio_packet.MESSAGE:
            # In place: Socket.IO starts a task per event handler itself; a connect, an
            # acknowledgement or a refusal is short and keeps the socket's order.
            await self.server._trigger_event("message", self.sid, pkt.data, run_async=False)
        else:
            await super().receive(pkt)

    async def _websocket_handler(self, ws: Any) -> Any:
        if self.connected:
            if not await self._upgrade_handshake(ws):
                return None
            self.upgraded, self.upgrading = True, False
        else:
            self.connected = self.upgraded = True
        writer = asyncio.ensure_future(self._write(ws))
        limit = self.server.max_http_buffer_size
        try:
            while True:
                try:
                    data = await _frame(ws)
                except FrameTooLarge as exc:
                    self._refuse("frame_too_large", WSCloseCode.MESSAGE_TOO_BIG, exc.size, limit)
                    break
                except Exception:  # a reset, an error frame: the peer is gone
                    break
                if data is None:
                    break
                if len(data) > limit:  # another server than aiohttp, which lets it through
                    self._refuse("frame_too_large", WSCloseCode.MESSAGE_TOO_BIG, len(data), limit)
                    break
                try:
                    pkt = eio_packet.Packet(encoded_packet=data)
                    if not 0 <= pkt.packet_type < len(eio_packet.packet_names):
                        raise eio_exceptions.UnknownPacketError
                except Exception:  # not Engine.IO: an empty frame, "x", "9", bad base64
                    self._refuse("bad_packet", WSCloseCode.PROTOCOL_ERROR, len(data), limit, repr(data[:40]))
                    break
                try:
                    await self.receive(pkt)
                except eio_exceptions.UnknownPacketError:  # a packet only a server sends (OPEN, PING)
                    name = eio_packet.packet_names[pkt.packet_type]
                    self._refuse("bad_packet", WSCloseCode.PROTOCOL_ERROR, len(data), limit, f"a client's {name}")
                    break
                except eio_exceptions.SocketIsClosedError:
                    break
                except Exception:
                    logger.exception("engine.io receive failed", extra={"sid": self.sid})
        finally:
            await self.queue.put(None)  # the writer ends after what is already queued
            await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        return None

    def _refuse(self, reason: str, code: int, size: int | None, limit: int, detail: str = "") -> None:
        """Count and log the refusal; the writer then sends Engine.IO's CLOSE packet and closes the
        WebSocket with ``code`` and the reason (both only if the WebSocket is still open)."""
        fields: dict[str, Any] = {"sid": self.sid, "remote": self.remote, "size": size, "limit": limit}
        refuse("socketio", reason, **fields, **({"detail": detail} if detail else {}))
        self._close_with = (int(code), reason)
        self.queue.put_nowait(eio_packet.Packet(eio_packet.CLOSE))

    async def _upgrade_handshake(self, ws: Any) -> bool:
        """A long-polling client moving to WebSocket: its probe ping, then its upgrade packet."""
        self.upgrading = True  # the library holds polling answers meanwhile
        try:
            probe = eio_packet.Packet(encoded_packet=await ws.wait())
            if probe.packet_type != eio_packet.PING or probe.data != "probe":
                self.upgrading = False
                return False
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            await self.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the pending poll
            upgrade = eio_packet.Packet(encoded_packet=await ws.wait())
        except Exception:
            self.upgrading = False
            return False
        if upgrade.packet_type != eio_packet.UPGRADE:
            self.upgrading = False
            return False
        return True

    async def _write(self, ws: Any) -> None:
        queue = self.queue
        try:
            while True:
                pkt = await queue.get()  # returns at once while packets are waiting
                queue.task_done()
                if pkt is None:
                    break
                await ws.send(pkt.encode())
                if pkt.packet_type == eio_packet.CLOSE:
                    break  # the server closed it (a missed heartbeat, a disconnect)
        except Exception:
            pass  # the peer went away mid-write; the reader sees it too
        finally:
            self._writer_done = True
            while not queue.empty():  # whoever waits on queue.join() must not wait for ever
                queue.get_nowait()
                queue.task_done()
            with contextlib.suppress(Exception):
                sock = getattr(ws, "_sock", None)
                if self._close_with is not None and isinstance(sock, web.WebSocketResponse):
                    code, reason = self._close_with
                    await sock.close(code=code, message=reason.encode())
                else:
                    await ws.close()  # wakes the reader with the close


class _Packet(JsonPacket):
    """A packet that refuses to wait for more than one attachment."""

    def decode(self, encoded_packet: Any) -> int:
        count: int = super().decode(encoded_packet)
        if count > 1:
            raise Refusal("attachments", f"a packet announced {count} binary attachments")
        return count


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]  # python-socketio ships no types
    def __init__(self, limits: SocketLimits, clock: Callable[[], float] = time.monotonic, **kw: Any) -> None:
        super().__init__(max_http_buffer_size=limits.max_message_bytes, serializer=_Packet, **kw)
        self.limits = limits
        self.clock = clock
        self._received: dict[str, collections.deque[tuple[float, int]]] = {}
        self._bytes: dict[str, int] = {}
        self._address_of: dict[str, str] = {}
        self._per_address: collections.Counter[str] = collections.Counter()
        # Sockets held by web gateways (hotline.relay): their sessions and rooms are kept here,
        # what is sent to them goes through Redis to the gateway holding each.
        self.remote: RemoteSockets | None = None

    # -- gateways' sockets ----------------------------------------------------------------------
    async def get_session(self, sid: str, namespace: str | None = None) -> Any:
        held = self.remote.get(namespace, sid) if self.remote is not None else None
        if held is not None:
            return held.session
        return await super().get_session(sid, namespace=namespace)

    async def save_session(self, sid: str, session: Any, namespace: str | None = None) -> None:
        held = self.remote.get(namespace, sid) if self.remote is not None else None
        if held is not None:
            held.session = session
            return
        await super().save_session(sid, session, namespace=namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        held = self.remote.get(namespace, sid) if self.remote is not None else None
        if held is not None:
            return [sid, *held.rooms]
        out: list[str] = super().rooms(sid, namespace=namespace)
        return out

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        held = self.remote.get(namespace, sid) if self.remote is not None else None
        if held is not None:
            held.rooms.add(room)
            if not isinstance(self.manager, AsyncPubSubManager):
                return  # nobody to tell (no Redis: no gateway reaches this engine)
        await super().enter_room(sid, room, namespace=namespace)  # with Redis: the gateway holding it

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        held = self.remote.get(namespace, sid) if self.remote is not None else None
        if held is not None:
            held.rooms.discard(room)
            if not isinstance(self.manager, AsyncPubSubManager):
                return
        await super().leave_room(sid, room, namespace=namespace)

    # -- engine.io connections ------------------------------------------------------------------
    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        headers = {"X-Forwarded-For": environ.get("HTTP_X_FORWARDED_FOR", "")}
        where = client_address(str(environ.get("REMOTE_ADDR", "")), headers, self.limits.trusted_proxies)
        if self._per_address[where] >= self.limits.connections_per_address:
            refuse("socketio", "connections", remote=where)
            return False  # engine.io refuses the connection
        self._per_address[where] += 1
        self._address_of[eio_sid] = where
        environ["hotline.remote"] = where
        sock = self.eio.sockets.get(eio_sid)
        if type(sock) is AsyncSocket:
            sock.__class__ = LeanSocket  # the library makes its own; this one changes only its transport
        if isinstance(sock, LeanSocket):
            sock.remote = where
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        where = self._address_of.pop(eio_sid, None)
        if where is not None:
            self._per_address[where] -= 1
            if self._per_address[where] <= 0:
                del self._per_address[where]
        self._received.pop(eio_sid, None)
        self._bytes.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    # -- packets --------------------------------------------------------------------------------
    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if eio_sid not in self._address_of:
            return  # what was already on its way from a client that has been cut off
        try:
            self._count(eio_sid, data)
            if isinstance(data, bytes):
                pending = self._binary_packet.get(eio_sid)
                if pending is None:
                    raise Refusal("attachments", "a binary frame nobody announced")
            elif eio_sid in self._binary_packet:
                raise Refusal("attachments", "text while a picture was announced")
            await super()._handle_eio_message(eio_sid, data)
            self._check_announced(eio_sid)
        except Refusal as exc:
            self._binary_packet.pop(eio_sid, None)
            refuse("socketio", exc.reason, remote=self._address_of.get(eio_sid, ""), detail=str(exc))
            await self.eio.disconnect(eio_sid)
        except ValueError as exc:  # python-socketio's own refusal of a malformed packet
            self._binary_packet.pop(eio_sid, None)
            refuse("socketio", "malformed", remote=self._address_of.get(eio_sid, ""), detail=str(exc)[:200])
            await self.eio.disconnect(eio_sid)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        # python-socketio hands a client's event named "connect" or "disconnect" to a namespace's
        # handler of that name, as if the server had: a page could run its own connect again with
        # its payload as the request's headers (a forged cookie or address), or its disconnect while
        # connected. Only the server raises those.
        if isinstance(data, list) and data and data[0] in RESERVED_EVENTS:
            refuse("socketio", "reserved_event", remote=self._address_of.get(eio_sid, ""), event=str(data[0]))
            await self.eio.disconnect(eio_sid)
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    def _count(self, eio_sid: str, data: Any) -> None:
        size = len(data) if isinstance(data, (bytes, str)) else 0
        if isinstance(data, str) and size > self.limits.max_text_bytes:
            raise Refusal("packet_size", f"a text packet of {size} bytes")
        now = self.clock()
        window = self._received.setdefault(eio_sid, collections.deque())
        total = self._bytes.get(eio_sid, 0) + size
        window.append((now, size))
        while window and now - window[0][0] > 60.0:
            total -= window.popleft()[1]
        self._bytes[eio_sid] = total
        if total > self.limits.bytes_per_minute:
            raise Refusal("bytes_per_minute", f"{total} bytes within a minute")

    def _check_announced(self, eio_sid: str) -> None:
        """A binary packet now waiting for its attachment must be a picture event."""
        pkt = self._binary_packet.get(eio_sid)
        if pkt is None or pkt.packet_type != sio_packet.BINARY_EVENT:
            if pkt is not None:
                raise Refusal("attachments", "binary acks are not used here")
            return
        event = pkt.data[0] if isinstance(pkt.data, list) and pkt.data else None
        if (pkt.namespace or "/", event) not in PICTURE_EVENTS:
            raise Refusal("attachments", f"a binary attachment on {pkt.namespace or '/'} {str(event)[:40]}")


def limits_from(settings: Any) -> SocketLimits:
    """The limits of the engine's settings (``security`` section)."""
    from hotline.guard import networks

    sec = settings.security
    return SocketLimits(
        max_message_bytes=sec.socket_max_message_bytes,
        max_text_bytes=sec.socket_max_text_bytes,
        bytes_per_minute=sec.socket_bytes_per_minute,
        connections_per_address=sec.socket_connections_per_address,
        trusted_proxies=networks(sec.trusted_proxies),
    )


def make_server(
    limits: SocketLimits | None = None, redis_url: str = "", redis_health: RedisHealth | None = None
) -> GuardedServer:
    """The engine's Socket.IO server (aiohttp), with the edge's limits; emits shared through
    Redis when a URL is given (several engine processes; ``hotline.redislink``), else the local
    manager above."""
    manager = SharedEmits(redis_url, redis_health or RedisHealth()) if redis_url else LocalManager()
    # Default CORS rule: only pages of this same origin may open a socket.
    return GuardedServer(limits or SocketLimits(), async_mode="aiohttp", client_manager=manager)
