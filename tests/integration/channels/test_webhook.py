"""The WeChat webhook on a real aiohttp server: handshake, modes, kinds, retries, bad input."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from channels.models import ChannelConversation, ChannelMessage
from channels.sink import ConversationRef

from . import wechat_kit as kit

HOOK = "/wechat/webhook"


async def count(eng, model=ChannelMessage) -> int:
    async with eng.ctx.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def messages(eng) -> list[ChannelMessage]:
    async with eng.ctx.sessions() as s:
        return list((await s.execute(select(ChannelMessage).order_by(ChannelMessage.id))).scalars())


async def test_handshake_echoes_echostr_only_with_a_right_signature(make_engine_app):
    eng = await make_engine_app()
    ok = await eng.client.get(HOOK, params={**kit.query(), "echostr": "1234567890"})
    assert ok.status == 200 and await ok.text() == "1234567890"
    bad = await eng.client.get(HOOK, params={**kit.query(token="wrong"), "echostr": "1234567890"})
    assert bad.status == 403


async def test_text_message_is_stored_before_success_and_becomes_a_contact(make_engine_app):
    eng = await make_engine_app()
    resp = await eng.client.post(HOOK, params=kit.query(), data=kit.text("o_citizen1", "路灯坏了", 1001))
    assert resp.status == 200 and await resp.text() == "success"
    # Stored by the time WeChat hears "success": read straight after, before any background work.
    rows = await messages(eng)
    assert [(r.kind, r.body["text"], r.dedup_key) for r in rows] == [("text", "路灯坏了", "msg:1001")]
    await eng.service.drain()
    conv, msg = eng.sink.queue.get_nowait()
    assert isinstance(conv, ConversationRef) and conv.channel == "wechat" and conv.new and conv.state == "queued"
    assert msg.body == {"text": "路灯坏了"} and msg.asks_seat


async def test_same_msgid_three_times_is_one_message_on_both_databases(make_engine_app, db_url):
    eng = await make_engine_app(db_url)
    body = kit.text("o_retry", "第一次", 2002)
    for _ in range(3):
        resp = await eng.client.post(HOOK, params=kit.query(), data=body)
        assert resp.status == 200 and await resp.text() == "success"
    assert await count(eng) == 1
    assert await count(eng, ChannelConversation) == 1
    await eng.service.drain()
    assert eng.sink.queue.qsize() == 1


async def test_retries_of_an_event_are_recognised_by_sender_and_create_time(make_engine_app):
    eng = await make_engine_app()
    body = kit.xml("o_evt", "event", create_time=1_800_000_123, Event="subscribe")
    for _ in range(3):
        assert (await eng.client.post(HOOK, params=kit.query(), data=body)).status == 200
    rows = await messages(eng)
    assert [(r.kind, r.dedup_key, r.conversation_id) for r in rows] == [
        ("event:subscribe", "evt:o_evt:1800000123", None)
    ]


async def test_retries_are_recognised_through_redis_when_configured(make_engine_app, tmp_path):
    from redis.asyncio import Redis

    from tests.conftest import REDIS_URL, need_server

    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except OSError as exc:
        need_server(f"Redis unreachable: {exc}")
    msg_id = int(time.time() * 1000)
    try:
        eng = await make_engine_app(redis=redis)
        for _ in range(3):
            resp = await eng.client.post(HOOK, params=kit.query(), data=kit.text("o_redis", "你好", msg_id))
            assert resp.status == 200
        assert await count(eng) == 1
        assert await redis.exists(f"hotline:wechat:seen:msg:{msg_id}") == 1
    finally:
        await redis.delete(f"hotline:wechat:seen:msg:{msg_id}")
        await redis.aclose()


async def test_safe_mode_decrypts_a_message_encrypted_with_wechat_crypto(make_engine_app):
    eng = await make_engine_app(mode="safe")
    body, q = kit.encrypted(kit.text("o_safe", "井盖丢失", 3003), "safe")
    resp = await eng.client.post(HOOK, params=q, data=body)
    assert resp.status == 200 and await resp.text() == "success"
    rows = await messages(eng)
    assert [(r.citizen, r.body["text"]) for r in rows] == [("o_safe", "井盖丢失")]


async def test_safe_mode_refuses_a_plaintext_push(make_engine_app):
    eng = await make_engine_app(mode="safe")
    resp = await eng.client.post(HOOK, params=kit.query(), data=kit.text("o_safe", "明文", 3004))
    assert resp.status == 400
    assert await count(eng) == 0


async def test_compatible_mode_reads_the_encrypted_part_and_also_accepts_plaintext(make_engine_app):
    eng = await make_engine_app(mode="compatible")
    body, q = kit.encrypted(kit.text("o_compat", "加密部分", 4001), "compatible")
    assert (await eng.client.post(HOOK, params=q, data=body)).status == 200
    plain = kit.text("o_compat", "明文部分", 4002)
    assert (await eng.client.post(HOOK, params=kit.query(), data=plain)).status == 200
    assert [r.body["text"] for r in await messages(eng)] == ["加密部分", "明文部分"]


KINDS = [
    ("image", {"PicUrl": "http://img.example/1.jpg", "MediaId": "m_img"}, True, {"media_id": "m_img"}),
    ("voice", {"MediaId": "m_voice", "Format": "amr", "Recognition": "噪音扰民"}, True, {"recognition": "噪音扰民"}),
    (
        "location",
        {"Location_X": "32.39", "Location_Y": "120.56", "Scale": "15", "Label": "如皋市海阳路"},
        True,
        {"latitude": 32.39, "longitude": 120.56, "label": "如皋市海阳路"},
    ),
    ("link", {"Title": "通知", "Description": "停水", "Url": "http://x.example/a"}, True, {"title": "通知"}),
    ("video", {"MediaId": "m_video", "ThumbMediaId": "t"}, False, {}),
]


@pytest.mark.parametrize(("kind", "fields", "supported", "expect"), KINDS, ids=[k[0] for k in KINDS])
async def test_each_message_kind_is_stored_and_unknown_kinds_are_marked_unsupported(
    make_engine_app, kind, fields, supported, expect
):
    eng = await make_engine_app()
    resp = await eng.client.post(HOOK, params=kit.query(), data=kit.xml("o_kind", kind, msg_id=5005, **fields))
    assert resp.status == 200
    (row,) = await messages(eng)
    assert row.kind == kind and row.supported is supported
    assert row.status == ("received" if supported else "unsupported")
    assert expect.items() <= row.body.items()
    # Even an unsupported kind opens a conversation, so a seat sees it instead of it being dropped.
    assert row.conversation_id is not None


async def test_events_subscribe_click_unsubscribe_are_stored_and_click_joins_the_open_conversation(make_engine_app):
    eng = await make_engine_app()
    now = int(time.time())
    for i, (event, extra) in enumerate([("subscribe", {}), ("CLICK", {"EventKey": "REPORT_ISSUE"})]):
        await eng.client.post(HOOK, params=kit.query(), data=kit.xml("o_ev", "event", now + i, Event=event, **extra))
    await eng.client.post(HOOK, params=kit.query(), data=kit.text("o_ev", "我要投诉", 6001, now + 2))
    await eng.client.post(
        HOOK, params=kit.query(), data=kit.xml("o_ev", "event", now + 3, Event="CLICK", EventKey="REPORT_ISSUE")
    )
    await eng.client.post(HOOK, params=kit.query(), data=kit.xml("o_ev", "event", now + 4, Event="unsubscribe"))
    rows = await messages(eng)
    assert [(r.kind, r.conversation_id is not None) for r in rows] == [
        ("event:subscribe", False),
        ("event:click", False),
        ("text", True),
        ("event:click", True),
        ("event:unsubscribe", True),
    ]
    assert rows[1].body == {"event_key": "REPORT_ISSUE"}
    async with eng.ctx.sessions() as s:
        conv = (await s.execute(select(ChannelConversation))).scalar_one()
    assert conv.flags["menu"] == "REPORT_ISSUE"


def _bad_inputs() -> list[tuple[str, int, dict[str, str] | None, bytes]]:
    good = kit.text("o_bad", "x", 7001).encode()
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<xml><Content>&lol2;</Content></xml>"
    )
    xxe = b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><FromUserName>&xxe;</FromUserName></xml>'
    old = int(time.time()) - 3600
    return [
        ("entity_expansion", 400, None, bomb),
        ("external_entity", 400, None, xxe),
        ("oversized", 400, None, good.replace(b"x", b"x" * 70_000)),
        ("malformed", 400, None, b"<xml><ToUserName>gh</xml>"),
        ("not_utf8", 400, None, "<xml/>".encode("utf-16")),
        ("no_fields", 400, None, b"<xml><Foo>1</Foo></xml>"),
        ("bad_signature", 403, kit.query(token="not-the-token"), good),
        ("stale_timestamp", 403, kit.query(timestamp=old), good),
        ("unsigned", 403, {}, good),
    ]


@pytest.mark.parametrize(("case", "status", "q", "body"), _bad_inputs(), ids=[c[0] for c in _bad_inputs()])
async def test_bad_input_is_refused_and_nothing_is_stored(make_engine_app, case, status, q, body):
    eng = await make_engine_app()
    resp = await eng.client.post(HOOK, params=kit.query() if q is None else q, data=body)
    assert resp.status == status, await resp.text()
    assert await count(eng) == 0
    assert await count(eng, ChannelConversation) == 0


async def test_encrypted_push_with_bad_msg_signature_is_403_and_garbage_is_400(make_engine_app):
    eng = await make_engine_app(mode="safe")
    body, q = kit.encrypted(kit.text("o_c", "x", 8001), "safe")
    forged = {**q, "msg_signature": "0" * 40}
    assert (await eng.client.post(HOOK, params=forged, data=body)).status == 403
    garbage = body.split("<Encrypt>")[0] + "<Encrypt><![CDATA[bm90IGFlcw==]]></Encrypt></xml>"
    ts, nonce = q["timestamp"], q["nonce"]
    q2 = {**q, "msg_signature": kit.sign(kit.TOKEN, ts, nonce, "bm90IGFlcw==")}
    assert (await eng.client.post(HOOK, params=q2, data=garbage)).status == 400
    assert await count(eng) == 0


async def test_message_encrypted_for_another_appid_is_refused(make_engine_app):
    from wechatpy.crypto import WeChatCrypto

    eng = await make_engine_app(mode="safe")
    ts, nonce = str(int(time.time())), "abc"
    envelope = WeChatCrypto(kit.TOKEN, kit.AES_KEY, "wxSomeoneElse").encrypt_message(kit.text("o", "x", 9), nonce, ts)
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    q = {**kit.query(int(ts), nonce), "encrypt_type": "aes", "msg_signature": kit.sign(kit.TOKEN, ts, nonce, encrypt)}
    body = f"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    assert (await eng.client.post(HOOK, params=q, data=body)).status == 400
    assert await count(eng) == 0


async def test_hostile_xml_inside_the_encrypted_part_is_refused(make_engine_app):
    eng = await make_engine_app(mode="safe")
    inner = '<!DOCTYPE x [<!ENTITY a "b">]><xml><FromUserName>&a;</FromUserName></xml>'
    body, q = kit.encrypted(inner, "safe")
    assert (await eng.client.post(HOOK, params=q, data=body)).status == 400
    assert await count(eng) == 0


async def test_a_retry_stored_by_another_process_is_caught_by_the_unique_key(make_engine_app, db_url):
    import datetime as dt

    eng = await make_engine_app(db_url)
    now = dt.datetime.now(dt.UTC)
    async with eng.ctx.sessions() as s, s.begin():
        # As if a second engine process had stored it: this process's fast check has never seen it.
        s.add(
            ChannelMessage(
                channel="wechat",
                citizen="o_other",
                direction="in",
                dedup_key="msg:777",
                kind="text",
                supported=True,
                status="received",
                body={"text": "先到"},
                raw="",
                at=now,
                stored_at=now,
            )
        )
    same = kit.text("o_other", "先到", 777)
    fresh = kit.text("o_other2", "新消息", 778)
    results = await asyncio.gather(*(eng.client.post(HOOK, params=kit.query(), data=b) for b in (same, fresh)))
    assert [r.status for r in results] == [200, 200]
    assert sorted(r.dedup_key for r in await messages(eng)) == ["msg:777", "msg:778"]


async def test_a_push_sent_in_small_chunks_is_read_whole_and_a_chunked_giant_is_refused(make_engine_app):
    eng = await make_engine_app()
    raw = kit.text("o_chunks", "分块发送的消息" * 20, 9101).encode()

    async def pieces(data: bytes, size: int):
        for i in range(0, len(data), size):
            yield data[i : i + size]

    assert (await eng.client.post(HOOK, params=kit.query(), data=pieces(raw, 7))).status == 200
    giant = raw.replace(b"</Content>", b"</Content>" + b"<Pad>x</Pad>" * 8000)
    assert (await eng.client.post(HOOK, params=kit.query(), data=pieces(giant, 4096))).status == 400
    assert [r.dedup_key for r in await messages(eng)] == ["msg:9101"]


async def test_redis_down_loses_nothing_and_the_database_still_stops_retries(make_engine_app, standin):
    from redis.asyncio import Redis

    state, url = standin
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        eng = await make_engine_app(redis=dead, api_base_url=url)
        state.user_wrote("o_noredis")
        for _ in range(3):
            resp = await eng.client.post(HOOK, params=kit.query(), data=kit.text("o_noredis", "在吗", 9201))
            assert resp.status == 200
        rows = await messages(eng)
        assert [r.dedup_key for r in rows] == ["msg:9201"]
        sent = await eng.service.send_text(rows[0].conversation_id, "seat-1", "在的")
        assert sent.status == "sent"
    finally:
        await dead.aclose()


async def test_a_replayed_query_string_with_another_body_is_refused_and_a_retry_is_stored_once(make_engine_app):
    eng = await make_engine_app(mode="plain")
    q = kit.query()
    first = kit.text("o_replay", "第一次", 9101)
    assert (await eng.client.post(HOOK, params=q, data=first)).status == 200
    assert (await eng.client.post(HOOK, params=q, data=first)).status == 200  # WeChat's own retry
    forged = kit.text("o_replay", "伪造的诉求", 9102)
    resp = await eng.client.post(HOOK, params=q, data=forged)  # the captured query, another body
    assert resp.status == 403 and "another body" in await resp.text()
    assert await count(eng) == 1


async def test_a_replay_cannot_slip_past_by_adding_encrypt_type_in_plain_mode(make_engine_app):
    eng = await make_engine_app(mode="plain")
    q = kit.query()
    assert (await eng.client.post(HOOK, params=q, data=kit.text("o_replay", "第一次", 9111))).status == 200
    # encrypt_type is not signed: added to a captured plain query, it once skipped the replay check
    # while the body was still read as plain XML.
    forged = kit.text("o_replay", "伪造的诉求", 9112)
    resp = await eng.client.post(HOOK, params={**q, "encrypt_type": "aes"}, data=forged)
    assert resp.status == 403 and "another body" in await resp.text()
    assert await count(eng) == 1


async def test_a_replay_cannot_slip_past_by_dropping_encryption_in_compatible_mode(make_engine_app):
    eng = await make_engine_app(mode="compatible")
    body, q = kit.encrypted(kit.text("o_compat", "第一次", 9121), "compatible")
    assert (await eng.client.post(HOOK, params=q, data=body)).status == 200
    assert (await eng.client.post(HOOK, params=q, data=body)).status == 200  # WeChat's own retry
    # Compatible mode takes plain pushes too: the captured query without encrypt_type and
    # msg_signature, with a body of the replayer's own.
    plain_q = {k: v for k, v in q.items() if k not in ("encrypt_type", "msg_signature")}
    resp = await eng.client.post(HOOK, params=plain_q, data=kit.text("o_compat", "伪造的诉求", 9122))
    assert resp.status == 403 and "another body" in await resp.text()
    assert await count(eng) == 1
