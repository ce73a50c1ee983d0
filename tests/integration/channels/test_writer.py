"""MessageWriter: chat messages handed in together share a transaction; each sender gets its own
answer; a failed transaction fails only its own messages (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import pytest

from channels.sink import ConversationRef, MessageRef
from channels.webstore import CitizenMessage, Refused, SeatMessage, StoredReply
from channels.writer import MessageWriter
from hotline.storage import Transactions

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Failing(Transactions):
    """Real transactions, except the next ``fail`` ones raise before touching the database."""

    fail = 0

    async def run(self, fn: Any) -> Any:
        if self.fail:
            self.fail -= 1
            raise OSError("disk gone")
        return await super().run(fn)


def writer(engine: Any, heard: list[tuple[str, int]], window: float = 0.0) -> MessageWriter:
    def on_citizen(message: CitizenMessage, conv: ConversationRef, msg: MessageRef) -> None:
        heard.append((message.body["text"], msg.id))

    return MessageWriter(Failing(engine), contextlib.nullcontext(), lambda: NOW, window, on_citizen)


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
        with pytest.raises(OSError, match="disk gone"):
            await w.citizen(CitizenMessage("v3", "", "text", {"text": "lost?"}))
        assert heard == []  # nobody was told of a message that is not stored
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
