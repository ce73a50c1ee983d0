"""The IVR plugin in a running app: flow info, reload that keeps the old flow, the diagram, the service."""

import datetime as dt
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.settings import SettingsError, load_settings
from hotline.storage import make_sessionmaker
from ivr import plugin
from ivr.core.messages import DigitsReceived, Enqueue, Play, PromptFinished, PromptRef

from .flows_text import GOOD, GOOD_V2

USERS = [("sup1", "supervisor"), ("seat1", "seat")]


@pytest.fixture
async def env(
    migrated_engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient, web.Application, Path, dict[str, str], AppContext]]:
    flow = tmp_path / "flow.toml"
    flow.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("HOTLINE_IVR__FLOW", str(flow))
    monkeypatch.setenv("HOTLINE_IVR__QUEUES", '["general", "business"]')
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    sessions = make_sessionmaker(migrated_engine)
    ctx = AppContext(settings=settings, engine=migrated_engine, sessions=sessions)
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, ctx)
    app.cleanup_ctx.clear()  # the poller is exercised through service.reload below
    async with sessions() as s, s.begin():
        for name, role in USERS:
            s.add(
                auth.Account(
                    username=name,
                    display_name=name,
                    role=role,
                    unit_id=None,
                    password_hash="x",
                    active=True,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
    tokens = {n: auth.make_token(settings.secret_key, n, r, None, int(time.time()) + 600) for n, r in USERS}
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client, app, flow, tokens, ctx
    finally:
        await client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_supervisor_sees_the_flow_and_a_bad_reload_keeps_it_in_service(env) -> None:  # type: ignore[no-untyped-def]
    client, _app, flow, tokens, _ = env
    resp = await client.get("/api/ivr/flow", headers=bearer(tokens["sup1"]))
    info = await resp.json()
    assert resp.status == 200 and info["name"] == "t" and info["nodes"] == 4
    flow.write_text(GOOD.replace('queue = "business"', 'queue = "nope"'), encoding="utf-8")
    resp = await client.post("/api/ivr/reload", headers=bearer(tokens["sup1"]))
    body = await resp.json()
    assert resp.status == 422 and body["issues"] == [
        f"{flow}:22: node q_business: unknown queue 'nope' (known: business, general)"
    ]
    assert (await (await client.get("/api/ivr/flow", headers=bearer(tokens["sup1"]))).json())["version"] == info[
        "version"
    ]
    flow.write_text(GOOD_V2, encoding="utf-8")
    resp = await client.post("/api/ivr/reload", headers=bearer(tokens["sup1"]))
    assert resp.status == 200 and (await resp.json())["version"] != info["version"]


async def test_seats_and_anonymous_users_cannot_reload_or_read_the_flow(env) -> None:  # type: ignore[no-untyped-def]
    client, _, _, tokens, _ = env
    assert (await client.post("/api/ivr/reload", headers=bearer(tokens["seat1"]))).status == 403
    assert (await client.get("/api/ivr/flow")).status == 401


async def test_the_flow_in_service_is_served_as_svg(env) -> None:  # type: ignore[no-untyped-def]
    client, _, _, tokens, _ = env
    resp = await client.get("/api/ivr/flow.svg", headers=bearer(tokens["sup1"]))
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert "<svg" in await resp.text()


class FakeCalendar:
    def day_kind(self, day: dt.date, allow_provisional: bool = False) -> tuple[bool, bool]:
        return day.day % 2 == 0, not allow_provisional


class FakeWorkOrders:
    def cal(self) -> FakeCalendar:
        return FakeCalendar()


async def test_the_service_gives_sessions_on_the_flow_in_service_with_the_work_order_calendar(env) -> None:  # type: ignore[no-untyped-def]
    _, app, flow, _, ctx = env
    service = app[plugin.SERVICE]
    call = service.new_session("13812345678", dt.datetime(2026, 11, 26, 10, 0))
    assert call.start() == [Play((PromptRef("welcome"),))]
    assert call.calendar(dt.date(2026, 11, 26)) is True  # chinese_calendar: a Thursday
    flow.write_text(GOOD_V2, encoding="utf-8")
    st = flow.stat()
    os.utime(flow, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert service.reload(only_if_changed=True) is None
    call.on_event(PromptFinished())
    assert call.on_event(DigitsReceived("1")) == [Enqueue("general", (), 0)]  # the call kept its flow
    later = service.new_session("13812345678", dt.datetime(2026, 11, 26, 10, 0))
    later.start()
    later.on_event(PromptFinished())
    assert later.on_event(DigitsReceived("1")) == [Enqueue("business", (), 0)]
    ctx.deps.workorders = FakeWorkOrders()  # installed after the IVR; looked up per call
    odd_day = service.new_session("13812345678", dt.datetime(2026, 11, 27, 10, 0))
    assert odd_day.calendar(dt.date(2026, 11, 27)) is False
    assert service.new_survey().start()[0] == Play((PromptRef("survey_ask"),), barge_in=True)


def test_a_flow_that_cannot_go_into_service_stops_the_start_with_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[flow]\nstart = 'x'\n", encoding="utf-8")
    monkeypatch.setenv("HOTLINE_IVR__FLOW", str(bad))
    settings = load_settings(data_dir=tmp_path, secret_key="k")
    ctx = AppContext(settings=settings, engine=None, sessions=None)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="cannot go into service"):
        plugin.install(web.Application(), ctx)
