"""Callers on several Asterisk servers, one ACD (acd/voice/servers.py): a peer's contact ids carry
its name (channel ids of two servers may collide; the main server's stay as they were), each of
the ACD's commands and each console action goes to the server whose calls hold it, a seat is
dialled from each server where its phone is, each server reconciles its own records only, and a
peer whose events websocket stays lost past its grace has its calls ended."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.ari.client import DISCONNECTED, AriClient
from acd.core import CancelOffer, ContactAbandoned, Offer, StartCallback
from acd.service import AcdService
from acd.voice.core.call import Call
from acd.voice.core.states import ENDED, TALKING
from acd.voice.seats import SeatDevice
from acd.voice.servers import VoiceServers, relative_to
from acd.voice.service import VoiceService
from hotline.bus import Bus


class Ari(AriClient):
    def __init__(self, name: str) -> None:
        super().__init__("http://127.0.0.1:9/ari", "u", "p", "hotline", name=name)  # never reached
        self.originated: list[tuple[str, str]] = []
        self.hung_up: list[str] = []

    async def originate(self, endpoint: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.originated.append((endpoint, str(kwargs.get("channel_id"))))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hung_up.append(channel_id)


def _servers() -> tuple[VoiceServers, VoiceService, VoiceService, list[Any]]:
    acd = AcdService(Bus())
    fed: list[Any] = []

    async def feed(event: Any) -> None:
        fed.append(event)

    acd.feed = feed  # type: ignore[method-assign]
    main, b = VoiceService(Ari("default"), acd), VoiceService(Ari("b"), acd)
    servers = VoiceServers(main, {"b": b})
    where = {"sa": None, "sb": "b"}
    main.seat_server = where.get
    b.seat_server = relative_to("b", "a", where.get)
    return servers, main, b, fed


def _waiting(voice: VoiceService, channel_id: str) -> Call:
    contact = voice.contact_of(channel_id)
    call = Call(contact_id=contact, channel_id=channel_id, caller="13900000001", arrived=0.0, server=voice.server)
    call.move("enqueue")
    voice.calls[contact] = call
    voice.by_channel[channel_id] = call
    return call


def test_a_peers_contact_ids_carry_its_name_and_the_main_servers_do_not_change() -> None:
    _, main, b, _ = _servers()
    assert main.contact_of("1733580000.12") == "1733580000.12"
    assert b.contact_of("1733580000.12") == "1733580000.12@b"


async def test_the_acds_commands_go_to_the_server_holding_the_call_and_seats_are_dialled_where_they_are() -> None:
    servers, main, b, _fed = _servers()
    on_a, on_b = _waiting(main, "1.1"), _waiting(b, "1.1")  # one channel id on both servers
    assert main.acd.executors["voice"] is servers  # the ACD's one voice executor
    await servers.execute(Offer(on_b.contact_id, "sa", "voice", 15.0, "test"))
    await servers.execute(Offer(on_a.contact_id, "sb", "voice", 15.0, "test"))
    assert [e for e, _ in b.ari.originated] == ["PJSIP/seatsa@peer-a"]  # type: ignore[attr-defined]
    assert [e for e, _ in main.ari.originated] == ["PJSIP/seatsb@peer-b"]  # type: ignore[attr-defined]
    await servers.execute(CancelOffer(on_b.contact_id, "sa", "test"))
    assert b.ari.hung_up and not main.ari.hung_up  # type: ignore[attr-defined]
    assert on_a.leg is not None and on_b.leg is None
    await servers.execute(StartCallback(on_b.contact_id, "sa", "13900000001", "test"))
    assert on_b.contact_id in b.pending_callbacks and not main.pending_callbacks
    assert set(servers.calls) == {"1.1", "1.1@b"}


def test_a_seat_is_dialled_from_each_server_where_its_phone_is() -> None:
    _, main, b, _ = _servers()
    where = {"sa": "", "sb": "b", "sc": "c"}
    b.seat_server = relative_to("b", "a", where.get)
    assert b.seat_dial(SeatDevice("sa")) == "PJSIP/seatsa@peer-a"
    assert b.seat_dial(SeatDevice("sb")) == "PJSIP/seatsb"
    assert b.seat_dial(SeatDevice("sc")) == "PJSIP/seatsc@peer-c"
    assert b.seat_dial(SeatDevice("sx")) == "PJSIP/seatsx@peer-a"  # not located: the main server's
    assert b.seat_dial(SeatDevice("cl", kind="cloud", number="13900000009")) == "PJSIP/13900000009@trunk-out"
    main.seat_server = where.get
    assert main.seat_dial(SeatDevice("sa")) == "PJSIP/seatsa"


async def test_a_console_action_goes_to_the_server_of_the_seats_call() -> None:
    servers, main, b, _fed = _servers()
    call = _waiting(b, "7.7")
    await servers.execute(Offer(call.contact_id, "sa", "voice", 15.0, "test"))
    assert call.leg is not None
    call.seat_id, call.state = "sa", TALKING
    assert servers.control.call_of("sa") is not None and main.call_of("sa") is None
    await servers.control.hangup("sa")
    assert b.ari.hung_up == [call.leg.channel_id] and main.ari.hung_up == []  # type: ignore[attr-defined]


def test_each_server_reconciles_its_own_records_only() -> None:
    _, main, b, _ = _servers()
    assert main._mine({"server": "default"}) and main._mine({}) and main._mine({"server": "gone"})
    assert not main._mine({"server": "b"})
    assert b._mine({"server": "b"}) and not b._mine({"server": "default"}) and not b._mine({})


async def test_a_peer_lost_past_its_grace_has_its_calls_ended_and_the_main_servers_go_on() -> None:
    servers, main, b, fed = _servers()
    b.lost_after_s = 0.05
    on_a, on_b = _waiting(main, "2.2"), _waiting(b, "2.2")
    b._dispatch({"type": DISCONNECTED})
    main._dispatch({"type": DISCONNECTED})  # the main server's calls wait for its reconnection
    await asyncio.sleep(0.2)
    assert on_b.state == ENDED and on_b.contact_id not in b.calls
    assert on_a.state != ENDED and on_a.contact_id in main.calls
    assert [type(e) for e in fed] == [ContactAbandoned] and fed[0].contact_id == "2.2@b"
    await servers.stop()


async def test_a_peer_back_within_its_grace_keeps_its_calls() -> None:
    servers, _main, b, _fed = _servers()
    b.lost_after_s = 0.1
    call = _waiting(b, "3.3")
    b._dispatch({"type": DISCONNECTED})
    await asyncio.sleep(0.01)
    b.connected.set()  # as the reconnection's reconcile leaves it
    await asyncio.sleep(0.2)
    assert call.state != ENDED and call.contact_id in b.calls
    await servers.stop()
