"""The shift manager's page in headless Chromium: the surge form calls cloud seats in; text stays text."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acd.service import AcdService
from hotline import auth
from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from scheduling import plugin
from scheduling.http import SERVICE
from tests.conftest import need_server

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")


async def test_a_manager_activates_a_surge_from_the_page_and_hostile_text_stays_text(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        need_server(f"Chromium not found at {CHROMIUM}")
    from playwright.async_api import async_playwright

    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await upgrade(url)
    engine = make_engine(url)
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    sessions = make_sessionmaker(engine)
    app = web.Application(middlewares=[error_middleware])
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    ctx.deps.acd = AcdService(ctx.deps.bus)  # as the ACD's plugin, installed before, provides it
    plugin.install(app, ctx)
    app.cleanup_ctx.clear()
    async with sessions() as s, s.begin():
        s.add(
            auth.Account(
                username="sup1",
                display_name="sup1",
                role="supervisor",
                password_hash="x",
                active=True,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    client = TestClient(TestServer(app))
    await client.start_server()
    token = auth.make_token(settings.secret_key, "sup1", "supervisor", None, int(time.time()) + 3600)
    hostile = '<img src=x onerror="window.pwned=1">'
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"])
            try:
                context = await browser.new_context()
                base = str(client.make_url("/scheduling"))
                await context.add_cookies([{"name": auth.COOKIE, "value": token, "url": base}])
                page = await context.new_page()
                page.set_default_timeout(8000)
                await page.goto(base)
                assert await page.locator("#surge").inner_text() == "未启用"
                await page.fill("input[name=why]", hostile)
                await page.fill("input[name=seats]", "9001:13900000001,9002:13900000002")
                await page.click("#surge-form button[type=submit]")
                await page.locator("#surge", has_text="启用中").wait_for()
                log = await page.locator("h2:has-text('操作记录') + table").inner_text()
                assert hostile in log and "ActivateSurge" in log
                assert await page.locator("table img").count() == 0
                assert await page.evaluate("window.pwned === undefined")
            finally:
                await browser.close()
        desk = app[SERVICE].desk
        assert [s.seat_id for s in desk.surge_seats] == ["9001", "9002"]
        assert desk.log[-1].who == "sup1"
    finally:
        await client.close()
        await engine.dispose()
