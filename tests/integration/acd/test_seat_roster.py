"""Every seat and supervisor account gets a phone endpoint in Asterisk; dispatchers do not."""

from __future__ import annotations

import datetime as dt

import pytest

from acd.ami import Ami
from acd.ari.client import AriClient
from acd.voice.provision import provision
from acd.voice.roster import seat_devices
from agent_console.services import phone_profiles
from hotline.auth import create_account
from hotline.migrate import upgrade
from hotline.storage import make_engine, make_sessionmaker
from tests.integration.asterisk import asterisk_settings

pytestmark = pytest.mark.integration


async def test_accounts_become_endpoints_with_the_phone_of_their_profile(sqlite_url):
    from agent_console.models import SeatProfile

    settings = asterisk_settings()
    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    await create_account(sessions, "s2001", "seat", "pw-123456789")
    await create_account(sessions, "s2002", "seat", "pw-123456789")
    await create_account(sessions, "boss1", "supervisor", "pw-123456789")
    await create_account(sessions, "d1", "dispatcher", "pw-123456789")
    await create_account(sessions, "home1", "seat", "pw-123456789")
    now = dt.datetime.now(dt.UTC)
    async with sessions() as s, s.begin():
        s.add(
            SeatProfile(seat_id="s2002", skills={}, groups=[], kind="onsite", phone="desk", number="", updated_at=now)
        )
        s.add(
            SeatProfile(
                seat_id="home1",
                skills={},
                groups=[],
                kind="cloud",
                phone="external",
                number="13900001111",
                updated_at=now,
            )
        )
    devices = {d.seat_id: d for d in await seat_devices(sessions, await phone_profiles(sessions))}
    await engine.dispose()
    assert set(devices) == {"s2001", "s2002", "boss1", "home1"}
    assert devices["s2001"].kind == "webrtc" and devices["s2002"].kind == "desk"
    assert devices["home1"].dial_string() == "PJSIP/13900001111@trunk-out"

    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password)
    ari = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    await ami.connect()
    try:
        await provision(settings, list(devices.values()), ami, ari)
        names = {e["resource"] for e in await ari.endpoints() if e["technology"] == "PJSIP"}
        assert {"seats2001", "seats2002", "seatboss1"} <= names
        assert "seathome1" not in names  # reached through the trunk, no endpoint of its own
    finally:
        await ami.close()
        await ari.close()
