"""The knowledge base in the seat's console, in Chromium: a suggestion during a web chat is clicked
into the reply box and sent to the citizen; the search box, 纠错 and 向单位求助 send their requests;
an emergency list is pinned on the console while it is published."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from channels.settings import ChannelSettings, WebChatSettings
from knowledge.core.model import Actor
from tests.browser.test_console_pages import SHOTS, login
from tests.browser.test_webchat_page import citizen_page, ready_seat
from tests.integration.agent_console.harness import Engine, start_engine, stop_engine

ENTRIES = Path(__file__).resolve().parents[1] / "data" / "kb" / "entries.jsonl"


@pytest.fixture
async def kb_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = await start_engine(
        tmp_path, channels=ChannelSettings(webchat=WebChatSettings(position_every=0.3)), knowledge=True
    )
    assert e.console.kb is not None
    kb = e.console.kb.knowledge()
    assert kb is not None
    report = await kb.import_lines(ENTRIES.read_text().splitlines(), Actor("admin1", "admin"))
    assert report.created == 240
    try:
        yield e
    finally:
        await stop_engine(e)


async def test_a_suggested_answer_clicked_into_the_reply_box_reaches_the_citizen(
    kb_engine: Engine, browser: Any, tmp_path: Path
) -> None:
    engine = kb_engine
    errors: list[str] = []
    seat = await ready_seat(browser, engine, "1001", errors)
    citizen = await citizen_page(browser, engine, errors)
    await citizen.fill("#phone", "13900002222")
    await citizen.fill("#text", "你好")
    await citizen.click("#btn-send")
    await seat.click("#btn-accept")
    await expect(seat.locator("#chat-log")).to_contain_text("市民：你好")
    await expect(seat.locator("#kb-suggest")).to_be_hidden()

    await citizen.fill("#text", "我家门口的路灯坏了好几天了，晚上一片漆黑")
    await citizen.click("#btn-send")
    await expect(seat.locator("#chat-log")).to_contain_text("市民：我家门口的路灯坏了好几天了")
    first = seat.locator("#kb-suggest-list .kb-item").first
    await expect(first).to_be_visible()
    await expect(first.locator(".kb-q")).to_contain_text("路灯")
    answer = (await first.locator(".kb-a").text_content() or "").strip()
    assert answer and "<" not in answer

    async with seat.expect_request(lambda r: r.url.endswith("/api/kb/entries/kb-0133/used")) as used:
        await first.click()
    assert (await used.value).method == "POST"
    filled = await seat.input_value("#chat-text")
    assert filled == " ".join(answer.split())  # the answer as one line of plain text
    await seat.click("#btn-chat-send")
    await expect(citizen.locator("#log .msg.in").last).to_contain_text(filled[:40])
    await expect(seat.locator("#chat-text")).to_have_value("")

    # 纠错 on the suggestion: the request carries the reason; the entry is then shown with its warning.
    await first.locator(".kb-flag").click()
    await first.locator(".kb-reason").fill("报修电话已变更")
    async with seat.expect_request(lambda r: r.url.endswith("/api/kb/entries/kb-0133/flags")) as flag:
        await first.locator(".kb-flag-form button").click()
    request = await flag.value
    assert request.method == "POST" and json.loads(request.post_data or "{}") == {"reason": "报修电话已变更"}
    response = await request.response()
    assert response is not None and response.status == 201
    await expect(first.locator(".kb-warn")).to_have_text("此条目已被纠错，待单位修改")
    await expect(seat.locator("#chat-text")).to_have_value("")  # clicks in the form fill nothing

    # The search box: the corrected entry carries the warning, an expired one is marked.
    await seat.fill("#kb-q", "路灯不亮")
    await seat.click("#kb-search button")
    hit = seat.locator("#kb-results .kb-item[data-id=kb-0133]")
    await expect(hit.locator(".kb-warn")).to_have_text("此条目已被纠错，待单位修改")
    await expect(seat.locator("#kb-help")).to_be_visible()
    await seat.fill("#kb-help-unit", "citymgmt")
    async with seat.expect_request(lambda r: r.url.endswith("/api/kb/queries")) as asked:
        await seat.click("#kb-help button")
    body = json.loads((await asked.value).post_data or "{}")
    assert body["question"] == "路灯不亮" and body["unit"] == "citymgmt" and body["contact_id"].startswith("webchat-")

    # While a work order is written: suggestions for its text, one click adds the answer to it.
    await seat.click("#btn-workorder")
    await seat.fill("#wo-title", "路灯损坏")
    await seat.fill("#wo-content", "市民反映小区门口路灯不亮。")
    tip = seat.locator("#kb-order-list .kb-item").first
    await expect(tip.locator(".kb-q")).to_contain_text("路灯")
    async with seat.expect_request(lambda r: r.url.endswith("/used")):
        await tip.click()
    content = await seat.input_value("#wo-content")
    assert content.startswith("市民反映小区门口路灯不亮。\n") and len(content) > 30
    await expect(seat.locator("#chat-text")).to_have_value("")

    shots = SHOTS or tmp_path
    await seat.screenshot(path=str(shots / "console-knowledge.png"), full_page=True)
    assert errors == []


async def test_expired_entries_are_marked_and_an_emergency_list_is_pinned_until_withdrawn(
    kb_engine: Engine, browser: Any
) -> None:
    engine = kb_engine
    errors: list[str] = []
    seat = await ready_seat(browser, engine, "1001", errors)
    kb = engine.console.kb.knowledge()  # type: ignore[union-attr]
    rows = [json.loads(line) for line in ENTRIES.read_text().splitlines()]
    expired = next(r for r in rows if r["valid_to"] and dt.date.fromisoformat(r["valid_to"]) < dt.date.today())
    found = await kb.search(expired["question"], None, "seat", 8)  # type: ignore[union-attr]
    assert any(h.id == expired["id"] and h.expired for h in found.hits)
    await seat.fill("#kb-q", expired["question"])
    await seat.press("#kb-q", "Enter")
    await expect(seat.locator(f"#kb-results .kb-item[data-id={expired['id']}] .kb-tag")).to_have_text("已过期")

    await expect(seat.locator("#kb-emergency")).to_be_hidden()
    await engine.account("boss", "supervisor")
    board = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    board.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(board, engine, "/supervisor/", "boss")
    await expect(board.locator("#conn")).to_have_text("已连接")
    lst = {
        "id": "em-1",
        "title": "台风“海葵”应急答疑",
        "items": [{"question": "明天停课吗", "answer": "<p>全市中小学<b>停课</b>一天</p>"}],
        "unit": "应急管理局",
        "published_at": "2026-12-07T08:00:00+00:00",
    }
    await engine.ctx.deps.bus.publish("kb.emergency", {"action": "published", "list": lst})
    panel = seat.locator("#kb-emergency")
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("紧急答疑")
    await expect(panel).to_contain_text("台风“海葵”应急答疑")
    await expect(panel.locator(".kb-em-item .kb-a")).to_have_text("答：全市中小学停课一天")
    await expect(board.locator("#kb-emergency")).to_contain_text("台风“海葵”应急答疑")  # the supervisors' too
    await engine.ctx.deps.bus.publish("kb.emergency", {"action": "withdrawn", "list": {"id": "em-1"}})
    await expect(panel).to_be_hidden()
    await expect(board.locator("#kb-emergency")).to_be_hidden()

    # Through the knowledge base's API: published, pinned live, loaded again by a console opened
    # afterwards (GET /api/kb/emergency), gone when withdrawn.
    auth = {"Authorization": f"Bearer {engine.token('boss', 'supervisor')}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        items = [{"question": "停水到几点", "answer": "预计今晚20时恢复供水"}]
        resp = await http.post(engine.base + "/api/kb/emergency", json={"title": "城区停水答疑", "items": items})
        assert resp.status == 201, await resp.text()
        published = await resp.json()
        await expect(panel).to_contain_text("城区停水答疑")
        await seat.reload()
        await expect(seat.locator("#state-badge")).to_have_text("空闲")
        await expect(seat.locator("#kb-emergency")).to_contain_text("预计今晚20时恢复供水")
        resp = await http.delete(engine.base + f"/api/kb/emergency/{published['id']}")
        assert resp.status == 200, await resp.text()
    await expect(seat.locator("#kb-emergency")).to_be_hidden()
    assert errors == []
