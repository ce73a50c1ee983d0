"""The ledger and letters pages in headless Chromium: a supervisor opens a supervision from the
ledger's form, runs a rule over the cap and confirms it in the dialog; the unit acknowledges its
letter with the button and answers it."""

import os
import shutil
from pathlib import Path

import pytest

from hotline import auth
from tests.conftest import need_server
from tests.integration.supervision.conftest import NOW

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
async def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        need_server(f"Chromium not found at {CHROMIUM} (Debian package chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            await b.close()


async def page_as(browser, api, user):
    url = str(api.client.make_url("/"))
    context = await browser.new_context()
    await context.add_cookies([{"name": auth.COOKIE, "value": api.tokens[user], "url": url}])
    return await context.new_page(), url.rstrip("/")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_supervisor_and_a_unit_work_through_the_pages(api, browser):
    api.orders.add(12, title="路灯不亮")
    for i in range(20, 27):  # 7 overdue orders: over the cap of 5
        api.orders.add(i, reply_by=NOW.replace(hour=0))
    page, base = await page_as(browser, api, "sup1")
    await page.goto(f"{base}/supervision/")
    await page.click("text=发起督办")
    form = page.locator('form[data-api="/api/supervision/supervisions"]')
    await form.locator('input[name="order_ids"]').fill("12")
    await form.locator('select[name="level"]').select_option("key")
    await form.locator('textarea[name="instructions"]').fill("三日内恢复照明")
    async with page.expect_navigation():
        await form.locator("button").click()
    row = page.locator("table tr", has_text="路灯不亮")
    assert "重点" in await row.inner_text() and "剩余 3 个工作日" in await row.inner_text()

    await page.goto(f"{base}/supervision/letters")
    await page.click("text=按规则生成")
    run = page.locator('form[data-api="/api/supervision/letters/run"]')
    await run.locator('input[value="overdue"]').check()
    dialogs = []

    async def accept(dialog):
        dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    async with page.expect_navigation():
        await run.locator("button").click()
    assert dialogs and "7 份" in dialogs[0] and "上限 5" in dialogs[0]
    assert await page.locator("text=如皋12345提〔2026〕第7号").count() == 1

    unit, _ = await page_as(browser, api, "water1")
    await unit.goto(f"{base}/supervision/letters")
    first = unit.locator("table tr", has_text="第1号")
    assert await first.get_attribute("class") == "unread"
    # The letter's PDF, from its link on the unit's page, with the unit's own login.
    href = await first.locator("a", has_text="PDF").get_attribute("href")
    assert href
    pdf = await unit.request.get(f"{base}{href}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF-")
    async with unit.expect_navigation():
        await first.locator("text=签收").click()
    first = unit.locator("table tr", has_text="第1号")
    await first.locator('input[name="answer"]').fill("已派员处理")
    async with unit.expect_navigation():
        await first.locator("text=反馈").click()
    assert "已反馈" in await unit.locator("table tr", has_text="第1号").inner_text()
    status, body = await api.call("sup1", "GET", "/api/supervision/letters?state=answered")
    assert status == 200
    assert [x["answer"] for x in body["letters"]] == ["已派员处理"]
