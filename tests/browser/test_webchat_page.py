"""A citizen in the web-chat widget and a seat in the console chat with each other in Chromium:
text both ways (markup stays text), a picture, read receipts, the end of the chat and a rating;
then, with no seat on duty, a left message becomes a work order."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from channels.models import ChannelConversation, ChannelMessage
from channels.settings import ChannelSettings, WebChatSettings
from tests.browser.test_console_pages import SHOTS, XSS, login
from tests.integration.agent_console.harness import Engine, start_engine, stop_engine
from workorders.models import WoOrder


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x00\x80\xff" * 8 for _ in range(8))
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
async def chat_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = await start_engine(
        tmp_path, channels=ChannelSettings(webchat=WebChatSettings(position_every=0.3)), workorders=True
    )
    try:
        yield e
    finally:
        await stop_engine(e)


async def ready_seat(browser: Any, engine: Engine, name: str, errors: list[str]) -> Any:
    """A seat's console in its own browser context, signed in on a desk phone and ready."""
    await engine.account(name)
    seat = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    seat.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(seat, engine, "/console/", name)
    await seat.select_option("#phone-kind", "desk")
    await seat.click("#btn-login")
    await seat.click("#btn-ready")
    await expect(seat.locator("#state-badge")).to_have_text("空闲")
    return seat


async def citizen_page(browser: Any, engine: Engine, errors: list[str]) -> Any:
    """The web-chat widget in a phone-sized context, connected and open for questions."""
    citizen = await (await browser.new_context(viewport={"width": 480, "height": 800})).new_page()
    citizen.on("pageerror", lambda exc: errors.append(str(exc)))
    await citizen.goto(engine.base + "/chat/")
    await expect(citizen.locator("#conn")).to_have_text("已连接")
    await expect(citizen.locator("#status")).to_contain_text("请输入您的问题")
    return citizen


async def test_visitor_and_seat_chat_in_the_browser(chat_engine: Engine, browser: Any, tmp_path: Path) -> None:
    engine = chat_engine
    errors: list[str] = []
    seat = await ready_seat(browser, engine, "1001", errors)
    citizen = await citizen_page(browser, engine, errors)
    await citizen.fill("#phone", "13900002222")
    await citizen.fill("#text", XSS + " 小区路灯不亮")
    await citizen.click("#btn-send")
    await expect(citizen.locator("#log")).to_contain_text(XSS + " 小区路灯不亮")
    await expect(citizen.locator("#text")).to_have_value("")

    await expect(seat.locator("#offer-card")).to_be_visible()
    await expect(seat.locator("#offer-caller")).to_have_text("13900002222")
    await seat.click("#btn-accept")
    await expect(seat.locator("#chat-log")).to_contain_text("市民：" + XSS + " 小区路灯不亮")
    await expect(citizen.locator("#status")).to_have_text("客服 1001 号正在为您服务")
    # The console read it: the citizen's page shows 已读.
    await expect(citizen.locator("#log .msg.out .receipt")).to_have_text(" · 已读")

    await seat.fill("#chat-text", "您好，已记录，<b>马上</b>派单")
    await seat.click("#btn-chat-send")
    await expect(citizen.locator("#log .msg.in")).to_contain_text("您好，已记录，<b>马上</b>派单")

    # A quick reply, and a picture from the seat shown in the citizen's page.
    await seat.select_option("#quick-reply", index=4)
    await expect(seat.locator("#chat-text")).to_have_value("请稍等，正在为您查询。")
    await seat.click("#btn-chat-send")
    await expect(citizen.locator("#log .msg.in").last).to_contain_text("请稍等，正在为您查询。")
    await seat.set_input_files("#chat-image", files=[{"name": "地图.png", "mimeType": "image/png", "buffer": _png()}])
    await citizen.wait_for_function(
        "() => [...document.querySelectorAll('#log .msg.in img')].some((i) => i.naturalWidth === 8)"
    )

    # A picture from the citizen shows in the console, loaded through the engine.
    await citizen.set_input_files("#image", files=[{"name": "路灯.png", "mimeType": "image/png", "buffer": _png()}])
    await seat.wait_for_function(
        "() => [...document.querySelectorAll('#chat-log .in img.chat-img')].some((i) => i.naturalWidth === 8)"
    )
    # Pushed, not polled: a second text arrives on the console without a reload.
    await citizen.fill("#text", "位置在人民路口")
    await citizen.press("#text", "Control+Enter")
    await expect(seat.locator("#chat-log")).to_contain_text("市民：位置在人民路口")

    shots = SHOTS or tmp_path
    await citizen.screenshot(path=str(shots / "webchat-visitor.png"), full_page=True)

    await seat.click("#btn-hangup")
    await expect(seat.locator("#wrapup-card")).to_be_visible()
    await expect(citizen.locator("#rate")).to_be_visible()
    await expect(citizen.locator("#log")).to_contain_text("本次会话已结束")
    await citizen.check("input[name=rating][value=basically_satisfied]")
    await citizen.fill("#rate-comment", "回复很快")
    await citizen.click("#btn-rate")
    await expect(citizen.locator("#status")).to_have_text("感谢您的评价！")
    async with engine.ctx.sessions() as s:
        conv = (await s.execute(select(ChannelConversation))).scalars().one()
    assert conv.flags["rating"]["label"] == "基本满意" and conv.flags["rating"]["comment"] == "回复很快"

    # Nobody on duty: a new visitor is asked to leave a message, which becomes a work order.
    await seat.click("#btn-wrapup")
    await seat.click("#btn-logout")
    await expect(seat.locator("#state-badge")).to_have_text("未签入")
    late = await (await browser.new_context()).new_page()
    late.on("pageerror", lambda exc: errors.append(str(exc)))
    await late.goto(engine.base + "/chat/")
    await expect(late.locator("#leave")).to_be_visible()
    await expect(late.locator("#compose")).to_be_hidden()
    await late.fill("#leave-text", "夜间施工噪音扰民")
    await late.fill("#leave-phone", "13700003333")
    await late.click("#btn-leave")
    await expect(late.locator("#status")).to_contain_text("工单编号")
    async with engine.ctx.sessions() as s:
        orders = list((await s.execute(select(WoOrder))).scalars())
    assert [(o.channel, o.citizen_phone, o.content) for o in orders] == [("web", "13700003333", "夜间施工噪音扰民")]

    for page in (seat, citizen, late):
        assert await page.evaluate("window.__xss") is None
    assert errors == []


async def test_after_a_gap_in_shared_emits_both_pages_read_the_chat_again_and_show_each_message_once(
    chat_engine: Engine, browser: Any
) -> None:
    """With several engine processes an emit for a page on another process is lost while Redis is
    away (nothing keeps it; the message is stored). When Redis is back the engine sends every page
    ``resync``: the widget reads its conversation again (``hello``), the console its state and the
    open chat (``chat_history``). Here the lost emits are messages stored without one."""
    engine = chat_engine
    await engine.account("1001")
    errors: list[str] = []
    seat = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    seat.on("pageerror", lambda exc: errors.append(str(exc)))
    await login(seat, engine, "/console/", "1001")
    await seat.select_option("#phone-kind", "desk")
    await seat.click("#btn-login")
    await seat.click("#btn-ready")
    citizen = await (await browser.new_context(viewport={"width": 480, "height": 800})).new_page()
    citizen.on("pageerror", lambda exc: errors.append(str(exc)))
    await citizen.goto(engine.base + "/chat/")
    await expect(citizen.locator("#conn")).to_have_text("已连接")
    await citizen.fill("#text", "小区路灯不亮")
    await citizen.click("#btn-send")
    await seat.click("#btn-accept")
    await expect(seat.locator("#chat-log")).to_contain_text("市民：小区路灯不亮")

    async with engine.ctx.sessions() as s:
        conv = (await s.execute(select(ChannelConversation))).scalars().one()
        now = dt.datetime.now(dt.UTC)
        for direction, text in (("out", "已派单，请稍候"), ("in", "好的，谢谢")):
            status = "sent" if direction == "out" else "received"
            s.add(
                ChannelMessage(
                    conversation_id=conv.id, channel="webchat", citizen=conv.citizen, direction=direction,
                    kind="text", status=status, body={"text": text}, raw="", at=now, stored_at=now,
                )
            )  # fmt: skip
        await s.commit()
    sio = engine.ctx.deps.sio
    assert sio is not None
    for namespace in ("/visitor", "/agent"):
        await sio.emit("resync", {}, namespace=namespace)

    await expect(citizen.locator("#log .msg.in")).to_contain_text("已派单，请稍候")
    await expect(citizen.locator("#log .msg.in")).to_have_count(1)
    await expect(seat.locator("#chat-log")).to_contain_text("市民：好的，谢谢")
    await expect(seat.locator("#chat-log .in")).to_have_count(2)  # read again, not added twice
    await expect(citizen.locator("#log .msg.out")).to_have_count(2)  # its first message and the lost one
    assert errors == []


# In the page: the next acknowledgement of "message" is lost on its way back (a restart, a cut
# network), after the engine stored the message.
LOSE_NEXT_ACK = """() => {
  const real = W.socket.timeout.bind(W.socket);
  let lose = 1;
  W.socket.timeout = (ms) => ({
    emit: (event, data, cb) => real(ms).emit(event, data, (err, ack) => {
      if (event === "message" && lose > 0) { lose -= 1; cb(new Error("lost"), undefined); return; }
      cb(err, ack);
    }),
  });
}"""


async def test_a_message_whose_acknowledgement_was_lost_is_sent_again_and_shown_and_stored_once(
    chat_engine: Engine, browser: Any
) -> None:
    engine = chat_engine
    errors: list[str] = []
    seat = await ready_seat(browser, engine, "1002", errors)
    citizen = await citizen_page(browser, engine, errors)
    await citizen.evaluate(LOSE_NEXT_ACK)
    await citizen.fill("#text", "垃圾三天没人收")
    await citizen.click("#btn-send")
    await expect(citizen.locator("#toast")).to_have_text("服务器无响应")
    await expect(citizen.locator("#text")).to_have_value("垃圾三天没人收")  # kept for sending again
    await citizen.click("#btn-send")  # the citizen sends it again
    await expect(citizen.locator("#text")).to_have_value("")
    await expect(citizen.locator("#log .msg.out")).to_have_count(1)
    async with engine.ctx.sessions() as s:
        rows = (await s.execute(select(ChannelMessage.body))).scalars().all()
    assert [r["text"] for r in rows] == ["垃圾三天没人收"]  # stored once, under the page's id
    # A new text is a new message.
    await citizen.fill("#text", "在幸福小区")
    await citizen.click("#btn-send")
    await expect(citizen.locator("#log .msg.out")).to_have_count(2)
    # The seat is offered the chat once and sees each message once.
    await seat.click("#btn-accept")
    await expect(seat.locator("#chat-log")).to_contain_text("市民：在幸福小区")
    assert (await seat.locator("#chat-log").inner_text()).count("垃圾三天没人收") == 1
    assert errors == []
