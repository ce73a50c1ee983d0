import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from supervision import plugin
from supervision.core.model import OrderFacts
from supervision.http import LETTERS, SERVICE
from workorders.core.calendar import CHINA_TZ, WorkCalendar

NOW = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in China
USERS = [("seat1", "seat", None), ("sup1", "supervisor", None), ("admin1", "admin", None)]
USERS += [("water1", "unit", "water"), ("power1", "unit", "power")]
CALENDAR = WorkCalendar.build([dt.date(2026, 4, 6)], [], [2026])  # 清明 Monday 6 April off


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@dataclass
class FakeOrders:
    """The work orders as supervision sees them (the ``Orders`` port), held in memory."""

    orders: dict[int, OrderFacts] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=lambda: {"water": "市水务局", "power": "供电公司"})

    def calendar(self) -> WorkCalendar:
        return CALENDAR

    async def order(self, order_id: int) -> OrderFacts | None:
        return self.orders.get(order_id)

    async def recent(self) -> list[OrderFacts]:
        return list(self.orders.values())

    async def unit_names(self) -> dict[str, str]:
        return self.names

    def add(self, order_id: int, unit: str | None = "water", **kw: Any) -> None:
        self.orders[order_id] = OrderFacts(
            order_id, kw.pop("title", f"路灯不亮{order_id}"), unit, kw.pop("state", "handling"), **kw
        )


@dataclass
class Api:
    client: TestClient
    app: web.Application
    tokens: dict[str, str]
    orders: FakeOrders
    clock: Clock

    async def call(self, user: str | None, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        resp = await self.client.request(method, path, headers=headers, **kw)
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        if resp.content_type == "application/pdf":
            return resp.status, await resp.read()
        return resp.status, await resp.text()


@pytest.fixture
async def api(db_url, tmp_path):
    await upgrade(db_url)
    engine = make_engine(db_url)
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    sessions = make_sessionmaker(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, ctx)
    orders, clock = FakeOrders(), Clock(NOW)
    for svc in (app[SERVICE], app[LETTERS]):
        svc.orders, svc.clock = orders, clock  # fakes passed in: the port and the clock
    app[LETTERS].settings = app[LETTERS].settings.model_copy(update={"letters_cap": 5})
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
    client = TestClient(TestServer(app))
    await client.start_server()
    expires = int(time.time()) + 3600
    tokens = {n: auth.make_token(settings.secret_key, n, r, u, expires) for n, r, u in USERS}
    try:
        yield Api(client, app, tokens, orders, clock)
    finally:
        await client.close()
        await engine.dispose()


def china(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHINA_TZ)
