"""Seats on several Asterisk servers: where each seat's phone is registered (from each server's
AMI ContactStatus), the dial string that follows from it, a lost peer taking its ready seats
with it, and the peer settings that make a peer watched."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.ari.client import AriClient
from acd.core import Offer, SeatLoggedIn
from acd.service import AcdService
from acd.voice.core.call import Call
from acd.voice.presence import HERE, MAX_LOCATED, PhonePresence, SeatLocations, seat_of
from acd.voice.seats import SeatDevice, seat_dial_string
from acd.voice.service import VoiceService
from hotline.bus import Bus
from hotline.settings import SettingsError, load_settings

# -- the dial string: a function of the seat's device and its phone's server ----------------------


@pytest.mark.parametrize(
    ("device", "server", "dial"),
    [
        (SeatDevice("7"), None, "PJSIP/seat7"),
        (SeatDevice("7"), HERE, "PJSIP/seat7"),
        (SeatDevice("7"), "b", "PJSIP/seat7@peer-b"),
        (SeatDevice("7", kind="webrtc"), "b", "PJSIP/seat7@peer-b"),
        (SeatDevice("7", kind="cloud", browser=True), "b", "PJSIP/seat7@peer-b"),
        (SeatDevice("7", kind="cloud", number="13900000007"), "b", "PJSIP/13900000007@trunk-out"),
        (SeatDevice("7", kind="cloud", number="13900000007"), None, "PJSIP/13900000007@trunk-out"),
    ],
)
def test_a_seat_is_rung_where_its_phone_is_registered(device: SeatDevice, server: str | None, dial: str) -> None:
    assert seat_dial_string(device, server) == dial


# -- where each seat's phone is -------------------------------------------------------------------


def test_a_phone_registered_on_a_peer_is_located_there_and_moves_with_its_registration() -> None:
    where = SeatLocations()
    assert where.contact("b", "7", "Created") is False
    assert where.server_of("7") == "b"
    assert where.contact(HERE, "7", "Reachable") is False  # re-registered on this server
    assert where.server_of("7") == HERE
    # Its old registration on b expires afterwards: the phone is not gone, it is here.
    assert where.contact("b", "7", "Removed") is False
    assert where.server_of("7") == HERE
    assert where.contact(HERE, "7", "Unreachable") is True
    assert where.server_of("7") is None


def test_a_phone_gone_that_was_never_seen_registering_is_gone_as_before() -> None:
    # The engine started after the phone registered: its unregistration still pauses the seat.
    assert SeatLocations().contact(HERE, "7", "Removed") is True


def test_the_old_contact_removed_after_a_new_registration_is_not_the_phone_gone() -> None:
    # Asterisk (remove_existing) adds the phone's new contact, then removes its old one.
    where = SeatLocations()
    where.contact("b", "7", "Created", "sip:seat7@127.0.0.1:5071")
    assert where.contact("b", "7", "Removed", "sip:seat7@127.0.0.1:5070") is False
    assert where.server_of("7") == "b"
    assert where.contact("b", "7", "Removed", "sip:seat7@127.0.0.1:5071") is True


def test_a_lost_server_takes_only_its_own_seats() -> None:
    where = SeatLocations()
    for seat, server in (("1", "b"), ("2", HERE), ("3", "b"), ("4", "c")):
        where.contact(server, seat, "Reachable")
    assert where.lost("b") == ["1", "3"]
    assert {seat: where.server_of(seat) for seat in "1234"} == {"1": None, "2": HERE, "3": None, "4": "c"}
    assert where.lost("b") == []


def test_locations_are_bounded_whatever_a_peer_reports() -> None:
    where = SeatLocations(limit=2)
    for n in range(5):
        where.contact("b", str(n), "Created")
    assert sorted(where.where) == ["0", "1"]
    where.contact(HERE, "1", "Reachable")  # one already located may still move
    assert (where.server_of("0"), where.server_of("1")) == ("b", HERE)
    assert MAX_LOCATED >= 10_000


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "b", "c"]),
            st.sampled_from(["1", "2", "3"]),
            st.sampled_from(["Created", "Reachable", "Removed", "Unreachable", "Updated"]),
        )
    )
)
def test_a_seat_is_located_on_the_last_server_that_reported_it_registered(reports: list[tuple[str, str, str]]) -> None:
    where = SeatLocations()
    for server, seat, status in reports:
        where.contact(server, seat, status)
    for seat in ("1", "2", "3"):
        last_up = [
            (i, srv) for i, (srv, s, st_) in enumerate(reports) if s == seat and st_ not in ("Removed", "Unreachable")
        ]
        if where.server_of(seat) is not None:
            assert last_up and where.server_of(seat) == last_up[-1][1]


@pytest.mark.parametrize(
    ("aor", "seat"),
    [
        ("seat7", "7"),
        ("seatv-1_x", "v-1_x"),
        ("seat", None),
        ("peer-b", None),
        ("seat7;x", None),
        ("seat" + "9" * 33, None),
    ],
)
def test_only_seat_aors_are_followed(aor: str, seat: str | None) -> None:
    assert seat_of(aor) == seat


# -- the adapter: ContactStatus from each server, a peer lost past its grace -----------------------


async def _ready(acd: AcdService, *seats: str) -> None:
    for seat in seats:
        await acd.feed(SeatLoggedIn(now=acd.now(), seat_id=seat, skills=(("general", 1),), ready=True))


async def _settle(presence: PhonePresence) -> None:
    for _ in range(20):
        await asyncio.sleep(0)
    if presence.tasks:
        await asyncio.gather(*presence.tasks)


async def test_a_peer_lost_past_its_grace_sets_its_ready_seats_unreachable_and_no_others() -> None:
    acd = AcdService(Bus())
    presence = PhonePresence(acd)
    await _ready(acd, "1", "2", "3")
    on_b = presence.contact_handler("b")
    on_b({"AOR": "seat1", "ContactStatus": "Created"})
    on_b({"AOR": "seat2", "ContactStatus": "Reachable"})
    presence.on_contact_status({"AOR": "seat3", "ContactStatus": "Reachable"})
    assert presence.server_of("1") == "b" and presence.server_of("3") == HERE
    presence.peer_connection("b", 0.05, up=False)
    await asyncio.sleep(0.01)
    assert acd.core.seat_state("1")["state"] == "ready"  # within the grace nothing changes
    await asyncio.sleep(0.1)
    await _settle(presence)
    for seat in ("1", "2"):
        state = acd.core.seat_state(seat)
        assert (state["state"], state["reason"]) == ("not_ready", "unreachable")
        assert presence.server_of(seat) is None and presence.registered[seat] is False
    assert acd.core.seat_state("3")["state"] == "ready"
    assert presence.lost_peers == {"b"}
    presence.peer_connection("b", 0.05, up=True)
    assert presence.lost_peers == set()
    # The phone registers again (here): located here, as before.
    presence.on_contact_status({"AOR": "seat1", "ContactStatus": "Created"})
    assert presence.server_of("1") == HERE and presence.registered["1"] is True
    await presence.stop()


async def test_a_peer_back_within_its_grace_loses_nothing() -> None:
    acd = AcdService(Bus())
    presence = PhonePresence(acd)
    await _ready(acd, "1")
    presence.contact_handler("b")({"AOR": "seat1", "ContactStatus": "Reachable"})
    presence.peer_connection("b", 0.05, up=False)
    presence.peer_connection("b", 0.05, up=False)  # said twice: one grace
    presence.peer_connection("b", 0.05, up=True)
    await asyncio.sleep(0.1)
    await _settle(presence)
    assert acd.core.seat_state("1")["state"] == "ready" and presence.server_of("1") == "b"
    await presence.stop()


async def test_an_old_registration_expiring_on_a_peer_does_not_pause_a_seat_registered_here() -> None:
    acd = AcdService(Bus())
    presence = PhonePresence(acd)
    await _ready(acd, "1")
    presence.contact_handler("b")({"AOR": "seat1", "ContactStatus": "Reachable"})
    presence.on_contact_status({"AOR": "seat1", "ContactStatus": "Created"})
    presence.contact_handler("b")({"AOR": "seat1", "ContactStatus": "Removed"})
    await _settle(presence)
    assert acd.core.seat_state("1")["state"] == "ready" and presence.registered["1"] is True
    presence.on_contact_status({"AOR": "seat1", "ContactStatus": "Removed"})
    await _settle(presence)
    state = acd.core.seat_state("1")
    assert (state["state"], state["reason"]) == ("not_ready", "unregistered")


# -- the voice side rings the seat where presence located it --------------------------------------


class Ari(AriClient):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/ari", "u", "p", "hotline")  # never reached
        self.dialled: list[str] = []

    async def originate(self, endpoint: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.dialled.append(endpoint)


async def test_the_offer_dials_the_seat_over_the_trunk_when_its_phone_is_on_a_peer() -> None:
    ari = Ari()
    v = VoiceService(ari, AcdService(Bus()))
    v.set_device(SeatDevice("s1", kind="desk"))
    v.set_device(SeatDevice("s2", kind="desk"))
    where = {"s1": "b"}
    v.seat_server = where.get
    for n, seat in enumerate(("s1", "s2")):
        call = Call(contact_id=f"c{n}", channel_id=f"c{n}", caller="13900000001", arrived=0.0)
        call.move("enqueue")
        v.calls[call.contact_id] = call
        v.by_channel[call.channel_id] = call
        await v._offer(Offer(call.contact_id, seat, "voice", 15.0, "test"))
    assert ari.dialled == ["PJSIP/seats1@peer-b", "PJSIP/seats2"]


# -- settings ---------------------------------------------------------------------------------------


def test_a_watched_peer_carries_its_ami_port_config_dir_and_grace(tmp_path) -> None:
    peer = {"name": "b", "host": "10.0.12.2", "ami_port": 5038, "config_dir": "/srv/asterisk-b/etc", "grace_s": 3}
    settings = load_settings(data_dir=tmp_path, asterisk={"peers": [peer, {"name": "c", "host": "10.0.12.3"}]})
    b, c = settings.asterisk.peers
    assert (b.watched, b.ami_port, b.config_dir, b.grace_s) == (True, 5038, "/srv/asterisk-b/etc", 3.0)
    assert (c.watched, c.config_dir, c.grace_s) == (False, "", 2.0)


@pytest.mark.parametrize(
    ("peer", "said"),
    [
        ({"config_dir": "/srv/b"}, "config_dir needs ami_port"),
        ({"ami_port": 5038, "config_dir": "etc/asterisk-b"}, "absolute folder"),
        ({"ami_port": 5038, "config_dir": "/srv/b\nx"}, "absolute folder"),
        ({"ami_port": 70000}, "asterisk.peers.0.ami_port"),
        ({"grace_s": 0}, "asterisk.peers.0.grace_s"),
        ({"host": "127.0.0.1", "ami_port": 15038}, "its AMI is this Asterisk's"),
    ],
)
def test_wrong_peer_watch_settings_are_refused(tmp_path, peer: dict[str, Any], said: str) -> None:
    with pytest.raises(SettingsError, match=said):
        load_settings(data_dir=tmp_path, asterisk={"peers": [{"name": "b", "host": "10.0.12.2", **peer}]})
