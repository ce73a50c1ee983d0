"""Seats' replies through WeChat's customer-service API, against the strict local stand-in."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from channels.core.response import UnknownConversation
from channels.models import ChannelConversation, ChannelMedia, ChannelMessage
from channels.sink import ConversationChange
from channels.wechat_api import WeChatApi

from . import wechat_kit as kit

HOOK = "/wechat/webhook"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200


async def citizen_writes(eng, state, openid: str, content: str, msg_id: int) -> int:
    """What happens when a citizen writes: WeChat opens its window, then pushes to the engine."""
    state.user_wrote(openid)
    resp = await eng.client.post(HOOK, params=kit.query(), data=kit.text(openid, content, msg_id))
    assert resp.status == 200
    async with eng.ctx.sessions() as s:
        conv = (await s.execute(select(ChannelConversation).where(ChannelConversation.citizen == openid))).scalars()
        return max(c.id for c in conv)


async def conversation(eng, conv_id: int) -> ChannelConversation:
    async with eng.ctx.sessions() as s:
        return await s.get(ChannelConversation, conv_id)


def changes(eng) -> list[ConversationChange]:
    out = []
    while not eng.sink.queue.empty():
        item = eng.sink.queue.get_nowait()
        if isinstance(item, ConversationChange):
            out.append(item)
    return out


async def test_seat_reply_reaches_wechat_as_a_customer_service_text(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_r1", "请问社保怎么办", 1)
    await eng.service.assign(conv_id, "seat-7")
    sent = await eng.service.send_text(conv_id, "seat-7", "您好，请带身份证到政务服务中心办理。")
    assert sent.status == "sent"
    assert state.sent == [
        {"touser": "o_r1", "msgtype": "text", "text": {"content": "您好，请带身份证到政务服务中心办理。"}}
    ]
    assert [m["direction"] for m in await eng.service.transcript(conv_id)] == ["in", "out"]
    times = eng.service.tracker.times(str(conv_id))
    assert times.first_response_s is not None and times.first_response_s >= 0


async def test_access_token_is_fetched_once_and_reused(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_r2", "你好", 2)
    for i in range(3):
        assert (await eng.service.send_text(conv_id, "seat-1", f"第{i}条")).status == "sent"
    assert state.token_requests == 1


async def test_expired_token_42001_is_refetched_and_the_call_retried_once(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_r3", "你好", 3)
    assert (await eng.service.send_text(conv_id, "seat-1", "一")).status == "sent"
    state.expire_tokens()
    assert (await eng.service.send_text(conv_id, "seat-1", "二")).status == "sent"
    assert state.token_requests == 2
    assert [code for _, code in state.calls] == [0, 42001, 0]


async def test_invalid_token_40001_is_refetched_and_the_call_retried_once(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_r4", "你好", 4)
    assert (await eng.service.send_text(conv_id, "seat-1", "一")).status == "sent"
    state.revoke_tokens()
    assert (await eng.service.send_text(conv_id, "seat-1", "二")).status == "sent"
    assert [code for _, code in state.calls] == [0, 40001, 0]
    assert [m["text"]["content"] for m in state.sent] == ["一", "二"]


async def test_wrong_app_secret_fails_the_reply_with_the_wechat_code(make_engine_app, standin):
    state, url = standin
    state.app_secret = "rotated"
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_r5", "你好", 5)
    sent = await eng.service.send_text(conv_id, "seat-1", "回复")
    assert sent.status == "failed" and "40001" in sent.detail
    assert state.sent == []


async def test_token_is_shared_through_redis_between_two_clients(standin):
    from redis.asyncio import Redis

    from channels.settings import WeChatSettings
    from tests.conftest import REDIS_URL, need_server

    state, url = standin
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except OSError as exc:
        need_server(f"Redis unreachable: {exc}")
    app_id = f"wx_share_{int(time.time() * 1000)}"
    state.app_id = app_id
    settings = WeChatSettings(app_id=app_id, app_secret=kit.APP_SECRET, api_base_url=url)
    state.user_wrote("o_share")
    try:
        async with aiohttp.ClientSession() as session:
            one, two = WeChatApi(session, settings, redis), WeChatApi(session, settings, redis)
            await one.send_text("o_share", "甲")
            await two.send_text("o_share", "乙")
        assert state.token_requests == 1 and one.token_fetches == 1 and two.token_fetches == 0
    finally:
        await redis.delete(f"hotline:wechat:token:{app_id}")
        await redis.aclose()


async def test_outside_48_hours_45015_closes_the_window_and_the_reply_goes_when_the_citizen_returns(
    make_engine_app, standin
):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_w", "我家停水了", 10)
    await eng.service.assign(conv_id, "seat-2")
    state.advance(49 * 3600)
    sent = await eng.service.send_text(conv_id, "seat-2", "已联系水务公司")
    assert sent.status == "held_window"
    conv = await conversation(eng, conv_id)
    assert conv.state == "window_closed" and conv.flags["window_closed"] is True
    await eng.service.drain()
    assert [c.change for c in changes(eng)] == ["window_closed"]
    # A second reply while the window is closed is kept without calling WeChat at all.
    calls = len(state.calls)
    assert (await eng.service.send_text(conv_id, "seat-2", "补充说明")).status == "held_window"
    assert len(state.calls) == calls
    await citizen_writes(eng, state, "o_w", "还没来水", 11)
    await eng.service.drain()
    assert [m["text"]["content"] for m in state.sent] == ["已联系水务公司", "补充说明"]
    conv = await conversation(eng, conv_id)
    assert conv.state == "queued" and "window_closed" not in conv.flags
    statuses = [m["status"] for m in await eng.service.transcript(conv_id) if m["direction"] == "out"]
    assert statuses == ["sent", "sent"]


async def test_over_the_quota_45047_holds_replies_until_the_citizen_writes_again(make_engine_app, standin):
    state, url = standin
    state.quota = 2
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_q", "咨询", 20)
    results = [(await eng.service.send_text(conv_id, "seat-3", f"第{i}条")).status for i in range(3)]
    assert results == ["sent", "sent", "held_quota"]
    assert (await conversation(eng, conv_id)).flags["quota_exhausted"] is True
    await citizen_writes(eng, state, "o_q", "好的", 21)
    await eng.service.drain()
    assert [m["text"]["content"] for m in state.sent] == ["第0条", "第1条", "第2条"]
    assert "quota_exhausted" not in (await conversation(eng, conv_id)).flags


async def test_picture_is_downloaded_with_media_get_and_stored_under_data_dir(make_engine_app, standin):
    state, url = standin
    state.media["m_photo"] = ("image/jpeg", JPEG)
    state.media["m_fake"] = ("image/jpeg", b"<html>not a picture</html>")
    eng = await make_engine_app(api_base_url=url)
    for i, media_id in enumerate(["m_photo", "m_fake", "m_missing"]):
        body = kit.xml("o_pic", "image", msg_id=30 + i, PicUrl="http://p.example/x", MediaId=media_id)
        assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    await eng.service.drain()
    async with eng.ctx.sessions() as s:
        media = {m.media_id: m for m in (await s.execute(select(ChannelMedia))).scalars()}
    stored = media["m_photo"]
    assert stored.status == "stored" and stored.size == len(JPEG) and stored.content_type == "image/jpeg"
    assert Path(stored.path).read_bytes() == JPEG
    assert str(eng.data_dir) in stored.path
    assert media["m_fake"].status == "rejected" and "look like" in media["m_fake"].detail
    assert media["m_missing"].status == "failed" and "40007" in media["m_missing"].detail


async def test_a_picture_whose_download_breaks_off_is_never_kept_as_whole(make_engine_app, standin):
    state, url = standin
    big = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 800  # 200 KiB: more than one chunk on the wire
    state.media["m_cut"] = ("image/jpeg", big)
    state.cut_short.add("m_cut")
    eng = await make_engine_app(api_base_url=url)
    body = kit.xml("o_cut", "image", msg_id=60, PicUrl="http://p.example/c", MediaId="m_cut")
    assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    await eng.service.drain()
    async with eng.ctx.sessions() as s:
        (media,) = (await s.execute(select(ChannelMedia))).scalars()
    assert media.status == "failed" and not media.path
    half = [f for f in eng.data_dir.rglob("*") if f.is_file() and f.stat().st_size == len(big) // 2]
    assert half == []  # nothing of the broken download was kept


async def test_photo_then_location_become_one_conversation_with_a_prefilled_work_order(make_engine_app, standin):
    state, url = standin
    state.media["m_hole"] = ("image/jpeg", JPEG)
    eng = await make_engine_app(api_base_url=url)
    now = int(time.time())
    pushes = [
        kit.xml("o_snap", "image", now, 40, PicUrl="http://p.example/h", MediaId="m_hole"),
        kit.text("o_snap", "这里有个大坑", 41, now + 5),
        kit.xml(
            "o_snap",
            "location",
            now + 30,
            42,
            Location_X="32.39",
            Location_Y="120.56",
            Scale="16",
            Label="如皋市宁海路12号",
        ),
    ]
    for body in pushes:
        assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    await eng.service.drain()
    async with eng.ctx.sessions() as s:
        (conv,) = (await s.execute(select(ChannelConversation))).scalars()
        ids = [m.id for m in (await s.execute(select(ChannelMessage).order_by(ChannelMessage.id))).scalars()]
    assert conv.flags["snap"] is True
    assert conv.draft["photo_message_ids"] == [ids[0]] and conv.draft["location_message_id"] == ids[2]
    assert conv.draft["address"] == "如皋市宁海路12号" and conv.draft["latitude"] == 32.39
    assert conv.draft["description"] == "这里有个大坑"
    assert [c.change for c in changes(eng)] == ["snap_draft"]


async def test_photo_and_location_far_apart_are_not_bundled(make_engine_app):
    eng = await make_engine_app(bundle_window=60)
    now = int(time.time())
    for body in [
        kit.xml("o_apart", "image", now - 3600, 50, PicUrl="http://p.example/h", MediaId="m"),
        kit.xml("o_apart", "location", now, 51, Location_X="32.0", Location_Y="120.0", Scale="1", Label="某处"),
    ]:
        assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    async with eng.ctx.sessions() as s:
        (conv,) = (await s.execute(select(ChannelConversation))).scalars()
    assert "snap" not in conv.flags and conv.draft == {}


async def test_a_citizen_left_waiting_is_flagged_then_offered_to_another_seat(make_engine_app):
    eng = await make_engine_app()
    conv_id = await citizen_writes(eng, _NoStandIn(), "o_wait", "有人吗", 60)
    await eng.service.assign(conv_id, "seat-4")
    await eng.service.drain()
    changes(eng)
    real = eng.service.clock
    eng.service.clock = lambda: real() + 61
    await eng.service.tick()
    eng.service.clock = lambda: real() + 125
    await eng.service.tick()
    got = [(c.change, c.detail["seat"]) for c in changes(eng)]
    assert got == [("late", "seat-4"), ("offer_elsewhere", "seat-4")]
    stats = eng.service.tracker.stats(real() + 125)
    assert (stats.asked, stats.missed) == (1, 1)


class _NoStandIn:
    def user_wrote(self, openid: str) -> None:
        pass


async def test_photo_and_location_open_a_work_order_with_the_photo_when_the_service_runs(make_engine_app, standin):
    state, url = standin
    state.media["m_lamp"] = ("image/jpeg", JPEG)
    eng = await make_engine_app(api_base_url=url, workorders=True)
    now = int(time.time())
    for body in [
        kit.text("o_lamp", "路灯不亮", 70, now),
        kit.xml("o_lamp", "image", now + 1, 71, PicUrl="http://p.example/l", MediaId="m_lamp"),
        kit.xml("o_lamp", "location", now + 2, 72, Location_X="32.4", Location_Y="120.6", Scale="16", Label="海阳南路"),
    ]:
        assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    await eng.service.drain()
    async with eng.ctx.sessions() as s:
        (conv,) = (await s.execute(select(ChannelConversation))).scalars()
    assert conv.workorder_id
    orders = eng.ctx.deps.workorders
    order_id = int(conv.workorder_id)
    atts = await orders.attachments(order_id)
    assert [(a.kind, a.content_type) for a in atts] == [("photo", "image/jpeg")]
    assert orders.attachment_path(atts[0]).read_bytes() == JPEG
    from workorders.models import WoOrder

    async with eng.ctx.sessions() as s:
        order = await s.get(WoOrder, order_id)
    assert (order.channel, order.contact_id) == ("wechat", f"wechat-{conv.id}")
    assert "路灯不亮" in order.content and "海阳南路" in order.content
    assert [c.change for c in changes(eng)] == ["snap_draft", "workorder_created"]


async def _snap_pushes(eng, openid: str, first_id: int) -> None:
    now = int(time.time())
    for body in [
        kit.text(openid, "井盖丢失", first_id, now),
        kit.xml(openid, "image", now + 1, first_id + 1, PicUrl="http://p.example/w", MediaId="m_well"),
        kit.xml(
            openid, "location", now + 2, first_id + 2, Location_X="32.4", Location_Y="120.6", Scale="16", Label="人民路"
        ),
    ]:
        assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    await eng.service.drain()


async def _orders_for(eng, contact: str) -> list[int]:
    from workorders.models import WoOrder

    async with eng.ctx.sessions() as s:
        return list((await s.execute(select(WoOrder.id).where(WoOrder.contact_id == contact))).scalars())


async def test_a_snap_order_a_stop_cut_off_is_opened_after_the_start_once(make_engine_app, standin):
    """The order is an outbox row of the commit that completed the 随手拍: an engine that stopped
    before carrying it out (here: its carrying-out never ran) leaves it waiting, and the next
    start opens it, once, even if the order was opened but the row not marked done."""
    state, url = standin
    state.media["m_well"] = ("image/jpeg", JPEG)
    eng = await make_engine_app(api_base_url=url, workorders=True)
    box = eng.service.outbox
    real = box.carry_out

    async def stopped() -> int:
        return 0

    box.carry_out = stopped  # type: ignore[method-assign]
    await _snap_pushes(eng, "o_cut", 80)
    await _snap_pushes(eng, "o_half", 90)
    async with eng.ctx.sessions() as s:
        cut, half = (await s.execute(select(ChannelConversation).order_by(ChannelConversation.id))).scalars()
    assert cut.draft and not cut.workorder_id and await _orders_for(eng, f"wechat-{cut.id}") == []
    # The second one's order was opened before the stop, but its row not marked done.
    opened = await eng.ctx.deps.workorders.create_from_contact(
        channel="wechat", content="井盖丢失", contact_id=f"wechat-{half.id}", title="井盖丢失"
    )
    box.carry_out = real  # type: ignore[method-assign]
    assert await box.carry_out() == 2  # the start's look at what waits
    assert len(await _orders_for(eng, f"wechat-{cut.id}")) == 1
    assert await _orders_for(eng, f"wechat-{half.id}") == [opened]  # not opened twice
    async with eng.ctx.sessions() as s:
        rows = (await s.execute(select(ChannelConversation).order_by(ChannelConversation.id))).scalars().all()
    assert [r.workorder_id for r in rows] == [str((await _orders_for(eng, f"wechat-{cut.id}"))[0]), str(opened)]
    assert await box.carry_out() == 0
    # The photo of each, once: the order opened before the stop had none yet (each file is a
    # commit after the order's), and gets it from the row that tried again.
    orders = eng.ctx.deps.workorders
    for order_id in (*await _orders_for(eng, f"wechat-{cut.id}"), opened):
        atts = await orders.attachments(order_id)
        assert [(a.kind, a.content_type) for a in atts] == [("photo", "image/jpeg")]
        assert orders.attachment_path(atts[0]).read_bytes() == JPEG
    assert await orders.attach_missing(opened, [("w.jpg", "image/jpeg", JPEG)]) == 0


async def test_the_tracker_forgets_conversations_closed_two_days_ago(make_engine_app):
    eng = await make_engine_app()
    conv_id = await citizen_writes(eng, _NoStandIn(), "o_old", "还在吗", 60)
    await eng.service.assign(conv_id, "seat-4")
    await eng.service.close(conv_id, "已解答")
    real = eng.service.clock
    eng.service.clock = lambda: real() + 3600  # an hour on: forgets what closed before two days ago
    await eng.service.tick()
    assert eng.service.tracker.times(str(conv_id)).closed_at is not None
    eng.service.clock = lambda: real() + 3 * 86400
    await eng.service.tick()
    with pytest.raises(UnknownConversation):
        eng.service.tracker.times(str(conv_id))


async def stored_reply(eng, message_id: int) -> ChannelMessage:
    async with eng.ctx.sessions() as s:
        return await s.get(ChannelMessage, message_id)


async def test_a_reply_wechat_cannot_take_during_an_outage_is_kept_and_sent_once_it_is_back(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_out1", "路灯不亮", 71)
    await eng.service.assign(conv_id, "seat-7")
    state.down_until = state.now + 3600  # WeChat answers 503 to everything
    sent = await eng.service.send_text(conv_id, "seat-7", "您好，已记录，将派单处理。")
    assert (sent.status, sent.detail) == ("retry", "微信暂时无法送达，已保存，将自动重发")
    row = await stored_reply(eng, sent.message_id)
    assert row.status == "retry" and row.body["attempts"] == 1 and "503" in row.body["detail"]
    assert row.body["retry_at"] == pytest.approx(time.time() + 5, abs=2)
    assert await eng.service.retry_replies(now=time.time()) == 0  # not due yet: WeChat not asked
    assert await eng.service.retry_replies(now=time.time() + 6) == 0  # due, still down: later again
    row = await stored_reply(eng, sent.message_id)
    assert row.status == "retry" and row.body["attempts"] == 2 and state.sent == []
    state.down_until = 0.0  # WeChat is back
    assert await eng.service.retry_replies(now=time.time() + 60) == 1
    assert state.sent == [{"touser": "o_out1", "msgtype": "text", "text": {"content": "您好，已记录，将派单处理。"}}]
    assert (await stored_reply(eng, sent.message_id)).status == "sent"
    assert await eng.service.retry_replies(now=time.time() + 600) == 0  # sent once, never again
    assert eng.service.tracker.times(str(conv_id)).first_response_s is not None


async def test_a_reply_a_stop_cut_off_while_sending_is_sent_after_the_start(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_out2", "咨询公积金", 72)
    await eng.service.assign(conv_id, "seat-8")
    # What a kill between the commit and WeChat's answer leaves: a reply stored as "sending".
    async with eng.ctx.sessions() as s, s.begin():
        row = ChannelMessage(
            conversation_id=conv_id,
            channel="wechat",
            citizen="o_out2",
            direction="out",
            kind="text",
            supported=True,
            status="sending",
            body={"text": "请带身份证办理", "seat": "seat-8"},
            raw="",
            at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2),
            stored_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2),
        )
        s.add(row)
        await s.flush()
        cut_id = row.id
    assert await eng.service.retry_replies() == 1
    assert [m["text"]["content"] for m in state.sent] == ["请带身份证办理"]
    assert (await stored_reply(eng, cut_id)).status == "sent"


async def test_a_reply_still_undelivered_when_the_window_closes_fails_and_the_seat_is_told(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_out3", "投诉噪音", 73)
    await eng.service.assign(conv_id, "seat-9")
    state.down_until = state.now + 3600
    sent = await eng.service.send_text(conv_id, "seat-9", "收到")
    changes(eng)
    state.down_until = 0.0
    assert await eng.service.retry_replies(now=time.time() + 49 * 3600) == 0  # 48 hours later
    assert state.sent == []  # never sent outside the window
    row = await stored_reply(eng, sent.message_id)
    assert row.status == "failed" and row.body["detail"] == "微信48小时回复时限已过，未能送达"
    assert [(c.change, c.detail) for c in changes(eng)] == [("delivery_failed", {"message_id": sent.message_id})]


async def test_a_reply_wechat_refuses_for_good_fails_at_once(make_engine_app, standin):
    state, url = standin
    eng = await make_engine_app(api_base_url=url)
    conv_id = await citizen_writes(eng, state, "o_out4", "你好", 74)
    await eng.service.assign(conv_id, "seat-9")
    state.followers.pop("o_out4")  # unfollowed: 40003, no retry will help
    sent = await eng.service.send_text(conv_id, "seat-9", "您好")
    assert sent.status == "failed" and "40003" in sent.detail
    assert await eng.service.retry_replies(now=time.time() + 600) == 0
    assert [c.change for c in changes(eng)] == ["delivery_failed"]


async def test_a_picture_whose_download_a_stop_cut_off_is_fetched_after_the_start(make_engine_app, standin):
    state, url = standin
    state.media["m_late"] = ("image/jpeg", JPEG)
    eng = await make_engine_app(api_base_url=url)
    body = kit.xml("o_late", "image", msg_id=90, PicUrl="http://p.example/l", MediaId="m_late")
    assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    await eng.service.drain()
    # What a kill right after the commit leaves: the message stored, its download never done.
    async with eng.ctx.sessions() as s, s.begin():
        for media in (await s.execute(select(ChannelMedia))).scalars():
            await s.delete(media)
    assert await eng.service.fetch_missing_media(now=time.time()) == 0  # too recent: maybe still running
    assert await eng.service.fetch_missing_media(now=time.time() + 120) == 1
    async with eng.ctx.sessions() as s:
        [media] = (await s.execute(select(ChannelMedia))).scalars().all()
    assert media.media_id == "m_late" and media.status == "stored" and Path(media.path).read_bytes() == JPEG
    assert await eng.service.fetch_missing_media(now=time.time() + 120) == 0  # once
    async with eng.ctx.sessions() as s, s.begin():
        await s.delete(media)
    assert await eng.service.fetch_missing_media(now=time.time() + 4 * 86400) == 0  # WeChat's 3 days over
    assert await eng.service.fetch_missing_media(now=time.time() + 2 * 86400) == 1  # within them: again
