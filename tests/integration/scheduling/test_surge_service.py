"""A manager's surge through the running ACD service, logged in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from acd.core.commands import Command, Offer
from acd.core.config import AcdSettings, QueueConfig
from acd.core.engine import Acd
from acd.core.events import ContactArrived, OfferAccepted, QueueConfigured, SeatLoggedIn
from acd.service import AcdService
from hotline.bus import Bus
from hotline.storage import Interaction, make_sessionmaker
from scheduling.core.actions import ActivateSurge, CloudSeat, EndSurge, MoveSeats
from scheduling.core.roster import generate
from scheduling.core.shifts import Seat, default_templates
from scheduling.models import ManagerActionRow, RosterShiftRow
from scheduling.services import SchedulingService, load_actions, load_history, publish_roster

pytestmark = pytest.mark.integration
SKILLS = (("general", 1),)
CHINA = dt.timezone(dt.timedelta(hours=8))


class Recorder:
    def __init__(self) -> None:
        self.commands: list[Command] = []

    async def execute(self, command: Command) -> None:
        self.commands.append(command)


class Clock:
    def __init__(self) -> None:
        self.t = 1_780_000_000.0

    def __call__(self) -> float:
        return self.t


async def acd_with_one_busy_desk_seat() -> tuple[AcdService, Recorder, Clock, Bus]:
    clock = Clock()
    bus = Bus()
    acd = AcdService(bus, Acd(AcdSettings()), clock=clock)
    recorder = Recorder()
    acd.register("voice", recorder)
    await acd.feed(QueueConfigured(clock(), QueueConfig("general", skills=SKILLS)))
    await acd.feed(SeatLoggedIn(clock(), "7001", SKILLS, ready=True))
    await acd.feed(ContactArrived(clock(), "c0", "voice", "general", skills=SKILLS))
    await acd.feed(OfferAccepted(clock(), "c0", "7001"))
    return acd, recorder, clock, bus


async def test_surge_adds_cloud_seats_that_receive_the_waiting_calls(migrated_engine) -> None:
    acd, recorder, clock, bus = await acd_with_one_busy_desk_seat()
    sessions = make_sessionmaker(migrated_engine)
    registered: list[CloudSeat] = []
    announcements: list[dict[str, object]] = []
    bus.subscribe("ivr.announcement", lambda _t, p: announcements.append(p))
    service = SchedulingService(acd, bus, sessions, cloud_device=registered.append, queue="general")
    for i in range(1, 4):
        await acd.feed(ContactArrived(clock(), f"c{i}", "voice", "general", skills=SKILLS))
    assert acd.core.queue_snapshot("general")["waiting"] == 3  # the desk seat is busy: all wait
    before = len(recorder.commands)
    cloud = tuple(CloudSeat(f"9{i:03d}", SKILLS, number=f"1390000{i:04d}", ring_delay_s=3) for i in range(3))
    await service.act(
        ActivateSurge(cloud, until=clock() + 3600, announcement="因突发事件来电较多，请您耐心等待。"),
        who="张班长",
        why="暴雨内涝，来电激增",
    )
    offers = [c for c in recorder.commands[before:] if isinstance(c, Offer)]
    assert sorted(o.seat_id for o in offers) == ["9000", "9001", "9002"]
    assert sorted(o.contact_id for o in offers) == ["c1", "c2", "c3"]
    assert [s.number for s in registered] == ["13900000000", "13900000001", "13900000002"]
    assert announcements[-1]["active"] is True
    assert acd.core.seat_state("9000")["kind"] == "cloud"
    # The period ends: cloud seats stop taking calls but busy ones are not cut off.
    for offer in offers:
        await acd.feed(OfferAccepted(clock(), offer.contact_id, offer.seat_id))
    clock.t += 3601
    await service.tick()
    assert announcements[-1]["active"] is False
    assert acd.core.seat_state("9000")["state"] == "busy"
    rows = await load_actions(sessions, dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert [(r.who, r.kind) for r in rows] == [("张班长", "ActivateSurge"), ("system", "surge_end")]
    assert rows[0].why == "暴雨内涝，来电激增"
    assert rows[0].detail["until"] == pytest.approx(1_780_003_600.0)


async def test_moving_seats_changes_routing_at_once_and_is_logged(migrated_engine) -> None:
    acd, recorder, clock, bus = await acd_with_one_busy_desk_seat()
    await acd.feed(QueueConfigured(clock(), QueueConfig("business", skills=(("business", 1),))))
    await acd.feed(SeatLoggedIn(clock(), "7002", SKILLS, ready=True))
    await acd.feed(ContactArrived(clock(), "b1", "voice", "business", skills=(("business", 1),)))
    assert not any(isinstance(c, Offer) and c.contact_id == "b1" for c in recorder.commands)
    sessions = make_sessionmaker(migrated_engine)
    service = SchedulingService(acd, bus, sessions)
    await service.act(MoveSeats(("7002",), (("business", 2),), ()), who="李班长", why="涉企专席排队")
    assert any(isinstance(c, Offer) and c.contact_id == "b1" and c.seat_id == "7002" for c in recorder.commands)
    with pytest.raises(ValueError, match="not allowed"):
        await service.act(EndSurge(), who="李班长", why="no surge running")
    async with sessions() as s:
        kinds = [r.kind for r in (await s.execute(select(ManagerActionRow))).scalars()]
    assert kinds == ["MoveSeats"]


async def test_rosters_are_published_and_history_is_read_back(migrated_engine) -> None:
    sessions = make_sessionmaker(migrated_engine)
    need = [0] * 16 + [3] * 20 + [0] * 12
    roster = generate({"voice": need}, default_templates(), [Seat(f"S{i}", frozenset({"voice"})) for i in range(10)])
    day0 = dt.datetime(2026, 5, 11, tzinfo=CHINA)
    assert await publish_roster(sessions, "2026-05-11", roster, day0) == len(roster.shifts)
    assert await publish_roster(sessions, "2026-05-11", roster, day0) == len(roster.shifts)  # replaced
    async with sessions() as s:
        rows = list((await s.execute(select(RosterShiftRow))).scalars())
    assert len(rows) == len(roster.shifts)
    first = min(rows, key=lambda r: r.starts_at)
    starts = first.starts_at if first.starts_at.tzinfo else first.starts_at.replace(tzinfo=dt.UTC)
    assert starts == day0 + dt.timedelta(hours=8)
    async with sessions() as s, s.begin():
        for i, channel in enumerate(("voice", "wechat", "voice")):
            at = dt.datetime(2026, 5, 10, 1 + i, tzinfo=dt.UTC)  # 09:00+ in China
            s.add(Interaction(contact_id=f"h{i}", channel=channel, arrived_at=at, data={}))
    history = await load_history(
        sessions, dt.datetime(2026, 5, 10, tzinfo=dt.UTC), dt.datetime(2026, 5, 11, tzinfo=dt.UTC), CHINA
    )
    assert history == [
        (dt.datetime(2026, 5, 10, 9), "voice"),
        (dt.datetime(2026, 5, 10, 10), "wechat"),
        (dt.datetime(2026, 5, 10, 11), "voice"),
    ]
