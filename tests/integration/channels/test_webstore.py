"""webstore.store: one batch of chat messages both ways, on SQLite (in the batch thread) and on
PostgreSQL (run_sync), with the conversation rules the ORM path had."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.models import ChannelConversation, ChannelMessage
from channels.webstore import CitizenMessage, Refused, SeatMessage, StoredReply, store
from hotline.storage import Transactions, make_sessionmaker

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


async def batch(db: Transactions, citizens: list[CitizenMessage], seats: list[SeatMessage], at: dt.datetime) -> Any:
    return await db.run(lambda conn: store(conn, citizens, seats, at))


async def conversation(engine: AsyncEngine, conv_id: int) -> ChannelConversation:
    async with make_sessionmaker(engine)() as s:
        row = await s.get(ChannelConversation, conv_id)
        assert row is not None
        return row


async def add_conversation(engine: AsyncEngine, **fields: Any) -> int:
    row = ChannelConversation(created_at=T0, updated_at=T0, seat="", flags={}, draft={}, workorder_id="", **fields)
    async with make_sessionmaker(engine)() as s, s.begin():
        s.add(row)
    return row.id


async def test_a_visitors_messages_open_one_conversation_and_only_the_first_says_new(migrated_engine) -> None:
    db = Transactions(migrated_engine)
    try:
        first, second = (
            CitizenMessage("v1", "13800000000", "text", {"text": "你好"}),
            CitizenMessage("v1", "", "text", {"text": "在吗"}),
        )
        stored_in, stored_out = await batch(db, [first, second], [], T0)
        assert stored_out == []
        (c1, m1), (c2, m2) = stored_in
        assert c1.id == c2.id and (c1.new, c2.new) == (True, False)
        assert c1.state == "queued" and c1.channel == "webchat"
        assert c1.citizen == "13800000000"  # known by the phone given, for the ACD and the console
        assert m1.id < m2.id and m1.asks_seat and m1.body == {"text": "你好"}
        later = T0 + dt.timedelta(seconds=30)
        ((c3, m3),) = (await batch(db, [CitizenMessage("v1", "", "text", {"text": "?"})], [], later))[0]
        assert c3.id == c1.id and not c3.new and m3.id > m2.id
        row = await conversation(migrated_engine, c1.id)
        assert row.flags == {"phone": "13800000000"} and row.state == "queued"
        assert row.last_citizen_at is not None and row.last_citizen_at.replace(tzinfo=dt.UTC) == later
    finally:
        db.close()


async def test_a_left_message_is_stored_in_a_closed_conversation_of_its_own(migrated_engine) -> None:
    db = Transactions(migrated_engine)
    try:
        left = CitizenMessage("v2", "13900000000", "leave_message", {"text": "请回电"})
        ((conv, msg),), _ = await batch(db, [left], [], T0)
        assert conv.state == "closed" and conv.flags["left_message"] is True and not msg.asks_seat
        ((again, _),), _ = await batch(db, [CitizenMessage("v2", "", "text", {"text": "新问题"})], [], T0)
        assert again.id != conv.id and again.new and again.state == "queued"
    finally:
        db.close()


async def test_seat_replies_are_refused_alone_and_a_reply_to_a_waiting_chat_assigns_it(migrated_engine) -> None:
    waiting = await add_conversation(migrated_engine, channel="webchat", citizen="v3", state="queued")
    closed = await add_conversation(migrated_engine, channel="webchat", citizen="v4", state="closed")
    wechat = await add_conversation(migrated_engine, channel="wechat", citizen="o1", state="assigned")
    expired = await add_conversation(migrated_engine, channel="wechat", citizen="o2", state="window_closed")
    db = Transactions(migrated_engine)
    try:
        replies = [
            SeatMessage(waiting, "1001", "text", {"text": "您好"}),
            SeatMessage(closed, "1001", "text", {"text": "还在吗"}),
            SeatMessage(999_999, "1001", "text", {"text": "?"}),
            SeatMessage(wechat, "1002", "text", {"text": "收到"}),
            SeatMessage(expired, "1002", "text", {"text": "补发"}),
        ]
        citizen = CitizenMessage("v5", "", "text", {"text": "同一批"})
        (stored_in, stored_out) = await batch(db, [citizen], replies, T0)
        assert len(stored_in) == 1 and stored_in[0][0].new
        web, gone, missing, sending, held = stored_out
        assert isinstance(web, StoredReply) and (web.channel, web.citizen, web.status) == ("webchat", "v3", "sent")
        assert gone == Refused("会话已结束，不能再回复") and missing == Refused("会话 999999 不存在")
        assert isinstance(sending, StoredReply) and sending.status == "sending" and sending.citizen == "o1"
        assert isinstance(held, StoredReply) and held.status == "held_window"
        row = await conversation(migrated_engine, waiting)
        assert (row.state, row.seat) == ("assigned", "1001")
        async with make_sessionmaker(migrated_engine)() as s:
            out = (await s.execute(select(ChannelMessage).where(ChannelMessage.direction == "out"))).scalars().all()
        assert sorted((m.conversation_id, m.status, m.body["seat"]) for m in out) == sorted(
            [(waiting, "sent", "1001"), (wechat, "sending", "1002"), (expired, "held_window", "1002")]
        )
    finally:
        db.close()


async def test_a_reply_leaves_the_citizens_last_message_time_as_it_was(migrated_engine) -> None:
    db = Transactions(migrated_engine)
    try:
        ((conv, _),), _ = await batch(db, [CitizenMessage("v6", "", "text", {"text": "hi"})], [], T0)
        later = T0 + dt.timedelta(minutes=5)
        _, (reply,) = await batch(db, [], [SeatMessage(conv.id, "1001", "text", {"text": "您好"})], later)
        assert isinstance(reply, StoredReply)
        row = await conversation(migrated_engine, conv.id)
        assert row.state == "assigned" and row.seat == "1001"
        assert row.last_citizen_at is not None and row.last_citizen_at.replace(tzinfo=dt.UTC) == T0
    finally:
        db.close()


async def test_values_read_back_as_written_and_a_large_batch_keeps_every_message_with_its_visitor(
    migrated_engine,
) -> None:
    """SQLite's batch speaks to the driver itself (channels/websql.py): what it writes must read back
    through the ORM exactly, and ids must line up with rows across the statements a batch is cut in."""
    db = Transactions(migrated_engine)
    at = T0 + dt.timedelta(microseconds=123_456)
    try:
        body = {"text": "路灯坏了，已经三天", "nested": {"列表": [1, 2.5, None, True]}}
        ((first, msg),), _ = await batch(db, [CitizenMessage("v7", "", "text", body, sent_as="p-1")], [], at)
        ((again_conv, again),), _ = await batch(
            db, [CitizenMessage("v7", "", "text", {"text": "x"}, sent_as="p-1")], [], T0
        )
        assert (again.id, again.repeat, again.body, again.at.replace(tzinfo=dt.UTC)) == (msg.id, True, body, at)
        assert again_conv.id == first.id and not again_conv.new
        async with make_sessionmaker(migrated_engine)() as s:
            row = await s.get(ChannelMessage, msg.id)
        assert row is not None and row.body == body and row.supported is True
        assert row.at.replace(tzinfo=dt.UTC) == at and row.dedup_key == "web:v7:p-1"
        many = [CitizenMessage(f"w{n % 1300}", "", "text", {"text": f"第{n}条"}) for n in range(2600)]
        stored, _ = await batch(db, many, [], T0)
        assert len({m.id for _, m in stored}) == 2600 and len({c.id for c, _ in stored}) == 1300
        async with make_sessionmaker(migrated_engine)() as s:
            rows = (await s.execute(select(ChannelMessage).where(ChannelMessage.citizen.like("w%")))).scalars().all()
        by_id = {r.id: r for r in rows}
        for (c, m), sent in zip(stored, many, strict=True):
            assert by_id[m.id].citizen == sent.visitor and by_id[m.id].body == sent.body
            assert by_id[m.id].conversation_id == c.id
    finally:
        db.close()
