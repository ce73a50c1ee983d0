"""The engine's Socket.IO server, with limits at the edge.

python-socketio trusts its clients: a packet may announce up to 10**10 binary attachments and
the server keeps every one in memory until the last arrives; nothing caps what one connection or
one address may open or send. Here, before any namespace sees a packet:

- binary attachments: only in the events that carry a picture (``PICTURE_EVENTS``), one per
  packet, each at most ``max_message_bytes`` (engine.io's ``max_http_buffer_size``);
- text packets at most ``max_text_bytes``;
- each connection at most ``bytes_per_minute`` received (a sliding minute);
- each remote address at most ``connections_per_address`` connections at once.

A client past a limit is disconnected (only that client), with a log line and
``hotline_refused_total{edge="socketio", reason=...}``.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import socketio
from socketio import packet as sio_packet

from hotline.guard import Network, client_address, refuse

logger = logging.getLogger(__name__)

# (namespace, event) pairs that may carry one binary attachment: a picture in a chat.
PICTURE_EVENTS = frozenset({("/visitor", "image"), ("/agent", "chat_image")})


@dataclass(frozen=True)
class SocketLimits:
    max_message_bytes: int = 3 * 1024 * 1024  # a 2 MiB picture and its frame
    max_text_bytes: int = 64 * 1024
    bytes_per_minute: int = 20 * 1024 * 1024
    connections_per_address: int = 300  # a call centre's seats may share one address
    trusted_proxies: tuple[Network, ...] = ()


class Refusal(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class _Packet(sio_packet.Packet):  # type: ignore[misc]
    """A packet that refuses to wait for more than one attachment."""

    def decode(self, encoded_packet: Any) -> int:
        count: int = super().decode(encoded_packet)
        if count > 1:
            raise Refusal("attachments", f"a packet announced {count} binary attachments")
        return count


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]  # python-socketio ships no types
    def __init__(self, limits: SocketLimits, clock: Callable[[], float] = time.monotonic, **kw: Any) -> None:
        super().__init__(max_http_buffer_size=limits.max_message_bytes, **kw)
        self.packet_class = _Packet
        self.limits = limits
        self.clock = clock
        self._received: dict[str, collections.deque[tuple[float, int]]] = {}
        self._bytes: dict[str, int] = {}
        self._address_of: dict[str, str] = {}
        self._per_address: collections.Counter[str] = collections.Counter()

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
