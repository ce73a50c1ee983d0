"""The reports page in headless Chromium: a supervisor logs in on the console's sign-in form, asks
for the daily report of a day with stored orders and contact figures, opens it from /reports and
sees its SVG charts and figures; the PDF and XLSX links answer their types; the day's data
quality findings are listed by kind."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from hotline.app import error_middleware
from hotline.storage import IntervalFigures
from reports import plugin
from reports.http import SERVICE
from reports.settings import ReportSettings
from tests.browser.test_console_pages import login
from tests.integration.agent_console.harness import Engine
from tests.integration.reports.conftest import add_orders
from tests.integration.reports.test_quality_api import DAY, stored
from tests.unit.reports.data import ORDERS, figures
from workorders.core.model import State

pytestmark = pytest.mark.browser
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def reports(engine: Engine) -> AsyncIterator[str]:
    """The reports feature on the engine's context (its database, its secret): the console's login
    cookie, kept for the host, is good on this server too."""
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, engine.ctx)
    app[SERVICE].settings = ReportSettings(schedule=False, spike_every_s=3600)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def seed(engine: Engine) -> None:
    await add_orders(engine.ctx.sessions, ORDERS)  # the hand-made day, 2026-03-10
    async with engine.ctx.sessions() as s, s.begin():
        for f in figures():
            s.add(
                IntervalFigures(
                    interval_start=f.interval_start,
                    kind="contacts",
                    queue=f.queue,
                    channel=f.channel,
                    figures=dict(f.figures),
                    updated_at=DAY,
                )
            )
        s.add(stored(101, DAY - dt.timedelta(days=1), State.HANDLING))
        s.add(stored(102, DAY, State.HANDLING, content="如城街道某小区从昨晚开始停水，自来水一直没有来，请尽快处理"))
        s.add(stored(104, DAY, State.DISPATCHED, unit=None, phone="", address="", title="<i>水管漏水</i>"))


async def test_a_supervisor_reads_the_daily_report_its_downloads_and_the_quality_findings(
    engine: Engine, reports: str, browser: Any
) -> None:
    await engine.account("boss", "supervisor")
    await seed(engine)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, engine, "/console/", "boss")
    await expect(page.locator("#login-user")).to_be_hidden()

    made = await page.request.post(reports + "/api/reports/daily", data={"date": "2026-03-10"})
    assert made.status == 201, await made.text()
    checked = await page.request.post(reports + "/api/reports/quality", data={"date": "2026-03-10"})
    assert checked.status == 201, await checked.text()

    await page.goto(reports + "/reports")
    row = page.locator("table tr", has_text="2026-03-10")
    await expect(row.first).to_be_visible()
    # the quality section: counts by kind and the findings, the order's markup shown as text
    assert await page.locator("#quality-date").inner_text() == "2026-03-10"
    assert await page.locator('.quality-summary tr[data-kind="duplicate"] .count').inner_text() == "1"
    assert await page.locator('.quality-summary tr[data-kind="missing_fields"] .count').inner_text() == "1"
    dup = page.locator('table.quality[data-kind="duplicate"] tr', has_text="102")
    assert "101" in await dup.inner_text() and "相似度" in await dup.inner_text()
    assert await page.locator("i", has_text="水管漏水").count() == 0

    links = row.first.locator("a")
    pdf_href = await links.filter(has_text="PDF").get_attribute("href")
    xlsx_href = await links.filter(has_text="XLSX").get_attribute("href")
    async with page.expect_navigation():
        await links.filter(has_text="HTML").click()
    await expect(page.locator("h1")).to_contain_text("运行日报")
    assert await page.locator("svg").count() >= 4
    assert await page.locator("svg rect, svg path, svg polyline, svg line").count() > 0
    body = await page.locator("body").inner_text()
    assert "人工座席15秒接通率" in body and "77.78%" in body and "66.67%" in body

    assert pdf_href and xlsx_href
    pdf = await page.request.get(reports + pdf_href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body())[:5] == b"%PDF-"
    xlsx = await page.request.get(reports + xlsx_href)
    assert xlsx.status == 200 and xlsx.headers["content-type"] == XLSX
    assert (await xlsx.body())[:2] == b"PK"
    assert errors == []
