"""The engine's Socket.IO server, through python-socketio's own extension points.

Two costs that python-socketio pays on every packet are taken out (measured with py-spy and
cProfile on ``hotline bench chat``, 400 messages a second):

- ``JsonPacket``: packets are encoded and decoded with orjson. Whether a payload carries bytes
  (a binary packet, pictures) is what encoding it answers: orjson refuses bytes, and only then
  is the payload walked. The library walks every payload first, recursively, with
  ``functools.reduce`` over freshly built lists, then encodes it with the standard module.
- ``LocalManager``: an emit without a callback goes to each connected recipient's Engine.IO
  socket in turn; the library creates one task per recipient and waits for all with
  ``asyncio.wait``, even when the room holds one socket, which is every emit of a chat.
  Several engine processes sharing emits through Redis keep python-socketio's manager.
"""

from __future__ import annotations

from typing import Any

import orjson
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet


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


def make_server(redis_url: str = "") -> socketio.AsyncServer:
    """The engine's Socket.IO server (aiohttp); emits shared through Redis when a URL is given."""
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else LocalManager()
    # Default CORS rule: only pages of this same origin may open a socket.
    return socketio.AsyncServer(async_mode="aiohttp", client_manager=manager, serializer=JsonPacket)
