"""WeChat's automatic answers on SQLite and PostgreSQL, against the WeChat stand-in: a confident
match is answered at once and nobody is queued; 转人工 (or a text that does not match) queues the
conversation with the earlier exchange, and the real-time clock starts at that hand-over."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from acd.chat import ChatBridge
from acd.core import QueueConfig, QueueConfigured
from acd.service import AcdService
from channels.models import ChannelConversation
from channels.sink import ConversationRef, MessageRef
from channels.wechat_standin import StandInState, build_standin
from hotline.bus import Bus
from hotline.context import AppContext
from knowledge import wechat_answer
from knowledge.core.autoanswer import HANDOVER_LINE
from knowledge.core.model import Actor
from knowledge.services import KnowledgeService
from knowledge.settings import KnowledgeSettings
from knowledge.wechat_answer import WeChatAnswerer, WeChatAnswerSettings
from tests.integration.channels import wechat_kit as kit
from tests.integration.channels.conftest import start_engine

DATA = Path(__file__).resolve().parents[2] / "data" / "kb"
NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
ADMIN = Actor("admin1", "admin", None)
CONFIDENT = "门诊特殊病怎么申请"  # kb-0004 门诊慢特病, far ahead of the second hit
UNSURE = "新农合今年在手机上能交吗"  # two entries tie: no answer


@pytest.fixture
async def standin():  # type: ignore[no-untyped-def]
    """WeChat's API servers, as the channels' tests fake them."""
    state = StandInState(kit.APP_ID, kit.APP_SECRET)
    server = TestServer(build_standin(state), host="127.0.0.1")
    await server.start_server()
    try:
        yield state, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def setup(db_url: str, tmp_path: Path, standin_url: str, **settings: Any):  # type: ignore[no-untyped-def]
    eng, db = await start_engine(db_url, tmp_path, api_base_url=standin_url)
    kb = KnowledgeService(db, KnowledgeSettings(), clock=lambda: NOW)
    await kb.start()
    report = await kb.import_lines((DATA / "entries.jsonl").read_text().splitlines(), ADMIN)
    assert report.created == 240
    eng.service.before_queue = WeChatAnswerer(kb, WeChatAnswerSettings(**{"enabled": True, **settings}))
    bus = Bus()
    acd = AcdService(bus)
    await acd.feed(QueueConfigured(now=acd.now(), queue=QueueConfig(name="internet", skills=(("general", 1),))))
    eng.sink.subscribe(ChatBridge(acd, bus, eng.service).on_notification)
    return eng, db, kb, acd


async def teardown(eng, db, kb) -> None:  # type: ignore[no-untyped-def]
    await kb.close()
    await eng.client.close()
    await db.dispose()


async def push(eng, state, openid: str, content: str, msg_id: int, at: int) -> None:  # type: ignore[no-untyped-def]
    state.user_wrote(openid)
    resp = await eng.client.post("/wechat/webhook", params=kit.query(), data=kit.text(openid, content, msg_id, at))
    assert resp.status == 200 and await resp.text() == "success"
    await eng.service.drain()


async def conversation_of(eng, openid: str) -> ChannelConversation:  # type: ignore[no-untyped-def]
    async with eng.ctx.sessions() as s:
        rows = (await s.execute(select(ChannelConversation).where(ChannelConversation.citizen == openid))).scalars()
        return rows.one()


async def test_a_confident_match_is_answered_at_once_and_zhuanrengong_queues_it_with_the_clock_from_then(
    db_url, tmp_path, standin
):
    state, url = standin
    eng, db, kb, acd = await setup(db_url, tmp_path, url)
    try:
        t0 = int(time.time()) - 120
        await push(eng, state, "o-kb-1", CONFIDENT, 501, t0)
        assert len(state.sent) == 1
        answer = state.sent[0]["text"]["content"]
        assert answer.startswith("【门诊慢特病") and answer.endswith(HANDOVER_LINE) and "<" not in answer
        assert len(answer.encode()) <= 2048
        conv = await conversation_of(eng, "o-kb-1")
        contact = f"wechat-{conv.id}"
        assert not acd.core.has_contact(contact)  # no seat asked for
        assert eng.service.tracker.stats(time.time()).asked == 0
        assert await eng.service.open_chats() == []  # a start would not queue it either

        t1 = t0 + 60
        await push(eng, state, "o-kb-1", "转人工", 502, t1)
        assert len(state.sent) == 1  # nothing more sent: a seat answers now
        assert acd.core.has_contact(contact)
        times = eng.service.tracker.times(str(conv.id))
        assert times.first_ask_at == t1  # the real-time clock starts at the hand-over
        assert eng.service.tracker.stats(time.time()).asked == 1
        history = await eng.service.transcript(conv.id)
        assert [(m["direction"], m["body"].get("text", "")[:4]) for m in history] == [
            ("in", CONFIDENT[:4]),
            ("out", "【门诊慢"),
            ("in", "转人工"),
        ]
        assert [c.id for c in await eng.service.open_chats()] == [conv.id]

        # A start rebuilds the tracker from storage: still only from the hand-over.
        eng.service.tracker = type(eng.service.tracker)()
        await eng.service.restore()
        assert eng.service.tracker.times(str(conv.id)).first_ask_at == t1
        assert eng.service.tracker.times(str(conv.id)).first_response_s is None
    finally:
        await teardown(eng, db, kb)


async def test_a_low_confidence_text_is_queued_as_before(db_url, tmp_path, standin):
    state, url = standin
    eng, db, kb, acd = await setup(db_url, tmp_path, url)
    try:
        t0 = int(time.time()) - 30
        await push(eng, state, "o-kb-2", UNSURE, 601, t0)
        assert state.sent == []
        conv = await conversation_of(eng, "o-kb-2")
        assert acd.core.has_contact(f"wechat-{conv.id}")
        assert eng.service.tracker.times(str(conv.id)).first_ask_at == t0
        assert "self_service" not in conv.flags
    finally:
        await teardown(eng, db, kb)


async def test_a_second_message_that_does_not_match_again_is_handed_over(db_url, tmp_path, standin):
    state, url = standin
    eng, db, kb, acd = await setup(db_url, tmp_path, url)
    try:
        t0 = int(time.time()) - 60
        await push(eng, state, "o-kb-3", CONFIDENT, 701, t0)
        await push(eng, state, "o-kb-3", CONFIDENT, 702, t0 + 5)  # matches again: answered again
        assert len(state.sent) == 2
        conv = await conversation_of(eng, "o-kb-3")
        assert not acd.core.has_contact(f"wechat-{conv.id}")
        await push(eng, state, "o-kb-3", "孩子在学校被欺负了", 703, t0 + 20)
        assert len(state.sent) == 2 and acd.core.has_contact(f"wechat-{conv.id}")
        assert eng.service.tracker.times(str(conv.id)).first_ask_at == t0 + 20
        # The seat's first reply is measured from the hand-over, not from the first question.
        await eng.service.assign(conv.id, "seat-1")
        sent = await eng.service.send_text(conv.id, "seat-1", "您好，已记录")
        assert sent.status == "sent"
        first = eng.service.tracker.times(str(conv.id)).first_response_s
        assert first is not None and first < time.time() - t0 - 10
    finally:
        await teardown(eng, db, kb)


async def test_switched_off_or_wechat_refusing_means_a_seat_as_before(db_url, tmp_path, standin):
    state, url = standin
    eng, db, kb, acd = await setup(db_url, tmp_path, url, enabled=False)
    try:
        await push(eng, state, "o-kb-4", CONFIDENT, 801, int(time.time()))
        assert state.sent == [] and acd.core.has_contact(f"wechat-{(await conversation_of(eng, 'o-kb-4')).id}")
        eng.service.before_queue = WeChatAnswerer(kb, WeChatAnswerSettings(enabled=True))
        # Not a follower for WeChat (40003): the answer is kept as failed and a seat is asked for.
        resp = await eng.client.post(
            "/wechat/webhook", params=kit.query(), data=kit.text("o-kb-5", CONFIDENT, 802, int(time.time()))
        )
        assert resp.status == 200
        await eng.service.drain()
        conv = await conversation_of(eng, "o-kb-5")
        assert acd.core.has_contact(f"wechat-{conv.id}")
        out = [m for m in await eng.service.transcript(conv.id) if m["direction"] == "out"]
        assert [(m["status"], m["body"]["auto"]) for m in out] == [("failed", True)]
        assert eng.service.tracker.stats(time.time()).asked == 2
    finally:
        await teardown(eng, db, kb)


async def test_the_plugin_part_registers_the_hook_when_the_app_starts(tmp_path):
    class Channels:
        before_queue: Any = None

    ctx = AppContext(settings=None, engine=None, sessions=None)  # type: ignore[arg-type]
    ctx.deps.channels = Channels()  # type: ignore[assignment]
    app = web.Application()
    kb = KnowledgeService(None, KnowledgeSettings())  # type: ignore[arg-type]
    wechat_answer.install(app, ctx, kb)
    app.freeze()
    await app.startup()
    assert isinstance(ctx.deps.channels.before_queue, WeChatAnswerer)
    ref = ConversationRef(1, "wechat", "o", "queued", "", True)
    image = MessageRef(1, "in", "image", True, True, {}, NOW)
    assert await ctx.deps.channels.before_queue(ref, image) is None  # only text is answered


async def test_precision_on_the_evaluation_set_at_the_default_threshold(db_url):
    """The default threshold's figure in docs/knowledge.md: answered questions whose answer is the
    entry the set names, over all answered (the 240 entries, 479 questions, on each database)."""
    import json

    from hotline.migrate import upgrade
    from hotline.storage import make_engine

    url = db_url
    await upgrade(url)
    db = make_engine(url)
    kb = KnowledgeService(db, KnowledgeSettings(), clock=lambda: NOW)
    await kb.start()
    try:
        assert not await WeChatAnswerer(kb, WeChatAnswerSettings()).enabled()  # nothing published yet
        await kb.import_lines((DATA / "entries.jsonl").read_text().splitlines(), ADMIN)
        questions = {e["id"]: e["question"] for e in map(json.loads, (DATA / "entries.jsonl").open())}
        on_by_default = await WeChatAnswerer(kb, WeChatAnswerSettings()).enabled()
        assert on_by_default  # both databases: PostgreSQL ranks with the same BM25 since migration 0014
        answerer = WeChatAnswerer(kb, WeChatAnswerSettings(enabled=True))
        answered = correct = 0
        asked = [json.loads(line) for line in (DATA / "questions.jsonl").open()]
        for q in asked:
            reply = await answerer.answer(q["question"])
            if reply is not None:
                answered += 1
                correct += reply.startswith(f"【{questions[q['entry']]}】")
        for chat in ("转人工", "人工", "人工客服", "你好", "在吗", "谢谢"):
            assert await answerer.answer(chat) is None
        precision = correct / answered
        print(f"answered {answered}/{len(asked)}, correct {correct}, precision {precision:.3f}")
        # measured 238 of 248 (0.960) on both (PostgreSQL before migration 0014: 205 of 224, 0.915)
        assert precision >= 0.95 and answered >= 200
    finally:
        await kb.close()
        await db.dispose()
