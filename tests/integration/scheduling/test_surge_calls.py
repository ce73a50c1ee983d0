"""A surge through the sandbox Asterisk: the manager's action logs a cloud seat in, and a real call
reaches it at its external number through the outbound trunk."""

from __future__ import annotations

import datetime as dt

import pytest

from acd.core.config import QueueConfig
from acd.core.events import QueueConfigured
from acd.voice.seats import SeatDevice
from hotline.migrate import upgrade
from hotline.storage import make_engine, make_sessionmaker
from scheduling.core.actions import ActivateSurge, CloudSeat
from scheduling.services import SchedulingService, load_actions
from tests.integration.acd.voice_harness import voice_stack
from tests.integration.asterisk import asterisk_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    return asterisk_settings()


@pytest.fixture
async def sessions(sqlite_url):  # type: ignore[no-untyped-def]
    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_surge_cloud_seat_answers_a_real_call_at_its_external_number(settings, sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with voice_stack(settings, sessions) as s:
        # Cloud seats serve contacts the ACD widens to them when the 15 s target is at risk, so the
        # queue widens on projection here (the shared harness's queues never widen).
        await s.acd.feed(QueueConfigured(now=s.acd.now(), queue=QueueConfig("general", skills=(("general", 1),))))
        home, log = await s.trunk(tmp_path)

        def register(seat: CloudSeat) -> None:
            s.voice.set_device(SeatDevice(seat.seat_id, kind="cloud", number=seat.number))

        service = SchedulingService(s.acd, s.acd.bus, sessions, cloud_device=register, queue="general")
        surge = ActivateSurge(
            (CloudSeat("8201", (("general", 2),), ring_delay_s=2.0, number="13900000021"),),
            until=s.acd.now() + 600,
            announcement="因突发事件来电较多，请您耐心等待。",
        )
        await service.act(surge, who="王班长", why="停水事件来电激增")
        caller = await s.call("13800000013", hold_ms=2500)
        assert await caller.wait(25) == 0
        assert await home.wait(15) == 0
        rec = await s.record()
        actions = await load_actions(sessions, dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert "INVITE sip:13900000021@" in log.read_text()
    assert rec["seat"] == "8201"
    assert [(a.who, a.kind) for a in actions] == [("王班长", "ActivateSurge")]
