"""The reports' API on a migrated database (SQLite and PostgreSQL) holding the hand-made day."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import IntervalFigures, make_engine, make_sessionmaker
from reports import plugin
from reports.core.figures import OrderRow
from reports.http import SERVICE
from reports.services import ReportService
from reports.settings import ReportSettings
from tests.unit.reports.data import ORDERS, figures
from workorders.core.model import order_to_dict
from workorders.models import WoOrder, WoUnit

NOW = dt.datetime(2026, 3, 11, 2, 0, tzinfo=dt.UTC)  # 10:00 in China, the day after the hand-made day
USERS = [("seat1", "seat", None), ("sup1", "supervisor", None), ("admin1", "admin", None)]


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def wo_row(r: OrderRow) -> WoOrder:
    o = r.order
    return WoOrder(
        id=r.id,
        state=o.state.value,
        urgency=o.urgency.value,
        category=r.category,
        lead_unit=r.lead_unit,
        title=r.title,
        address=r.address,
        channel=r.channel,
        created_at=r.created_at.astimezone(dt.UTC),
        updated_at=r.created_at.astimezone(dt.UTC),
        closed_at=o.closed_at.astimezone(dt.UTC) if o.closed_at else None,
        reply_by=o.current.reply_by.astimezone(dt.UTC) if o.current else None,
        core=order_to_dict(o),
    )


async def add_orders(sessions: Any, rows: list[OrderRow]) -> None:
    async with sessions() as s, s.begin():
        for r in rows:
            s.add(wo_row(r))


@dataclass
class Api:
    client: TestClient
    service: ReportService
    tokens: dict[str, str]
    sessions: Any
    published: list[tuple[str, dict[str, Any]]]

    async def call(self, user: str | None, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        resp = await self.client.request(method, path, headers=headers, **kw)
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        if resp.content_type.startswith("text/"):
            return resp.status, await resp.text()
        return resp.status, await resp.read()


@pytest.fixture
async def api(db_url: str, tmp_path: Any) -> Any:
    await upgrade(db_url)
    engine = make_engine(db_url)
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    sessions = make_sessionmaker(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    published: list[tuple[str, dict[str, Any]]] = []
    ctx.deps.bus.subscribe("console.to_supervisors", lambda topic, payload: published.append((topic, payload)))
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, ctx)
    svc = app[SERVICE]
    svc.clock = Clock(NOW)
    svc.settings = ReportSettings(schedule=False, spike_every_s=3600)
    hashed = auth.hash_password("correct horse 1")
    async with sessions() as s, s.begin():
        for name, role, unit in USERS:
            s.add(
                auth.Account(
                    username=name,
                    display_name=name,
                    role=role,
                    unit_id=unit,
                    password_hash=hashed,
                    active=True,
                    created_at=NOW,
                )
            )
        for code, name in (("water", "水务局"), ("env", "生态环境局"), ("housing", "住建局"), ("edu", "教育局")):
            s.add(WoUnit(code=code, name=name, tier=1))
        for f in figures():
            s.add(
                IntervalFigures(
                    interval_start=f.interval_start,
                    kind="contacts",
                    queue=f.queue,
                    channel=f.channel,
                    figures=dict(f.figures),
                    updated_at=NOW,
                )
            )
    await add_orders(sessions, ORDERS)
    client = TestClient(TestServer(app))
    await client.start_server()
    expires = int(time.time()) + 3600
    tokens = {n: auth.make_token(settings.secret_key, n, r, u, expires) for n, r, u in USERS}
    try:
        yield Api(client, svc, tokens, sessions, published)
    finally:
        await client.close()
        await engine.dispose()
