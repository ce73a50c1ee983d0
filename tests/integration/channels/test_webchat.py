"""Web chat end to end on a real engine (ACD + console + channels on a real port, SQLite):
real Socket.IO clients for the visitor (/visitor) and the seat (/agent)."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from channels.core.visitor import new_visitor_id, sign_visitor
from channels.models import ChannelConversation, ChannelMedia, ChannelMessage
from channels.settings import ChannelSettings, WebChatSettings
from tests.integration.agent_console.harness import Client, Engine, start_engine, stop_engine


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"  # one red pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def eng(tmp_path: Path) -> AsyncIterator[Engine]:
    settings = ChannelSettings(webchat=WebChatSettings(position_every=0.2, flood_rate=0.5, flood_burst=3))
    e = await start_engine(tmp_path, channels=settings, workorders=True)
    try:
        yield e
    finally:
        await stop_engine(e)


async def visitor(e: Engine, token: str | None = None) -> Client:
    c = Client("/visitor")
    auth = {"visitor": token} if token else None
    await c.sio.connect(e.base, namespaces=["/visitor"], auth=auth, transports=["websocket"], wait_timeout=5)
    e.clients.append(c.sio)
    return c


async def ready_seat(e: Engine, name: str = "1001") -> Client:
    seat = await e.client("/agent", await e.account(name))
    assert (await seat.call("login", {"phone": "desk", "ready": True}))["ok"]
    return seat


async def rows(e: Engine, model: Any) -> list[Any]:
    async with e.ctx.sessions() as s:
        return list((await s.execute(select(model).order_by(model.id))).scalars())


async def test_visitor_and_seat_chat_with_receipts_typing_close_and_rating(eng: Engine) -> None:
    seat = await ready_seat(eng)
    v = await visitor(eng)
    hello = await v.call("hello")
    assert hello["ok"] and hello["open"] is True and hello["conversation"] is None
    assert hello["visitor"].startswith("v") and hello["token"].startswith(hello["visitor"] + ".")

    ack = await v.call("message", {"text": "  小区路灯坏了三天了  "})
    assert ack["ok"], ack
    stored = await rows(eng, ChannelMessage)  # stored before the ack came back
    assert [(m.id, m.channel, m.direction, m.body["text"]) for m in stored] == [
        (ack["id"], "webchat", "in", "小区路灯坏了三天了")
    ]
    offer = await seat.next("offer")
    contact = offer["contact_id"]
    assert contact == f"webchat-{ack['conversation']}" and offer["channel"] == "webchat"
    assert (await seat.call("accept", {"contact_id": contact}))["ok"]
    assigned = await v.next("assigned")
    assert assigned == {"conversation": ack["conversation"], "seat": "1001"}

    history = await seat.call("chat_history", {"contact_id": contact})
    assert [m["body"]["text"] for m in history["messages"]] == ["小区路灯坏了三天了"]

    # The visitor writes again: the seat's console gets it pushed, no polling.
    second = await v.call("message", {"text": "在人民路口"})
    pushed = await seat.next("chat_message")
    assert pushed["contact_id"] == contact and pushed["message"]["id"] == second["id"]
    assert pushed["message"]["body"]["text"] == "在人民路口"

    # Typing both ways.
    assert (await v.call("typing"))["ok"]
    assert (await seat.next("chat_typing")) == {"contact_id": contact}
    assert (await seat.call("chat_typing", {"contact_id": contact}))["ok"]
    assert (await v.next("typing"))["conversation"] == ack["conversation"]

    # The seat reads the citizen's messages: the visitor sees 已读.
    read = await seat.call("chat_read", {"contact_id": contact, "up_to": second["id"]})
    assert read["ok"] and read["read"] == 2
    assert (await v.next("read")) == {"conversation": ack["conversation"], "up_to": second["id"]}

    # The seat answers; the visitor gets it and reads it; the seat sees the receipt.
    sent = await seat.call("chat_send", {"contact_id": contact, "text": "已派单给城管，请耐心等待"})
    assert sent["ok"] and sent["status"] == "sent", sent
    reply = await v.next("message")
    assert reply["text"] == "已派单给城管，请耐心等待" and reply["conversation"] == ack["conversation"]
    assert "seat" not in reply
    assert (await v.call("read", {"conversation": ack["conversation"], "up_to": reply["id"]}))["read"] == 1
    assert (await seat.next("chat_read"))["up_to"] == reply["id"]

    # A picture from the seat: pushed to the page, readable by this visitor only.
    png = _png()
    pic = await seat.call("chat_image", {"contact_id": contact, "type": "image/png", "name": "地图.png", "data": png})
    assert pic["ok"] and pic["status"] == "sent", pic
    shown = await v.next("message")
    assert shown["kind"] == "image" and shown["id"] == pic["message_id"] and shown["name"] == "地图.png"
    bad = await seat.call("chat_image", {"contact_id": contact, "type": "image/jpeg", "data": png})
    assert not bad["ok"] and "图片无效" in bad["error"]
    refused = await seat.call("chat_image", {"contact_id": contact, "type": "text/html", "data": b"<b>"})
    assert not refused["ok"]
    media_url = f"{eng.base}/chat/media/{pic['message_id']}"
    for token, status in ((hello["token"], 200), (sign_visitor(eng.secret, new_visitor_id()), 404), ("", 404)):
        async with aiohttp.ClientSession(cookies={"hotline_visitor": token}) as http, http.get(media_url) as r:
            assert r.status == status and (status != 200 or await r.read() == png)

    # A work order made during the chat keeps its transcript.
    made = await seat.call(
        "create_workorder", {"contact_id": contact, "content": "小区路灯不亮，位于人民路口", "title": "路灯不亮"}
    )
    assert made["ok"], made
    orders = eng.ctx.deps.workorders
    [transcript] = [f for f in await orders.attachments(made["order_id"]) if f.filename.startswith("会话记录")]
    assert transcript.content_type == "text/plain"
    text = orders.attachment_path(transcript).read_text()
    assert "市民：小区路灯坏了三天了" in text and "座席1001：已派单给城管，请耐心等待" in text and "[image]" in text

    # A second page of the same visitor (same token) sees the whole conversation.
    again = await visitor(eng, hello["token"])
    h2 = await again.call("hello")
    assert h2["visitor"] == hello["visitor"]
    assert [m["direction"] for m in h2["conversation"]["messages"]] == ["in", "in", "out", "out"]
    assert [m["status"] for m in h2["conversation"]["messages"]] == ["read", "read", "read", "sent"]

    # Rating before the end is refused; the seat ends the chat; both pages are told; one rating.
    early = await v.call("rate", {"conversation": ack["conversation"], "rating": "satisfied"})
    assert not early["ok"] and "结束" in early["error"]
    assert (await seat.call("hangup", {"contact_id": contact}))["ok"]
    closed = await v.next("closed")
    assert closed == {"conversation": ack["conversation"], "rate": True}
    assert (await again.next("closed"))["conversation"] == ack["conversation"]
    rated = await v.call(
        "rate", {"conversation": ack["conversation"], "rating": "basically_satisfied", "comment": "快"}
    )
    assert rated["ok"], rated
    twice = await v.call("rate", {"conversation": ack["conversation"], "rating": "unsatisfied"})
    assert not twice["ok"] and "评价过" in twice["error"]
    [conv] = await rows(eng, ChannelConversation)
    assert conv.state == "closed" and conv.flags["rating"] == {
        "code": "basically_satisfied",
        "label": "基本满意",
        "comment": "快",
    }

    # Another visitor cannot rate or read someone else's conversation.
    other = await visitor(eng)
    await other.call("hello")
    stranger = await other.call("read", {"conversation": ack["conversation"], "up_to": 10**6})
    assert not stranger["ok"] and stranger["error"] == "没有找到这次会话"


async def test_waiting_visitor_gets_queue_position_and_can_leave_the_queue(eng: Engine) -> None:
    # A seat is signed in but not ready: the chat is open yet it waits.
    seat = await eng.client("/agent", await eng.account("1002"))
    assert (await seat.call("login", {"phone": "desk"}))["ok"]
    v = await visitor(eng)
    assert (await v.call("hello"))["open"] is True
    ack = await v.call("message", {"text": "咨询公积金提取"})
    pos = await v.next("queue", timeout=5)
    assert pos["conversation"] == ack["conversation"] and pos["position"] == 1
    assert pos["expected_wait_s"] is None  # nobody ready to serve it: no made-up figure
    # The page reconnects while waiting: hello tells the place in line again.
    assert (await v.call("hello"))["queue"]["position"] == 1
    assert (await v.call("end"))["ok"]
    closed = await v.next("closed")
    assert closed["conversation"] == ack["conversation"]
    contact = f"webchat-{ack['conversation']}"
    assert not eng.acd.core.has_contact(contact) or eng.acd.core.contact(contact).state == "abandoned"
    [conv] = await rows(eng, ChannelConversation)
    assert conv.state == "closed" and conv.flags["disposition"] == "citizen_left"
    assert (await v.call("end")) == {"ok": False, "error": "没有找到这次会话"}


async def test_no_seat_on_duty_a_left_message_becomes_a_work_order(eng: Engine) -> None:
    v = await visitor(eng)
    assert (await v.call("hello"))["open"] is False
    no_phone = await v.call("leave_message", {"text": "楼下夜间施工扰民"})
    assert not no_phone["ok"] and "电话" in no_phone["error"]
    bad_phone = await v.call("leave_message", {"text": "楼下夜间施工扰民", "phone": "12345"})
    assert not bad_phone["ok"] and "格式" in bad_phone["error"]
    ack = await v.call("leave_message", {"text": "楼下夜间施工扰民", "phone": "139-1234-5678", "name": "王女士"})
    assert ack["ok"] and isinstance(ack["order_id"], int), ack
    order = await eng.ctx.deps.workorders.get(ack["order_id"])
    assert order.channel == "web" and order.citizen_phone == "13912345678" and "施工扰民" in order.content
    [conv] = await rows(eng, ChannelConversation)
    assert conv.state == "closed" and conv.workorder_id == str(ack["order_id"])
    assert not list(eng.acd.core.all_contacts())  # a left message does not wait for a seat


async def test_a_left_message_whose_order_a_stop_cut_off_gets_it_after_the_start_once(eng: Engine) -> None:
    """The order is an outbox row of the message's commit: not opened when the message was stored
    (the engine stopped first, or the work-order service refused for a moment), it is opened by the
    next carrying-out, once."""
    box = eng.ctx.deps.channels.outbox
    real = box.carry_out

    async def stopped() -> int:
        return 0

    box.carry_out = stopped  # type: ignore[method-assign]
    v = await visitor(eng)
    ack = await v.call("leave_message", {"text": "路口红绿灯坏了", "phone": "13900001234", "name": "李先生"})
    assert ack["ok"] and ack["order_id"] is None, ack  # stored; its order not opened yet
    [conv] = await rows(eng, ChannelConversation)
    assert not conv.workorder_id
    box.carry_out = real  # type: ignore[method-assign]
    assert await box.carry_out() == 1  # the next start's look at what waits
    [conv] = await rows(eng, ChannelConversation)
    order = await eng.ctx.deps.workorders.get(int(conv.workorder_id))
    assert order.citizen_phone == "13900001234" and "红绿灯" in order.content
    assert await eng.ctx.deps.workorders.order_for_contact(f"webchat-{conv.id}") == order.id
    assert await box.carry_out() == 0  # done once


async def test_pictures_bad_input_floods_and_identity(eng: Engine) -> None:
    await ready_seat(eng)
    v = await visitor(eng, "v" + "0" * 20 + ".forged")  # a forged token gets a fresh id instead
    hello = await v.call("hello")
    assert hello["visitor"] != "v" + "0" * 20
    assert (await v.call("identify", {"phone": "13800001111"}))["phone"] == "13800001111"
    assert not (await v.call("identify", {"phone": "abc"}))["ok"]

    png = _png()
    ok = await v.call("image", {"type": "image/png", "name": "路灯.png", "data": png})
    assert ok["ok"], ok
    [media] = await rows(eng, ChannelMedia)
    assert media.message_id == ok["id"] and media.content_type == "image/png" and Path(media.path).read_bytes() == png
    liar = await v.call("image", {"type": "image/jpeg", "name": "x.jpg", "data": png})
    assert not liar["ok"] and "不符" in liar["error"]
    for bad, why in [
        ({"type": "image/svg+xml", "data": b"<svg/>"}, "JPG"),
        ({"type": "image/png", "data": b""}, "为空"),
        ({"type": "image/png", "data": b"\x89PNG" + b"0" * (2 * 1024 * 1024)}, "过大"),
        ("not a dict", "格式"),
    ]:
        refused = await v.call("image", bad)
        assert not refused["ok"] and why in refused["error"], (bad if isinstance(bad, str) else bad["type"], refused)

    for bad, why in [({"text": ""}, "不能为空"), ({"text": "字" * 1001}, "过长"), ({"text": 5}, "文字"), ([1], "文字")]:
        refused = await v.call("message", bad)
        assert not refused["ok"] and why in refused["error"]
    assert (await v.call("no_such_event")) == {"ok": False, "error": "未知事件：no_such_event"}
    assert not (await v.call("rate", {"conversation": "x", "rating": "satisfied"}))["ok"]
    assert not (await v.call("read", {"conversation": 1, "up_to": True}))["ok"]

    # Flood: burst 3 at 0.5/s (the one picture above counted); the refusal says how long to wait.
    results = [await v.call("message", {"text": f"第{i}条"}) for i in range(4)]
    refused = [r for r in results if not r["ok"]]
    assert refused and "太频繁" in refused[0]["error"]
    stored = [m.body.get("text") for m in await rows(eng, ChannelMessage) if m.kind == "text"]
    assert stored == [f"第{i}" + "条" for i in range(len(results) - len(refused))]  # nothing refused is stored

    # The seat holding the chat sees the picture through the engine (login needed), and so do
    # supervisors; another seat is told there is no such picture.
    from sqlalchemy import update

    from channels.models import ChannelConversation

    async with eng.ctx.sessions() as s, s.begin():
        await s.execute(
            update(ChannelConversation).where(ChannelConversation.id == ok["conversation"]).values(seat="1001")
        )
    tokens = {"boss": await eng.account("boss", "supervisor"), "1002": await eng.account("1002")}
    for user, role, status in (("1001", "seat", 200), ("boss", "supervisor", 200), ("1002", "seat", 404)):
        cookie = {"hotline_token": tokens.get(user) or eng.token(user, role)}
        async with (
            aiohttp.ClientSession(cookies=cookie) as http,
            http.get(f"{eng.base}/api/channels/media/{ok['id']}") as r,
        ):
            assert r.status == status, user
            if status == 200:
                assert r.headers["Content-Type"] == "image/png" and await r.read() == png
    cookie = {"hotline_token": eng.token("1001", "seat")}
    async with (
        aiohttp.ClientSession(cookies=cookie) as http,
        http.get(f"{eng.base}/api/channels/media/999999") as r,
    ):
        assert r.status == 404
    async with aiohttp.ClientSession() as anon, anon.get(f"{eng.base}/api/channels/media/{ok['id']}") as r:
        assert r.status == 401
    contact = f"webchat-{ok['conversation']}"
    for _ in range(50):
        if eng.acd.core.has_contact(contact):
            break
        await asyncio.sleep(0.05)
    assert eng.acd.core.contact(contact).caller == "13800001111"


async def test_widget_page_sets_a_signed_visitor_cookie_that_the_socket_uses(eng: Engine) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: an IP host
        async with http.get(f"{eng.base}/chat/") as r:
            assert r.status == 200 and "网页在线咨询" in await r.text()
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            cookie = r.cookies["hotline_visitor"]
            assert cookie["httponly"] and cookie.value.count(".") == 1
        async with http.get(f"{eng.base}/chat/") as r:
            assert "hotline_visitor" not in r.cookies  # kept, not replaced
    c = Client("/visitor")
    await c.sio.connect(
        eng.base, namespaces=["/visitor"], headers={"Cookie": f"hotline_visitor={cookie.value}"}, wait_timeout=5
    )
    eng.clients.append(c.sio)
    assert (await c.call("hello"))["visitor"] == cookie.value.split(".")[0]
    # A token signed with another secret is not ours.
    foreign = sign_visitor("another-secret", new_visitor_id())
    c2 = await visitor(eng, foreign)
    assert (await c2.call("hello"))["visitor"] != foreign.split(".")[0]


async def test_a_late_reply_is_flagged_then_the_chat_moves_to_another_seat_and_a_seat_can_transfer_it(
    tmp_path: Path,
) -> None:
    from channels.settings import ChatSettings

    settings = ChannelSettings(
        chat=ChatSettings(realtime_threshold=60, flag_after=0.5, reassign_after=1.5),
        webchat=WebChatSettings(position_every=0.2),
    )
    e = await start_engine(tmp_path, channels=settings)
    try:
        first = await ready_seat(e, "2001")
        boss = await e.client("/supervisor", await e.account("boss", "supervisor"))
        v = await visitor(e)
        ack = await v.call("message", {"text": "医保卡丢了怎么办"})
        contact = (await first.next("offer"))["contact_id"]
        assert (await first.call("accept", {"contact_id": contact}))["ok"]
        await v.next("assigned")
        enq = e.acd.core.contact(contact).enq
        second = await ready_seat(e, "2002")  # ready only now, so the first seat had the chat

        # Nobody answers: the seat and the supervisors are told, then the chat goes to 2002.
        flag = await first.next("chat_flag", timeout=5, where=lambda f: f["change"] == "late")
        assert flag["contact_id"] == contact and flag["label"] == "市民等待回复已超时"
        assert (await boss.next("chat_flag", timeout=5))["change"] == "late"
        moved = await second.next("offer", timeout=6)
        assert moved["contact_id"] == contact
        assert (await v.next("requeued"))["conversation"] == ack["conversation"]
        assert (await boss.next("chat_flag", timeout=5, where=lambda f: f["change"] == "offer_elsewhere"))[
            "seat"
        ] == "2001"
        assert (await second.call("accept", {"contact_id": contact}))["ok"]
        assert (await v.next("assigned"))["seat"] == "2002"
        assert e.acd.core.contact(contact).enq == enq  # its place in time was kept

        # 2002 hands it to the business queue; seats are refused as chat targets.
        refused = await second.call("transfer", {"contact_id": contact, "target": "seat:2001"})
        assert not refused["ok"] and "队列" in refused["error"]
        unknown = await second.call("transfer", {"contact_id": contact, "target": "queue:nowhere"})
        assert not unknown["ok"] and "转接失败" in unknown["error"]
        moved = await second.call("transfer", {"contact_id": contact, "target": "queue:business"})
        assert moved["ok"] and moved["queue"] == "business"
        assert e.acd.core.contact(contact).queue == "business"
        [conv] = await rows(e, ChannelConversation)
        assert conv.state == "queued" and conv.seat == ""
        # Still open for the citizen: a new message is stored in the same conversation.
        again = await v.call("message", {"text": "还在吗"})
        assert again["conversation"] == ack["conversation"]
    finally:
        await stop_engine(e)
