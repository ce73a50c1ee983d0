"""The Socket.IO server's packets (orjson, binary detection) and its emits without a task per recipient."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from socketio import packet as sio_packet

from hotline.sockets import JsonPacket, LocalManager, make_server


def test_a_packet_says_chinese_text_as_utf8_and_reads_back_what_it_wrote() -> None:
    data = ["chat_message", {"contact_id": "webchat-7", "message": {"body": {"text": "您好，已收到"}, "id": 12}}]
    encoded = JsonPacket(sio_packet.EVENT, namespace="/agent", data=data).encode()
    assert encoded.startswith('2/agent,["chat_message"') and "您好，已收到" in encoded
    back = JsonPacket(encoded_packet=encoded)
    assert (back.packet_type, back.namespace, back.data) == (sio_packet.EVENT, "/agent", data)


def test_an_ack_with_its_id_round_trips() -> None:
    encoded = JsonPacket(sio_packet.ACK, namespace="/visitor", id=41, data=[{"ok": True, "id": 5}]).encode()
    back = JsonPacket(encoded_packet=encoded)
    assert (back.packet_type, back.id, back.data) == (sio_packet.ACK, 41, [{"ok": True, "id": 5}])


@pytest.mark.parametrize(
    ("data", "binary"),
    [
        (["image", {"data": b"\x89PNG"}], True),
        (["image", {"nested": [{"deeper": ["x", bytearray(b"1")]}]}], True),
        (["message", {"text": "bytes", "n": 1, "list": [1, 2, {"a": None}]}], False),
        (None, False),
        ("plain", False),
    ],
)
def test_bytes_anywhere_in_a_payload_make_a_binary_packet(data: Any, binary: bool) -> None:
    assert JsonPacket.data_is_binary(data) is binary
    assert sio_packet.Packet.data_is_binary(data) is binary  # the library's own answer


def test_a_binary_event_still_goes_out_with_its_attachment() -> None:
    encoded = JsonPacket(sio_packet.EVENT, namespace="/visitor", data=["image", {"data": b"\x01\x02"}]).encode()
    assert isinstance(encoded, list) and encoded[0].startswith("51-/visitor,") and encoded[1] == b"\x01\x02"


def test_huge_integers_are_never_read_as_python_ints() -> None:
    big = JsonPacket(encoded_packet="2/visitor," + '["read",{"up_to":' + "9" * 40 + "}]")
    assert isinstance(big.data[1]["up_to"], float)  # refused by the handlers, which want an int
    with pytest.raises(ValueError):
        JsonPacket(encoded_packet="2/visitor," + '["read",{"up_to":' + "9" * 5000 + "}]")


class FakeEio:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.ids = itertools.count(1)

    def generate_id(self) -> str:
        return f"s{next(self.ids)}"

    async def send_packet(self, eio_sid: str, pkt: Any) -> None:
        self.sent.append((eio_sid, pkt.data))


class FakeServer:
    packet_class = JsonPacket

    def __init__(self) -> None:
        self.eio = FakeEio()


async def manager_with(*rooms: tuple[str, str]) -> tuple[LocalManager, FakeServer, dict[str, str]]:
    server = FakeServer()
    manager = LocalManager()
    manager.set_server(server)
    sids: dict[str, str] = {}
    for eio_sid, room in rooms:
        sid = sids.get(eio_sid) or await manager.connect(eio_sid, "/agent")
        sids[eio_sid] = sid
        await manager.enter_room(sid, "/agent", room)
    return manager, server, sids


async def test_an_emit_reaches_every_socket_of_the_room_once_and_skips_the_one_asked() -> None:
    manager, server, sids = await manager_with(("e1", "seat:1001"), ("e2", "seat:1001"), ("e3", "seat:1002"))
    await manager.emit("offer", {"contact_id": "webchat-1"}, "/agent", room="seat:1001")
    assert sorted(e for e, _ in server.eio.sent) == ["e1", "e2"]
    assert all(p == '2/agent,["offer",{"contact_id":"webchat-1"}]' for _, p in server.eio.sent)
    server.eio.sent.clear()
    await manager.emit("state", ("a", 2), "/agent", to="seat:1001", skip_sid=sids["e1"])
    assert server.eio.sent == [("e2", '2/agent,["state","a",2]')]
    server.eio.sent.clear()
    await manager.emit("x", None, "/elsewhere", room="seat:1001")
    await manager.emit("x", None, "/agent", room="nobody")
    assert server.eio.sent == []


def test_the_engine_server_uses_both_unless_emits_go_through_redis() -> None:
    local = make_server()
    assert isinstance(local.manager, LocalManager) and issubclass(local.packet_class, JsonPacket)
    shared = make_server(redis_url="redis://127.0.0.1:6379/0")
    assert not isinstance(shared.manager, LocalManager) and issubclass(shared.packet_class, JsonPacket)
