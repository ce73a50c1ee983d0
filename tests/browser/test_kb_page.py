"""The citizens' /kb/ page in headless Chromium: it finds a published entry and never an expired
one, and markup in an answer never runs (neither what the sanitiser stored nor a row that escaped it)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect
from sqlalchemy import update

from hotline.app import error_middleware
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from knowledge import plugin
from knowledge.core.model import Actor
from knowledge.http import SERVICE
from knowledge.models import KbEntry

NOW = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
XSS = '<p>带身份证到窗口办理<script>window.__ran = 1</script><img src=x onerror="window.__ran = 2"></p>'


def entry(entry_id: str, question: str, answer: str, **kw: Any) -> str:
    data = {"id": entry_id, "question": question, "answer": answer, "category": "住房/公积金", "scope": "city"}
    data |= {"unit": "gjj", "valid_from": "2024-01-01", "valid_to": None, "keywords": [], **kw}
    return json.dumps(data, ensure_ascii=False)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}"
    await upgrade(url)
    engine = make_engine(url)
    ctx = AppContext(settings=load_settings(data_dir=tmp_path), engine=engine, sessions=make_sessionmaker(engine))
    app = web.Application(middlewares=[error_middleware])
    plugin.install(app, ctx)
    svc = app[SERVICE]
    svc.clock = lambda: NOW
    lines = [
        entry("gjj-live", "住房公积金提取需要哪些材料", "<p>身份证和<b>银行卡</b></p>", scope="海安区"),
        entry("gjj-old", "2023年住房公积金提取材料（旧）", "<p>旧规定</p>", valid_to="2023-12-31"),
        entry("xss-1", "医保卡丢失怎么补办", XSS, category="社会保障/医疗保险"),
        entry("raw-1", "居住证怎么办理", "<p>安全文本</p>", category="公安/户籍"),
    ]
    await svc.import_lines(lines, Actor("admin1", "admin", None))
    # A row that escaped the sanitiser (written straight to the table): the page must still be safe.
    async with engine.begin() as conn:
        await conn.execute(update(KbEntry.__table__).where(KbEntry.__table__.c.id == "raw-1").values(answer=XSS))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
        await engine.dispose()


async def open_page(browser: Any, base: str, errors: list[str]) -> Any:
    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: errors.append("dialog " + d.message))
    await page.goto(base + "/kb/")
    await expect(page.locator("#scope option")).to_have_count(3)  # 全部地区, 全市, 海安区
    return page


async def test_the_page_finds_a_published_entry_and_never_an_expired_one(site: str, browser: Any) -> None:
    errors: list[str] = []
    page = await open_page(browser, site, errors)
    await page.fill("#q", "公积金提取要带什么材料")
    await page.click("#btn-search")
    cards = page.locator("#results .card")
    await expect(cards.first).to_have_attribute("data-id", "gjj-live")
    await expect(cards.first.locator(".question")).to_have_text("住房公积金提取需要哪些材料")
    await expect(cards.first.locator(".answer b")).to_have_text("银行卡")
    await expect(cards.first.locator(".scope")).to_have_text("海安区")
    await expect(cards.first.locator(".category")).to_have_text("住房/公积金")
    assert "gjj-old" not in await page.locator("#results").inner_html()
    assert "旧规定" not in await page.locator("#results").inner_text()
    await expect(page.locator("#to-chat")).to_have_attribute("href", "/chat/")
    await expect(page.locator("#to-call")).to_have_text("拨打 12345")
    # A 10,000-character question is cut and searched, not refused.
    await page.fill("#q", "公积金提取" * 2000)
    await page.click("#btn-search")
    await expect(page.locator("#status")).to_contain_text("已按前 200 字查询")
    await expect(cards.first).to_have_attribute("data-id", "gjj-live")
    assert errors == []


async def test_script_and_onerror_in_an_answer_never_run_and_the_text_is_shown(site: str, browser: Any) -> None:
    errors: list[str] = []
    page = await open_page(browser, site, errors)
    for q, entry_id in (("医保卡丢失补办", "xss-1"), ("居住证办理", "raw-1")):
        await page.fill("#q", q)
        await page.click("#btn-search")
        card = page.locator(f'#results .card[data-id="{entry_id}"]')
        await expect(card.locator(".answer")).to_have_text("带身份证到窗口办理")
        assert await card.locator(".answer script, .answer img").count() == 0
        await page.wait_for_timeout(300)  # time for an image's error handler, had one been made
        assert await page.evaluate("window.__ran === undefined")
    assert errors == []
