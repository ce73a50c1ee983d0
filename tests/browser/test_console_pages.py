"""The seat and supervisor pages in headless Chromium against a real engine: log in, go ready,
a chat offer appears, accept, end, wrap up; the supervisor sees it live; hostile text stays text."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from acd.core import ContactArrived, OfferAccepted
from hotline.storage import Interaction
from tests.integration.agent_console.harness import Engine

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
# The README's screenshots are refreshed on request only, so a test run leaves the tree clean.
SHOTS = DOCS_IMG if os.environ.get("HOTLINE_SCREENSHOTS") == "1" else None
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


class FakeChannels:
    """The channels feature's transcript and send_text, as the console calls them."""

    def __init__(self, first: str) -> None:
        self.first = first
        self.sent: list[tuple[int, str, str]] = []

    async def transcript(self, conversation_id: int) -> list[dict[str, object]]:
        msgs: list[dict[str, object]] = [{"id": 1, "direction": "in", "kind": "text", "body": {"text": self.first}}]
        msgs += [
            {"id": 2 + i, "direction": "out", "kind": "text", "body": {"text": t}}
            for i, (_, _, t) in enumerate(self.sent)
        ]
        return msgs

    async def send_text(self, conversation_id: int, seat: str, text: str, sent_as: str | None = None) -> object:
        from channels.seats import Sent

        self.sent.append((conversation_id, seat, text))
        return Sent(len(self.sent), "sent")

    async def mark_read(self, conversation_id: int, direction: str, up_to: int) -> int:
        return 0


async def login(page: Any, engine: Engine, path: str, user: str) -> None:
    await page.goto(engine.base + path)
    await page.fill("#login-user", user)
    await page.fill("#login-pass", "password123")
    await page.click("#login-submit")


async def test_seat_takes_a_chat_from_offer_to_wrap_up_and_the_supervisor_sees_it(
    engine: Engine, browser: Any, tmp_path: Path
) -> None:
    await engine.account("1001")
    await engine.account("boss", "supervisor")
    seat_page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    errors: list[str] = []
    seat_page.on("pageerror", lambda exc: errors.append(str(exc)))

    await login(seat_page, engine, "/console/", "1001")
    await expect(seat_page.locator("#state-badge")).to_have_text("未签入")
    await seat_page.select_option("#phone-kind", "desk")
    await seat_page.click("#btn-login")
    await expect(seat_page.locator("#state-badge")).to_have_text("示忙（login）")
    await seat_page.click("#btn-ready")
    await expect(seat_page.locator("#state-badge")).to_have_text("空闲")

    # A chat whose caller name and IVR path carry markup: it must show as text.
    async with engine.ctx.sessions() as s, s.begin():
        s.add(
            Interaction(
                contact_id="webchat-7",
                channel="webchat",
                caller=XSS,
                arrived_at=dt.datetime.now(dt.UTC),
                data={"ivr_path": ["<b>粗体</b>", "人工服务"]},
            )
        )
    channels = FakeChannels(XSS)
    engine.ctx.deps.channels = channels
    cid = "webchat-7"
    await engine.acd.feed(
        ContactArrived(now=engine.acd.now(), contact_id=cid, channel="webchat", queue="internet", caller=XSS)
    )
    await expect(seat_page.locator("#offer-card")).to_be_visible()
    await expect(seat_page.locator("#offer-caller")).to_have_text(XSS)
    countdown = int(await seat_page.locator("#offer-countdown").text_content() or "0")
    assert 1 <= countdown <= 15
    await expect(seat_page.locator("#context-caller")).to_have_text(XSS)
    assert await seat_page.locator("#offer-info img, #context img, #context b, #offer-info script").count() == 0
    assert "&lt;img" in await seat_page.locator("#offer-caller").inner_html()
    assert "<b>粗体</b> → 人工服务" in (await seat_page.locator("#context").text_content() or "")

    await seat_page.click("#btn-accept")
    await expect(seat_page.locator("#state-badge")).to_have_text("服务中")
    await expect(seat_page.locator("#offer-card")).to_be_hidden()
    await expect(seat_page.locator("#contact-card")).to_be_visible()
    await expect(seat_page.locator("#workorder-form")).to_be_hidden()
    # The citizen's message with markup is shown as text; the seat's reply goes out through the channels.
    await expect(seat_page.locator("#chat-log")).to_contain_text("市民：" + XSS)
    assert await seat_page.locator("#chat-log img, #chat-log script").count() == 0
    await seat_page.fill("#chat-text", "您好，请问有什么可以帮您？")
    await seat_page.click("#btn-chat-send")
    await expect(seat_page.locator("#chat-text")).to_have_value("")
    assert channels.sent == [(7, "1001", "您好，请问有什么可以帮您？")]
    await expect(seat_page.locator("#today")).to_contain_text("接起1")

    # More seats and waiting calls, so the supervisor's board has something to show.
    helpers = []
    for name, action in (("1002", "ready"), ("1003", "not_ready"), ("1004", "busy")):
        c = await engine.client("/agent", await engine.account(name))
        await c.call("login", {"phone": "desk", "ready": action != "not_ready"})
        if action == "not_ready":
            await c.call("not_ready", {"reason": "用餐"})
        helpers.append(c)
    call = await engine.call(caller="13900001234")
    await engine.acd.feed(
        OfferAccepted(now=engine.acd.now(), contact_id=call, seat_id=engine.acd.core.contact(call).seat or "")
    )
    for n in range(3):
        await engine.call(caller=f"1370000000{n}", queue="business")

    sup_page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    sup_page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(sup_page, engine, "/supervisor/", "boss")
    row = sup_page.locator('#seats tbody tr[data-seat="1001"]')
    await expect(row.locator("td.state")).to_have_text("服务中")
    await expect(sup_page.locator('#queues tbody tr[data-queue="business"] td').nth(1)).to_have_text("3")
    await expect(sup_page.locator("#chart svg rect").first).to_be_attached()
    assert await sup_page.evaluate("window.__phone.answerAll && window.__phone.ua !== null")
    shots = SHOTS or tmp_path
    await seat_page.screenshot(path=str(shots / "console-seat.png"), full_page=True)
    await sup_page.screenshot(path=str(shots / "console-supervisor.png"), full_page=True)
    assert (shots / "console-seat.png").stat().st_size > 10_000

    # The seat ends the chat and wraps up; the supervisor's board follows without a reload.
    await seat_page.click("#btn-hangup")
    await expect(seat_page.locator("#wrapup-card")).to_be_visible()
    await seat_page.select_option("#disposition", "已解答")
    await seat_page.fill("#notes", "已告知办理流程 <i>备注</i>")
    await seat_page.click("#btn-wrapup")
    await expect(seat_page.locator("#wrapup-card")).to_be_hidden()
    await expect(seat_page.locator("#today")).to_contain_text("话后处理1")
    await seat_page.select_option("#reason", "培训")
    await seat_page.click("#btn-not-ready")
    await expect(row.locator("td.state")).to_have_text("示忙")
    await expect(row.locator("td").nth(2)).to_have_text("培训")

    # The supervisor forces the seat ready-to-logout: the seat's page is told who did it.
    await row.locator("button", has_text="签出").click()
    await expect(seat_page.locator("#toast")).to_contain_text("班长 boss 将您签出")
    await expect(seat_page.locator("#state-badge")).to_have_text("未签入")
    assert await seat_page.evaluate("window.__xss") is None
    assert errors == []


async def test_login_refusals_show_their_reason_and_the_soft_phone_side_is_ready(engine: Engine, browser: Any) -> None:
    """One browser for the short checks (a launch costs seconds): wrong password, a seat on the
    supervisor page, and a WebRTC seat's page with JsSIP, its credentials and the counters tests read."""
    await engine.account("1001")
    page = await browser.new_page()
    await page.goto(engine.base + "/console/")
    await page.fill("#login-user", "1001")
    await page.fill("#login-pass", "wrong-password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误")

    sup = await browser.new_page()
    await login(sup, engine, "/supervisor/", "1001")
    await expect(sup.locator("#role-error")).to_contain_text("此页面需要角色")
    await expect(sup.locator("#board")).to_be_hidden()

    await page.fill("#login-pass", "password123")
    await page.click("#login-submit")
    await expect(page.locator("#desk")).to_be_visible()
    await page.click("#btn-login")
    await expect(page.locator("#state-badge")).to_have_text("示忙（login）")
    assert await page.evaluate("typeof window.JsSIP.UA") == "function"
    assert await page.evaluate("window.__phone.ua !== null")
    stats = await page.evaluate("window.__phone.stats")
    assert set(stats) >= {"packetsSent", "packetsReceived", "connectionState"}
    assert await page.evaluate("window.__console.snap.sip.username") == "seat1001"


async def test_the_supervisors_board_keeps_the_alerts_other_features_raise(engine: Engine, browser: Any) -> None:
    """A work order escalated past its deadline and a spike of demands: both stay on the board's
    alert list (newest first), as text, whatever markup they carry."""
    await engine.account("boss", "supervisor")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(page, engine, "/supervisor/", "boss")
    await expect(page.locator("#board")).to_be_visible()
    await expect(page.locator("#alerts-card")).to_be_hidden()
    bus = engine.ctx.deps.bus
    await bus.to_supervisors(
        "workorder_escalated",
        {"order": "RG20261207001", "deadline": "sign", "due": "2026-12-07T10:30:00+08:00", "unit": "市水务局",
         "title": XSS},
    )  # fmt: skip
    await expect(page.locator("#alerts li").first).to_contain_text("超期升级")
    await expect(page.locator("#alerts li").first).to_contain_text("工单 RG20261207001（市水务局）")
    await expect(page.locator("#alerts li").first).to_contain_text("签收时限已过期")
    await bus.to_supervisors(
        "reports.spike",
        {"id": 1, "category": "供水", "area": "如城街道", "count": 9, "expected": 0.8, "orders": ["A1", "A2"],
         "titles": [], "bucket_start": "2026-12-07T10:00:00+08:00", "p_value": 1e-7},
    )  # fmt: skip
    newest = page.locator("#alerts li").first
    await expect(newest).to_contain_text("诉求激增")
    await expect(newest).to_contain_text("如城街道 · 供水：15 分钟内 9 件（常态约 0.8 件），工单 A1、A2")
    await expect(page.locator("#alerts li")).to_have_count(2)
    assert await page.locator("#alerts img, #alerts script").count() == 0
    assert errors == []
