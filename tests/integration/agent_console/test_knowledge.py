"""The knowledge base in the consoles on a real engine (ACD, console, web chat, knowledge base on a
real port, SQLite), with real Socket.IO clients: suggestions during a chat and while a work order
is written, and the emergency Q&A lists pushed to every console."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from agent_console.settings import ConsoleSettings
from channels.settings import ChannelSettings, WebChatSettings
from knowledge.core.model import Actor
from knowledge.services import KnowledgeService
from tests.integration.agent_console.harness import Client, Engine, start_engine, stop_engine

ENTRIES = Path(__file__).resolve().parents[2] / "data" / "kb" / "entries.jsonl"


@pytest.fixture
async def kb_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = await start_engine(
        tmp_path,
        console=ConsoleSettings(grace_s=0.6, board_every_s=0.2, kb_suggest_every_s=1.0),
        channels=ChannelSettings(webchat=WebChatSettings(position_every=0.3)),
        knowledge=True,
    )
    report = await knowledge(e).import_lines(ENTRIES.read_text().splitlines(), Actor("admin1", "admin"))
    assert report.created == 240 and not report.refused
    try:
        yield e
    finally:
        await stop_engine(e)


def knowledge(e: Engine) -> KnowledgeService:
    assert e.console.kb is not None
    kb = e.console.kb.knowledge()
    assert kb is not None
    return kb


def dropped(kind: str) -> float:
    return REGISTRY.get_sample_value("hotline_console_kb_suggest_dropped_total", {"kind": kind}) or 0.0


async def ready_seat(e: Engine, name: str) -> Client:
    seat = await e.client("/agent", await e.account(name))
    assert (await seat.call("login", {"phone": "desk", "ready": True, "media": "chat"}))["ok"]
    return seat


async def chatting(e: Engine, seat: Client) -> tuple[Client, str]:
    """A web-chat visitor whose conversation the seat has accepted."""
    v = Client("/visitor")
    await v.sio.connect(e.base, namespaces=["/visitor"], transports=["websocket"], wait_timeout=5)
    e.clients.append(v.sio)
    assert (await v.call("hello"))["ok"]
    assert (await v.call("message", {"text": "你好"}))["ok"]
    offer = await seat.next("offer")
    assert (await seat.call("accept", {"contact_id": offer["contact_id"]}))["ok"]
    await v.next("assigned")
    return v, offer["contact_id"]


async def test_a_citizens_message_brings_suggestions_to_its_seat_only_after_the_message(kb_engine: Engine) -> None:
    e = kb_engine
    seat = await ready_seat(e, "1001")
    v, contact = await chatting(e, seat)
    other = await ready_seat(e, "1002")  # ready in the same queue, not in this chat
    supervisor = await e.client("/supervisor", await e.account("boss", "supervisor"))

    sent = await v.call("message", {"text": "我家门口的路灯坏了好几天了，晚上一片漆黑"})
    assert sent["ok"]
    tip = await seat.next("kb_suggest")
    assert tip["contact_id"] == contact
    assert seat.seen.index("chat_message") < seat.seen.index("kb_suggest")  # the message first
    results = tip["results"]
    assert 1 <= len(results) <= 3
    assert results[0]["id"] == "kb-0133" and "路灯" in results[0]["question"]
    for r in results:
        assert set(r) == {"id", "question", "answer", "score", "expired", "flagged"}
        assert r["score"] >= 10.0 and r["flagged"] is False
        assert "<" not in r["answer"] and r["answer"]  # plain text, tags stripped
    await asyncio.sleep(0.3)
    assert "kb_suggest" not in other.seen and "kb_suggest" not in supervisor.seen and "kb_suggest" not in v.seen

    # Chit-chat finds nothing above the threshold: no suggestion at all.
    await asyncio.sleep(1.0)  # past the conversation's pacing
    seat.drain("kb_suggest")
    assert (await v.call("message", {"text": "好的谢谢"}))["ok"]
    await seat.next("chat_message")
    await asyncio.sleep(0.5)
    assert seat.events["kb_suggest"].empty()


async def test_one_search_per_conversation_per_interval_and_the_newest_text_is_searched(kb_engine: Engine) -> None:
    e = kb_engine
    seat = await ready_seat(e, "1001")
    v, contact = await chatting(e, seat)
    loop = asyncio.get_running_loop()
    for text in ("小区晚上噪音扰民", "夜间施工太吵了", "对了，住房公积金怎么提取"):
        assert (await v.call("message", {"text": text}))["ok"]
    first = await seat.next("kb_suggest")
    at_first = loop.time()
    assert "噪声" in first["results"][0]["question"]
    second = await seat.next("kb_suggest", timeout=3)
    assert loop.time() - at_first >= 0.8  # kb_suggest_every_s is 1.0 here
    assert "公积金" in second["results"][0]["question"]  # the latest of the two held back
    await asyncio.sleep(1.3)
    assert seat.events["kb_suggest"].empty()  # three messages, two searches
    assert [m["body"]["text"] for m in (await seat.call("chat_history", {"contact_id": contact}))["messages"]][-1] == (
        "对了，住房公积金怎么提取"
    )


async def test_a_stuck_knowledge_base_never_holds_up_the_chat_and_surplus_searches_are_dropped(
    kb_engine: Engine,
) -> None:
    e = kb_engine
    assert e.console.kb is not None
    suggester = e.console.kb
    seat = await ready_seat(e, "1001")
    v, contact = await chatting(e, seat)
    release = asyncio.Event()
    real = knowledge(e)

    class Stuck:
        async def search(self, *args: Any, **kw: Any) -> Any:
            await release.wait()
            return await real.search(*args, **kw)

        async def get(self, entry_id: str) -> Any:
            return await real.get(entry_id)

    suggester.knowledge = lambda: Stuck()  # type: ignore[assignment,return-value]
    suggester.s = suggester.s.model_copy(update={"kb_suggest_pending": 1})
    before = dropped("chat")
    assert (await v.call("message", {"text": "路灯坏了"}))["ok"]
    pushed = await seat.next("chat_message")  # delivered while its search waits
    assert pushed["contact_id"] == contact
    # Another conversation's search finds the one allowed in flight taken: dropped and counted.
    suggester.chat("1001", "webchat-999", "住房公积金怎么提取")
    assert dropped("chat") == before + 1
    # A work order's suggestion is refused the same way, with a reason for the seat.
    busy = await seat.call("kb_suggest_order", {"title": "路灯", "content": "路灯不亮"})
    assert busy == {"ok": False, "error": "系统繁忙，请稍后重试"}
    assert dropped("order") >= 1
    release.set()
    tip = await seat.next("kb_suggest")
    assert tip["contact_id"] == contact and tip["results"][0]["id"] == "kb-0133"


async def test_work_order_suggestions_are_validated_and_rate_limited_per_seat(kb_engine: Engine) -> None:
    e = kb_engine
    seat = await ready_seat(e, "1001")
    bad = [
        ({"title": "x", "content": "y", "extra": 1}, "字段 extra：不允许的字段"),
        ({"title": 5}, "字段 title：须为文本"),
        ({"content": "x" * 20001}, "字段 content：过长"),
        ({"title": "长" * 201}, "字段 title：过长"),
        ("路灯", "请求数据须为 JSON 对象"),
    ]
    for data, error in bad:
        assert await seat.call("kb_suggest_order", data) == {"ok": False, "error": error}

    ack = await seat.call(
        "kb_suggest_order", {"title": "路灯损坏", "content": "市民反映小区门口路灯不亮，请尽快维修。" * 50}
    )
    assert ack["ok"] and ack["results"][0]["id"] == "kb-0133" and len(ack["results"]) <= 3
    assert ack["results"][0]["answer"] and "<p>" not in ack["results"][0]["answer"]
    assert (await seat.call("kb_suggest_order", {"title": "", "content": "   "})) == {"ok": True, "results": []}
    # Burst of 3 in 5 s per seat (refused events do not count): the fourth is refused; another
    # seat is not affected.
    assert (await seat.call("kb_suggest_order", {"content": "噪音扰民"}))["ok"]
    refused = await seat.call("kb_suggest_order", {"content": "噪音扰民"})
    assert refused["ok"] is False and refused["error"].startswith("推荐查询过于频繁")
    other = await ready_seat(e, "1002")
    assert (await other.call("kb_suggest_order", {"content": "噪音扰民"}))["ok"]


async def test_work_order_suggestions_without_a_knowledge_base_say_so(engine: Engine) -> None:
    seat = await engine.client("/agent", await engine.account("1001"))
    assert await seat.call("kb_suggest_order", {"content": "路灯"}) == {"ok": False, "error": "知识库未启用"}


async def test_an_emergency_list_reaches_every_seat_and_supervisor_console_until_withdrawn(engine: Engine) -> None:
    seat = await engine.client("/agent", await engine.account("1001"))
    idle = await engine.client("/agent", await engine.account("1002"))  # connected, not signed in
    boss = await engine.client("/supervisor", await engine.account("boss", "supervisor"))
    lst = {
        "id": "em-1",
        "title": "台风“海葵”应急答疑",
        "items": [{"question": "明天停课吗", "answer": "全市中小学停课一天"}],
        "unit": "应急管理局",
        "published_at": "2026-12-07T08:00:00+00:00",
    }
    bus = engine.ctx.deps.bus
    await bus.publish("kb.emergency", {"action": "published", "list": lst})
    for c in (seat, idle, boss):
        assert await c.next("kb_emergency") == {"action": "published", "list": lst}
    await bus.publish("kb.emergency", {"action": "withdrawn", "list": {"id": "em-1"}})
    for c in (seat, idle, boss):
        assert await c.next("kb_emergency") == {"action": "withdrawn", "list": {"id": "em-1"}}
    # A malformed event is not passed on.
    await bus.publish("kb.emergency", {"action": "deleted", "list": lst})
    await bus.publish("kb.emergency", {"action": "published"})
    await asyncio.sleep(0.3)
    assert all(c.events["kb_emergency"].empty() for c in (seat, idle, boss))


async def test_an_entry_under_correction_is_suggested_with_its_warning_and_a_published_list_reaches_seats(
    kb_engine: Engine,
) -> None:
    """With the knowledge base's own requests API: a seat's 纠错 marks the entry ``flagged`` in the
    suggestions; an emergency list published over HTTP arrives on the seat's console."""
    e = kb_engine
    seat = await ready_seat(e, "1001")
    await e.account("boss", "supervisor")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {e.token('1001', 'seat')}"}) as http:
        resp = await http.post(e.base + "/api/kb/entries/kb-0133/flags", json={"reason": "报修电话已变更"})
        assert resp.status == 201, await resp.text()
    ack = await seat.call("kb_suggest_order", {"title": "路灯损坏", "content": "小区门口路灯不亮"})
    assert ack["ok"] and ack["results"][0]["id"] == "kb-0133" and ack["results"][0]["flagged"] is True
    assert all(r["flagged"] is False for r in ack["results"][1:])

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {e.token('boss', 'supervisor')}"}) as http:
        items = [{"question": "明天停课吗", "answer": "<p>全市中小学停课一天</p>"}]
        resp = await http.post(e.base + "/api/kb/emergency", json={"title": "台风应急答疑", "items": items})
        assert resp.status == 201, await resp.text()
        published = await resp.json()
    pushed = await seat.next("kb_emergency")
    assert pushed["action"] == "published" and pushed["list"]["id"] == published["id"]
    assert pushed["list"]["items"][0]["question"] == "明天停课吗"
