import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from tests.conftest import pg_url
from workorders import plugin
from workorders.http import SERVICE

CST = dt.timezone(dt.timedelta(hours=8))
USERS = [
    ("seat1", "seat", None),
    ("disp1", "dispatcher", None),
    ("sup1", "supervisor", None),
    ("admin1", "admin", None),
    ("housing1", "unit", "housing"),
    ("housing2", "unit", "housing"),
    ("water1", "unit", "water"),
    ("housing-boss", "unit", "housing"),  # the housing bureau's leader (分管领导)
    ("water-boss", "unit", "water"),
]
LEADERS = frozenset({"housing-boss", "water-boss"})
PASSWORD = "correct horse 1"
_HASH = auth.hash_password(PASSWORD)


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@dataclass
class Env:
    client: TestClient
    service: Any
    clock: Clock
    tokens: dict[str, str]

    async def call(self, user: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        headers.update(kw.pop("headers", {}))
        resp = await self.client.request(method, path, headers=headers, **kw)
        body = await resp.json() if resp.content_type == "application/json" else await resp.read()
        return resp.status, body

    async def act(self, user: str, order_id: int, action: str, **data: Any) -> tuple[int, Any]:
        return await self.call(user, "POST", f"/api/workorders/{order_id}/actions/{action}", json=data)

    async def upload(
        self, user: str, order_id: int, kind: str, data: bytes = b"%PDF-1.4 proof", ctype: str = "application/pdf"
    ):
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("kind", kind)
        form.add_field("file", data, filename="证明.pdf", content_type=ctype)
        return await self.call(user, "POST", f"/api/workorders/{order_id}/attachments", data=form)


START = dt.datetime(2026, 3, 10, 9, 0, tzinfo=CST)  # a plain Tuesday


@contextlib.asynccontextmanager
async def running_env(kind, tmp, plugins=()):
    pg = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'hotline.db'}"
    else:
        pg = pg_url.__wrapped__()
        url = await pg.__anext__()
    await upgrade(url)
    engine = make_engine(url)
    settings = load_settings(data_dir=tmp, secret_key="test-secret-key")
    sessions = make_sessionmaker(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, ctx)
    for other in plugins:  # other features installed beside the work orders (supervision)
        other.install(app, ctx)
    app.cleanup_ctx.clear()  # the watch loop is tested on its own; keep the clock still here
    clock = Clock(START)
    app[SERVICE].clock = clock
    # One scrypt hash shared by all test accounts keeps the fixture fast; login itself is tested
    # in tests/integration/hotline/test_auth.py.
    async with sessions() as s, s.begin():
        for name, role, unit in USERS:
            s.add(
                auth.Account(
                    username=name,
                    display_name=name,
                    role=role,
                    unit_id=unit,
                    password_hash=_HASH,
                    active=True,
                    unit_leader=name in LEADERS,
                    created_at=clock.at,
                )
            )
    client = TestClient(TestServer(app))
    await client.start_server()
    resp = await client.post("/api/login", json={"username": "seat1", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    client.session.cookie_jar.clear()
    expires = int(time.time()) + 3600
    tokens = {name: auth.make_token(settings.secret_key, name, role, unit, expires) for name, role, unit in USERS}
    e = Env(client, app[SERVICE], clock, tokens)
    status, _ = await e.call(
        "admin1",
        "PUT",
        "/api/workorders/units",
        json={
            "units": [
                {"code": "housing", "name": "住建局", "tier": 1},
                {"code": "water", "name": "水务公司", "tier": 1},
            ],
            "categories": [{"code": "城建"}, {"code": "城建/物业"}, {"code": "城建/供水"}],
        },
    )
    assert status == 200
    try:
        yield e, engine
    finally:
        await client.close()
        await engine.dispose()
        if pg is not None:
            await pg.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def shared_env(request, tmp_path_factory):
    """One migrated database and one running app per database kind for the whole module: tests
    make their own orders (and KPI tests their own months), so they do not see each other."""
    async with running_env(request.param, tmp_path_factory.mktemp("wo")) as pair:
        yield pair


@pytest_asyncio.fixture(loop_scope="module")
async def env(shared_env):
    e, _engine = shared_env
    e.clock.at = START
    limit = e.service.settings.attachment_max_bytes
    yield e
    e.service.settings.attachment_max_bytes = limit
    e.client.session.cookie_jar.clear()


@pytest_asyncio.fixture(loop_scope="module")
async def engine(shared_env):
    return shared_env[1]
