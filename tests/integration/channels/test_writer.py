"""MessageWriter: chat messages handed in together share a transaction; each sender gets its own
answer; a failed transaction fails only its own messages; a database that does not answer holds
the messages (bounded in time and number) until it does (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import pytest

from channels.sink import ConversationRef, MessageRef
from channels.webstore import CitizenMessage, Refused, SeatMessage, StoredReply
from channels.writer import MessageWriter
from hotline.dbhealth import DATABASE, StorageUnavailable
from hotline.storage import Transactions

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Failing(Transactions):
    """Real transactions, except the next ``fail`` ones raise ``error`` before touching the database
    (the way a refused connection does); ``tried`` counts the attempts."""

    fail = 0
    error: Exception = RuntimeError("a bug in the statement")
    tried = 0

    async def run(self, fn: Any, timeout: float | None = None) -> Any:
        self.tried += 1
        if self.fail:
            self.fail -= 1
            raise self.error
        return await super().run(fn, timeout)


def writer(
    engine: Any, heard: list[tuple[str, int]], window: float = 0.0, hold: float = 6.0, backlog: int = 2000
) -> MessageWriter:
    def on_citizen(message: CitizenMessage, conv: ConversationRef, msg: MessageRef) -> None:
        heard.append((message.body["text"], msg.id))

    return MessageWriter(
        Failing(engine), contextlib.nullcontext(), lambda: NOW, window, on_citizen, hold=hold, backlog=backlog
    )


async def stored_texts(engine: Any) -> list[str]:
    from sqlalchemy import select

    from channels.models import ChannelMessage

    async with engine.connect() as conn:
        rows = await conn.execute(select(ChannelMessage.body).order_by(ChannelMessage.id))
        return [body["text"] for (body,) in rows]


async def test_messages_handed_in_together_share_a_transaction_and_each_hears_its_own_answer(migrated_engine) -> None:
    heard: list[tuple[str, int]] = []
    w = writer(migrated_engine, heard)
    try:
        (conv, first), _ = await asyncio.gather(
            w.citizen(CitizenMessage("v1", "", "text", {"text": "a"})),
            w.citizen(CitizenMessage("v9", "", "text", {"text": "z"})),
        )
        results = await asyncio.gather(
            w.citizen(CitizenMessage("v1", "", "text", {"text": "b"})),
            w.seat(SeatMessage(conv.id, "1001", "text", {"text": "您好"})),
            w.seat(SeatMessage(424242, "1001", "text", {"text": "?"})),
            w.citizen(CitizenMessage("v2", "", "text", {"text": "c"})),
        )
        assert w.transactions_run == 2 and w.messages_stored == 6
        (c_b, m_b), reply, refused, (c_c, m_c) = results
        assert m_c.id > m_b.id
        assert c_b.id == conv.id and not c_b.new and m_b.id > first.id
        assert isinstance(reply, StoredReply) and reply.citizen == "v1" and reply.status == "sent"
        assert refused == Refused("会话 424242 不存在")
        assert c_c.new and c_c.id != conv.id
        # Told in commit order, each before its sender heard back.
        assert [text for text, _ in heard] == ["a", "z", "b", "c"]
        assert sorted(i for _, i in heard) == [i for _, i in heard]
    finally:
        await w.aclose()
        w.transactions.close()


async def test_a_failed_transaction_fails_its_own_messages_and_the_next_one_is_stored(migrated_engine) -> None:
    heard: list[tuple[str, int]] = []
    w = writer(migrated_engine, heard)
    assert isinstance(w.transactions, Failing)
    w.transactions.fail = 1
    try:
        with pytest.raises(RuntimeError, match="a bug"):
            await w.citizen(CitizenMessage("v3", "", "text", {"text": "lost?"}))
        assert heard == [] and w.transactions.tried == 1  # not tried again, nobody told of it as stored
        conv, msg = await w.citizen(CitizenMessage("v3", "", "text", {"text": "again"}))
        assert conv.new and heard == [("again", msg.id)]
    finally:
        await w.aclose()
        w.transactions.close()


async def test_while_messages_come_faster_than_the_window_they_wait_for_company(migrated_engine) -> None:
    heard: list[tuple[str, int]] = []
    # A long window, so that a stalled test machine cannot make the second message miss it.
    w = writer(migrated_engine, heard, window=0.5)
    try:
        await w.citizen(CitizenMessage("v4", "", "text", {"text": "first"}))  # alone: nothing to wait for
        assert w.transactions_run == 1
        w.window.gap = 0.001  # as if messages had been coming every millisecond
        first = asyncio.ensure_future(w.citizen(CitizenMessage("v4", "", "text", {"text": "1"})))
        while w._queue.empty():  # handed in...
            await asyncio.sleep(0)
        while not w._queue.empty():  # ...and taken: without the window the writer would store it now
            await asyncio.sleep(0)
        second = asyncio.ensure_future(w.citizen(CitizenMessage("v5", "", "text", {"text": "2"})))
        await asyncio.gather(first, second)
        assert w.transactions_run == 2 and [t for t, _ in heard] == ["first", "1", "2"]
    finally:
        await w.aclose()
        w.transactions.close()


async def test_a_database_that_does_not_answer_for_a_moment_holds_the_messages_and_stores_each_once(
    migrated_engine,
) -> None:
    heard: list[tuple[str, int]] = []
    w = writer(migrated_engine, heard)
    assert isinstance(w.transactions, Failing)
    w.transactions.error = ConnectionRefusedError(111, "Connect call failed")
    w.transactions.fail = 3  # a PostgreSQL restart: three attempts refused, then it answers
    try:
        first = asyncio.ensure_future(w.citizen(CitizenMessage("v6", "", "text", {"text": "路灯不亮"})))
        while w.transactions.tried < 2:  # the database is down now ...
            await asyncio.sleep(0.01)
        assert DATABASE.down and not first.done()
        # ... and a message sent meanwhile is held with the first, not refused
        second = asyncio.ensure_future(w.citizen(CitizenMessage("v6", "", "text", {"text": "在人民路"})))
        (conv, m1), (conv2, m2) = await asyncio.gather(first, second)
        assert conv2.id == conv.id and m2.id > m1.id
        assert not DATABASE.down
        assert await stored_texts(migrated_engine) == ["路灯不亮", "在人民路"]  # each once, in order
        assert [t for t, _ in heard] == ["路灯不亮", "在人民路"]
    finally:
        await w.aclose()
        w.transactions.close()


async def test_past_its_hold_a_message_is_refused_not_stored_and_the_next_ones_are_stored_when_it_answers(
    migrated_engine,
) -> None:
    heard: list[tuple[str, int]] = []
    w = writer(migrated_engine, heard, hold=0.3, backlog=3)
    assert isinstance(w.transactions, Failing)
    w.transactions.error = ConnectionResetError(104, "Connection reset by peer")
    w.transactions.fail = 10**6  # down until the test says otherwise
    try:
        held = [
            asyncio.ensure_future(w.citizen(CitizenMessage(f"v{n}", "", "text", {"text": f"m{n}"}))) for n in range(3)
        ]
        await asyncio.sleep(0)
        # the backlog is full: one more is refused at once, not queued
        with pytest.raises(StorageUnavailable, match="请稍后重试"):
            await w.citizen(CitizenMessage("v9", "", "text", {"text": "m9"}))
        for fut in held:  # each told to send again once its hold is over
            with pytest.raises(StorageUnavailable):
                await fut
        assert DATABASE.down and heard == []
        w.transactions.fail = 0
        _, msg = await w.citizen(CitizenMessage("v1", "", "text", {"text": "again"}))
        assert not DATABASE.down and heard == [("again", msg.id)]
        assert await stored_texts(migrated_engine) == ["again"]  # none of the refused ones
    finally:
        await w.aclose()
        w.transactions.close()


async def test_a_message_sent_again_under_its_id_is_stored_once_and_answered_as_the_first(migrated_engine) -> None:
    heard: list[tuple[str, int]] = []
    w = writer(migrated_engine, heard)
    try:
        conv, first = await w.citizen(CitizenMessage("v7", "", "text", {"text": "路灯不亮"}, "page-msg-0001"))
        # The page's acknowledgement was lost (a restart, a cut): it sends the same message again.
        conv2, again = await w.citizen(CitizenMessage("v7", "", "text", {"text": "路灯不亮"}, "page-msg-0001"))
        assert (conv2.id, again.id, again.repeat, first.repeat) == (conv.id, first.id, True, False)
        assert not conv2.new
        # Twice in one transaction, as a page that sent it twice in a row: one row, both answered.
        a, b = await asyncio.gather(
            w.citizen(CitizenMessage("v7", "", "text", {"text": "在人民路"}, "page-msg-0002")),
            w.citizen(CitizenMessage("v7", "", "text", {"text": "在人民路"}, "page-msg-0002")),
        )
        assert a[1].id == b[1].id and [a[1].repeat, b[1].repeat] == [False, True]
        # A seat's reply the same way, and the same id from another sender is another message.
        r1 = await w.seat(SeatMessage(conv.id, "1001", "text", {"text": "收到"}, "console-0001"))
        r2 = await w.seat(SeatMessage(conv.id, "1001", "text", {"text": "收到"}, "console-0001"))
        other = await w.seat(SeatMessage(conv.id, "1002", "text", {"text": "收到"}, "console-0001"))
        assert isinstance(r1, StoredReply) and isinstance(r2, StoredReply) and isinstance(other, StoredReply)
        assert (r2.message_id, r2.repeat, r1.repeat) == (r1.message_id, True, False)
        assert other.message_id != r1.message_id and not other.repeat
        assert await stored_texts(migrated_engine) == ["路灯不亮", "在人民路", "收到", "收到"]
        assert [t for t, _ in heard] == ["路灯不亮", "在人民路"]  # each handed on once
    finally:
        await w.aclose()
        w.transactions.close()
