"""The dispatcher / unit page in headless Chromium: login, list, order, an action; text stays text."""

import os
import shutil
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import need_server
from tests.integration.workorders.conftest import PASSWORD, running_env

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]
CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_env(tmp_path_factory):
    """The page does not depend on the database: one run on SQLite is enough here."""
    async with running_env("sqlite", tmp_path_factory.mktemp("wo-browser")) as pair:
        yield pair


async def test_a_unit_logs_in_signs_an_order_and_hostile_text_is_shown_as_text(env):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        need_server(f"Chromium not found at {CHROMIUM}")
    from playwright.async_api import async_playwright

    hostile = '<img src=x onerror="window.pwned=1">'
    status, order = await env.call(
        "seat1",
        "POST",
        "/api/workorders",
        json={"title": hostile, "content": hostile, "type": "help", "category": "城建/物业"},
    )
    assert status == 201
    oid = order["id"]
    await env.act("seat1", oid, "submit")
    await env.act("disp1", oid, "dispatch", lead_unit="housing")
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
            link = page.locator(f'#rows a[href="#{oid}"]')
            await link.wait_for()
            row_text = await page.locator("#rows tr", has=page.locator(f'a[href="#{oid}"]')).inner_text()
            assert hostile in row_text and "待签收" in row_text
            await link.click()
            await page.locator("#d-actions button", has_text="签收").click()
            await page.locator("#d-title", has_text="办理中").wait_for()
            assert await page.locator("#rows img, #d-title img, #d-content img").count() == 0
            assert await page.evaluate("window.pwned === undefined")
        finally:
            await browser.close()
    _, after = await env.call("disp1", "GET", f"/api/workorders/{oid}")
    assert after["state"] == "handling" and after["history"][-1]["actor"] == "housing1"


async def test_a_leader_sees_the_reply_waiting_for_them_and_approves_it_on_the_page(env):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        need_server(f"Chromium not found at {CHROMIUM}")
    from playwright.async_api import async_playwright

    hostile = '<img src=x onerror="window.pwned=1">'
    body = {"title": "特殊件", "content": "燃气泄漏隐患", "type": "help", "category": "城建/物业", "urgency": "special"}
    status, order = await env.call("seat1", "POST", "/api/workorders", json=body)
    assert status == 201
    oid = order["id"]
    await env.act("seat1", oid, "submit")
    await env.act("disp1", oid, "dispatch", lead_unit="housing")
    await env.act("housing1", oid, "sign")
    await env.upload("housing1", oid, "evidence")
    reply = {"handling": hostile, "resolution": "已处置", "contact": "电话告知"}
    status, waiting = await env.act("housing1", oid, "submit_reply", **reply)
    assert (status, waiting["state"]) == (200, "leader_review"), waiting
    base = str(env.client.make_url("/workorders/"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"])
        try:
            page = await browser.new_page()
            page.set_default_timeout(8000)
            await page.goto(base)
            await page.fill("input[name=username]", "housing-boss")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login-form button")
            link = page.locator(f'#rows a[href="#{oid}"]')
            await link.wait_for()
            assert "分管领导" in await page.locator("#who").inner_text()
            row = page.locator("#rows tr", has=page.locator(f'a[href="#{oid}"]'))
            assert "待领导审核" in await row.inner_text()
            await link.click()
            box = page.locator("#d-reply")
            await box.locator("text=重大/特殊件").wait_for()
            assert hostile in await box.inner_text()
            assert await page.locator("#d-actions button", has_text="退回承办人修改").count() == 1
            form = page.locator("#d-actions fieldset", has_text="领导审核通过")
            await form.locator("input").fill("同意上报")
            await form.locator("button").click()
            await page.locator("#d-title", has_text="答复待审核").wait_for()
            await box.locator("text=housing-boss").wait_for()
            assert "同意上报" in await box.inner_text()
            assert await page.locator("#d-reply img").count() == 0
            assert await page.evaluate("window.pwned === undefined")
        finally:
            await browser.close()
    _, after = await env.call("disp1", "GET", f"/api/workorders/{oid}")
    assert after["state"] == "replied" and after["history"][-1]["actor"] == "housing-boss"
