"""The scheduling API and the shift manager's page over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from acd.core.config import QueueConfig
from acd.core.events import ContactArrived, QueueConfigured, SeatLoggedIn
from acd.service import AcdService
from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from scheduling import plugin
from scheduling.core.roster import generate
from scheduling.core.shifts import Seat, default_templates
from scheduling.http import SERVICE
from scheduling.services import publish_roster

pytestmark = pytest.mark.integration
CHINA = dt.timezone(dt.timedelta(hours=8))
USERS = [("sup1", "supervisor"), ("seat1", "seat")]


@dataclass
class Env:
    client: TestClient
    app: web.Application
    tokens: dict[str, str]

    async def call(self, user: str | None, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        resp = await self.client.request(method, path, headers=headers, **kw)
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


@pytest.fixture
async def env(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    # SQLite only: these tests are about the API and the page; the same storage calls run on both
    # databases in test_surge_service.py, and a PostgreSQL database per test here costs seconds.
    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    sessions = make_sessionmaker(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    ctx.deps.acd = AcdService(ctx.deps.bus)  # as the ACD's plugin, installed before, provides it
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, ctx)
    app.cleanup_ctx.clear()  # the surge tick loop is tested through SchedulingService.tick
    now = dt.datetime.now(dt.UTC)
    async with sessions() as s, s.begin():
        for name, role in USERS:
            s.add(
                auth.Account(
                    username=name, display_name=name, role=role, password_hash="x", active=True, created_at=now
                )
            )
    client = TestClient(TestServer(app))
    await client.start_server()
    expires = int(time.time()) + 3600
    tokens = {name: auth.make_token(settings.secret_key, name, role, None, expires) for name, role in USERS}
    try:
        yield Env(client, app, tokens)
    finally:
        await client.close()
        await engine.dispose()


async def test_staffing_api_answers_the_textbook_case_and_refuses_bad_input(env: Env) -> None:
    status, body = await env.call("sup1", "GET", "/api/scheduling/staffing?arrivals_per_hour=600&aht=240&target=0.8")
    assert status == 200 and body["seats"] == 46
    status, body = await env.call("sup1", "GET", "/api/scheduling/staffing?arrivals_per_hour=abc&aht=240")
    assert status == 400 and "数字" in body["detail"]
    # Beyond what a hotline can have: refused before any computation, naming the bound.
    status, body = await env.call("sup1", "GET", "/api/scheduling/staffing?arrivals_per_hour=1e12&aht=240")
    assert status == 400 and "100000" in body["detail"]
    status, body = await env.call("sup1", "GET", "/api/scheduling/staffing?arrivals_per_hour=600&aht=240&patience=1e9")
    assert status == 400 and "patience" in body["detail"]
    # Seats (and member units) have no use for staffing figures.
    status, _ = await env.call("seat1", "GET", "/api/scheduling/staffing?arrivals_per_hour=600&aht=240")
    assert status == 403
    status, _ = await env.call(None, "GET", "/api/scheduling/staffing?arrivals_per_hour=600&aht=240")
    assert status == 401


async def test_surge_through_the_api_logs_cloud_seats_in_and_is_recorded(env: Env) -> None:
    acd = env.app[SERVICE].acd
    await acd.feed(QueueConfigured(acd.now(), QueueConfig("general", skills=(("general", 1),))))
    await acd.feed(ContactArrived(acd.now(), "c1", "voice", "general", skills=(("general", 1),)))
    body = {
        "action": "surge",
        "why": "暴雨",
        "minutes": 60,
        "seats": [{"seat_id": "9001", "number": "13900000001", "skills": {"general": 1}}],
    }
    status, _ = await env.call("seat1", "POST", "/api/scheduling/actions", json=body)
    assert status == 403  # seats cannot call a surge
    status, reply = await env.call("sup1", "POST", "/api/scheduling/actions", json=body)
    assert status == 200 and reply["surge"] == "active"
    assert acd.core.seat_state("9001")["kind"] == "cloud"
    assert acd.core.seat_state("9001")["offer"] == "c1"  # the waiting caller is offered at once
    status, log = await env.call("sup1", "GET", "/api/scheduling/actions")
    assert [(a["who"], a["kind"], a["why"]) for a in log["actions"]] == [("sup1", "ActivateSurge", "暴雨")]
    status, reply = await env.call(
        "sup1", "POST", "/api/scheduling/actions", json={"action": "end_surge", "why": "恢复"}
    )
    assert status == 200 and reply["surge"] == "ending"
    status, reply = await env.call(
        "sup1", "POST", "/api/scheduling/actions", json={"action": "end_surge", "why": "again"}
    )
    assert status == 409


BAD_ACTIONS: list[tuple[dict[str, Any], str]] = [
    ({"action": "surge", "seats": []}, "why"),
    ({"action": "surge", "why": "x", "seats": []}, "云座席"),
    ({"action": "surge", "why": "x", "seats": [{"seat_id": "9", "number": "abc", "skills": {"g": 1}}]}, "数字"),
    ({"action": "move_seats", "why": "x", "seat_ids": ["1"], "skills": {"g": 0}}, "熟练度"),
    ({"action": "fly", "why": "x"}, "action"),
]


async def test_bad_actions_get_a_chinese_reason(env: Env) -> None:
    # One app for all cases: the database setup is the slow part and validation does not touch it.
    for body, needle in BAD_ACTIONS:
        status, reply = await env.call("sup1", "POST", "/api/scheduling/actions", json=body)
        assert status == 400 and needle in reply["detail"], (body, reply)
    status, reply = await env.call("sup1", "POST", "/api/scheduling/actions", data="not json")
    assert status == 400


async def test_page_shows_the_calculator_chart_and_log(env: Env) -> None:
    sessions = env.app[SERVICE].sessions
    assert sessions is not None
    need = [0] * 16 + [4] * 20 + [0] * 12
    roster = generate({"voice": need}, default_templates(), [Seat(f"S{i}", frozenset({"voice"})) for i in range(12)])
    await publish_roster(sessions, "week1", roster, dt.datetime(2026, 5, 11, tzinfo=CHINA), {"voice": need})
    status, chart = await env.call("sup1", "GET", "/api/scheduling/rosters/week1/chart?day=2026-05-11")
    assert status == 200
    line = chart["groups"]["voice"]
    assert line["required"] == need
    assert all(s >= r for s, r in zip(line["scheduled"], line["required"], strict=True))
    status, page = await env.call(
        "sup1", "GET", "/scheduling?roster=week1&day=2026-05-11&arrivals_per_hour=600&aht=240"
    )
    assert status == 200
    assert "排班与现场调度" in page and "<svg" in page and "缺员时段：0 个" in page
    assert "在线座席" in page and "50" in page
    status, page = await env.call("sup1", "GET", "/scheduling?arrivals_per_hour=-5&aht=240")
    assert status == 200 and "输入有误" in page
    status, _ = await env.call("seat1", "GET", "/scheduling")
    assert status == 403
    status, _ = await env.call("sup1", "GET", "/api/scheduling/rosters/week1/chart?day=11-05-2026")
    assert status == 400


async def test_intraday_compares_the_published_plan_with_live_counts_and_alerts(env: Env) -> None:
    service = env.app[SERVICE]
    assert service.sessions is not None
    today = dt.datetime.now(CHINA).date()
    arrivals = [60.0] * 48  # 120 calls an hour all day
    need = [14] * 48
    roster = generate({"voice": need}, default_templates(), [Seat(f"S{i}", frozenset({"voice"})) for i in range(90)])
    day0 = dt.datetime.combine(today, dt.time(), tzinfo=CHINA)
    await publish_roster(service.sessions, "today", roster, day0, {"voice": need}, {"voice": arrivals})
    acd = service.acd
    await acd.feed(QueueConfigured(acd.now(), QueueConfig("general", skills=(("general", 1),))))
    await acd.feed(SeatLoggedIn(acd.now(), "7001", (("general", 1),), ready=True))
    for i in range(5):
        await acd.feed(ContactArrived(acd.now(), f"c{i}", "voice", "general", skills=(("general", 1),)))
    status, body = await env.call("sup1", "GET", "/api/scheduling/intraday?roster=today&group=voice&aht=240")
    assert status == 200, body
    rows = body["rows"]
    assert len(rows) == 48
    current = max(r["interval"] for r in rows if r["logged_in"] is not None)
    assert rows[current]["actual"] >= 5
    assert rows[current]["logged_in"] == 1
    assert rows[current]["scheduled"] >= 14
    # A seat on today's voice shift counts for voice, and not for the internet group.
    from scheduling.models import RosterShiftRow

    now = dt.datetime.now(dt.UTC)
    async with service.sessions() as s:
        shift = (
            await s.execute(
                select(RosterShiftRow).where(RosterShiftRow.starts_at <= now, RosterShiftRow.ends_at > now).limit(1)
            )
        ).scalar_one()
    await acd.feed(SeatLoggedIn(acd.now(), shift.seat, (("general", 1),), ready=False))
    status, body = await env.call("sup1", "GET", "/api/scheduling/intraday?roster=today&group=voice&aht=240")
    assert body["rows"][current]["logged_in"] == 2 and body["rows"][current]["ready"] == 0  # 7001 is ringing
    assert body["alerts"] and body["alerts"][0]["interval"] == current
    assert body["alerts"][0]["missing"] >= 1
    status, page = await env.call("sup1", "GET", "/scheduling?roster=today")
    assert status == 200 and "当日实时" in page and "低于目标" in page
    status, body = await env.call("sup1", "GET", "/api/scheduling/intraday?roster=nope")
    assert status == 400 and "nope" in body["detail"]


async def test_a_planned_break_is_moved_in_the_published_roster_and_the_seat_is_told(env: Env) -> None:
    service = env.app[SERVICE]
    assert service.sessions is not None
    need = [0] * 16 + [2] * 16 + [0] * 16
    roster = generate({"voice": need}, default_templates(), [Seat(f"S{i}", frozenset({"voice"})) for i in range(6)])
    day0 = dt.datetime(2026, 5, 11, tzinfo=CHINA)
    await publish_roster(service.sessions, "moves", roster, day0, {"voice": need})
    shift = next(s for s in roster.shifts if s.breaks and s.seat)
    first = shift.breaks[0]
    old = day0 + dt.timedelta(minutes=30 * first.start)
    offset = first.start - shift.start
    new = old + dt.timedelta(minutes=30 if offset < 6 else -30)
    _, before = await env.call("sup1", "GET", "/api/scheduling/rosters/moves/chart?day=2026-05-11")
    notices: list[dict[str, Any]] = []
    service.bus.subscribe(f"seat.{shift.seat}", lambda _t, p: notices.append(p))
    body = {
        "action": "move_break",
        "why": "错峰休息",
        "roster": "moves",
        "seat_id": shift.seat,
        "from": old.isoformat(),
        "to": new.isoformat(),
    }
    status, reply = await env.call("sup1", "POST", "/api/scheduling/actions", json=body)
    assert status == 200, reply
    assert notices and new.strftime("%H:%M") in notices[-1]["text"]
    status, after = await env.call("sup1", "GET", "/api/scheduling/rosters/moves/chart?day=2026-05-11")
    assert status == 200
    was, now = before["groups"]["voice"]["scheduled"], after["groups"]["voice"]["scheduled"]
    new_slot = first.start + (1 if offset < 6 else -1)
    assert now[first.start] == was[first.start] + 1  # back on seat where the break was
    assert now[new_slot] == was[new_slot] - 1
    status, reply = await env.call(
        "sup1",
        "POST",
        "/api/scheduling/actions",
        json={**body, "from": new.isoformat(), "to": (old + dt.timedelta(hours=5)).isoformat()},
    )
    assert status == 409 and "slots after" in reply["detail"]
    status, log = await env.call("sup1", "GET", "/api/scheduling/actions")
    assert [a["kind"] for a in log["actions"]] == ["MoveBreak"]
