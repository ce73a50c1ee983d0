"""The notices on the work-order page in headless Chromium: the unread count, the list, 标为已读,
and the warning in the order's 处理记录."""

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import need_server
from tests.integration.workorders.conftest import CST, PASSWORD, running_env
from workorders.http import NOTICES
from workorders.plugin import watch_round

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]
CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_env(tmp_path_factory):
    """The page does not depend on the database: one run on SQLite is enough here."""
    async with running_env("sqlite", tmp_path_factory.mktemp("wo-notices-browser")) as pair:
        yield pair


async def test_a_unit_sees_its_warning_marks_it_read_and_finds_it_in_the_history(env):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        need_server(f"Chromium not found at {CHROMIUM}")
    from playwright.async_api import async_playwright

    status, order = await env.call(
        "seat1", "POST", "/api/workorders", json={"content": "停水", "type": "help", "category": "城建/供水"}
    )
    assert status == 201
    oid = order["id"]
    await env.act("seat1", oid, "submit")
    await env.act("disp1", oid, "dispatch", lead_unit="housing")
    env.clock.at = dt.datetime(2026, 3, 10, 10, 40, tzinfo=CST)
    await watch_round(env.service, env.client.server.app[NOTICES])
    base = str(env.client.make_url("/workorders/"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"])
        try:
            page = await browser.new_page()
            page.set_default_timeout(8000)
            await page.goto(base)
            await page.fill("input[name=username]", "housing1")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login-form button")
            await page.locator("#n-unread", has_text="1").wait_for()
            await page.click("#notices summary")
            row = page.locator("#n-rows tr", has=page.locator(f'a[href="#{oid}"]'))
            assert "预警" in await row.inner_text() and "签收期限为 2026-03-10 11:00" in await row.inner_text()
            await row.locator("button", has_text="标为已读").click()
            await page.locator("#n-unread", has_text="0").wait_for()
            await row.locator("a").click()
            await page.locator("#d-history td", has_text="期限预警").wait_for()
        finally:
            await browser.close()
