"""Supervision on the real work orders (through ``ctx.deps.workorders``, as the engine wires it): the
supervised unit comes from the order's dispatch, and the overdue rule reads the order's reply time."""

import datetime as dt
import time

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from supervision import plugin as supervision_plugin
from supervision.http import LETTERS, SERVICE
from tests.integration.supervision.conftest import Clock
from workorders import plugin as workorders_plugin
from workorders.http import SERVICE as WO_SERVICE

CST = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 3, 10, 9, 0, tzinfo=CST)  # a plain Tuesday
USERS = [("seat1", "seat", None), ("disp1", "dispatcher", None), ("sup1", "supervisor", None)]
USERS += [("admin1", "admin", None), ("water1", "unit", "water")]


async def test_a_supervision_and_an_overdue_letter_on_a_dispatched_order(db_url, tmp_path):
    await upgrade(db_url)
    engine = make_engine(db_url)
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    sessions = make_sessionmaker(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    app = web.Application(middlewares=[error_middleware])
    workorders_plugin.install(app, ctx)
    supervision_plugin.install(app, ctx)
    app.cleanup_ctx.clear()  # no background watch: the clock stands still
    clock = Clock(START)
    for svc in (app[WO_SERVICE], app[SERVICE], app[LETTERS]):
        svc.clock = clock
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
                    created_at=START,
                )
            )
    client = TestClient(TestServer(app))
    await client.start_server()
    expires = int(time.time()) + 3600
    tokens = {n: auth.make_token(settings.secret_key, n, r, u, expires) for n, r, u in USERS}

    async def call(user, method, path, **kw):
        resp = await client.request(method, path, headers={"Authorization": f"Bearer {tokens[user]}"}, **kw)
        return resp.status, await resp.json()

    try:
        directory = {"units": [{"code": "water", "name": "水务公司", "tier": 1}], "categories": [{"code": "城建"}]}
        assert (await call("admin1", "PUT", "/api/workorders/units", json=directory))[0] == 200
        order = {"title": "小区停水", "content": "停水两天", "citizen_phone": "13800000000", "channel": "phone"}
        status, created = await call(
            "seat1", "POST", "/api/workorders", json={**order, "type": "complaint", "category": "城建"}
        )
        assert status == 201, created
        oid = created["id"]
        assert (await call("seat1", "POST", f"/api/workorders/{oid}/actions/submit", json={}))[0] == 200
        status, body = await call(
            "disp1", "POST", f"/api/workorders/{oid}/actions/dispatch", json={"lead_unit": "water"}
        )
        assert status == 200, body

        body = {"order_ids": [oid], "level": "general", "working_days": 2, "instructions": "尽快恢复供水"}
        status, sup = await call("sup1", "POST", "/api/supervision/supervisions", json=body)
        assert status == 201 and sup["unit"] == "water", sup
        status, ledger = await call("water1", "GET", "/api/supervision/supervisions")
        assert ledger["supervisions"][0]["orders"] == [{"id": oid, "title": "小区停水"}]

        status, made = await call("sup1", "POST", "/api/supervision/letters/run", json={"rules": ["overdue"]})
        assert status == 201 and made["created"] == 0  # not due yet
        clock.at = START + dt.timedelta(days=14)  # past the complaint's 5 working days
        status, made = await call("sup1", "POST", "/api/supervision/letters/run", json={"rules": ["overdue"]})
        assert status == 201 and made["created"] == 1, made
        letter = made["letters"][0]
        assert (letter["unit"], letter["unit_name"], letter["order_ids"]) == ("water", "水务公司", [oid])
        assert f"第{oid}号工单（小区停水）" in letter["facts"]
        resp = await client.get(
            "/workorders/kpi?from=2026-03-01&to=2026-03-31", headers={"Authorization": f"Bearer {tokens['sup1']}"}
        )
        page = await resp.text()
        assert resp.status == 200 and "督办按期办结率" in page and "（0/1）" in page, page  # due 12 March, open
    finally:
        await client.close()
        await engine.dispose()
