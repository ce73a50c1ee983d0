"""A ready seat whose desk phone unregisters is paused at once (AMI ContactStatus), and AMI
reports the registration of a seat's phone."""

from __future__ import annotations

import asyncio

import pytest

from acd.ami import Ami
from acd.ari.client import AriClient
from acd.core import SeatLoggedIn
from acd.service import AcdService
from acd.voice.api import sip_credentials
from acd.voice.presence import PhonePresence
from acd.voice.provision import provision
from acd.voice.seats import SeatDevice
from hotline.bus import Bus
from tests.integration.acd.voice_harness import next_port, start_sipp
from tests.integration.asterisk import SIPP_DIR, asterisk_settings

pytestmark = pytest.mark.integration


async def test_unregistered_phone_pauses_its_ready_seat():
    settings = asterisk_settings()
    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password)
    ari = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    acd = AcdService(Bus())
    presence = PhonePresence(acd)
    ami.on_event("ContactStatus", presence.on_contact_status)
    await ami.connect()
    try:
        await provision(settings, [SeatDevice("2101", kind="desk")], ami, ari)
        await acd.feed(SeatLoggedIn(now=acd.now(), seat_id="2101", skills=(("general", 1),), ready=True))
        user, password = sip_credentials(settings.secret_key, "2101")
        phone = await start_sipp(
            str(SIPP_DIR / "register.xml"),
            f"127.0.0.1:{a.sip_port}",
            next_port(),
            "-s",
            user,
            "-au",
            user,
            "-ap",
            password,
            "-d",
            "1500",
        )
        for _ in range(40):
            if presence.registered.get("2101"):
                break
            await asyncio.sleep(0.05)
        assert presence.registered.get("2101") is True, (await phone.wait(20), phone.out)[1][-1500:]
        assert acd.core.seat_state("2101")["state"] == "ready"
        assert await phone.wait(20) == 0, phone.out  # it unregistered
        for _ in range(40):
            if acd.core.seat_state("2101")["state"] != "ready":
                break
            await asyncio.sleep(0.05)
        state = acd.core.seat_state("2101")
        assert state["state"] == "not_ready" and state["reason"] == "unregistered"
    finally:
        await ami.close()
        await ari.close()
