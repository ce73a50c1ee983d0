"""A WeChat message becomes a contact of the same ACD as the calls, goes to a seat that has chat
capacity while another seat is on a call, and the conversation is assigned to that seat."""

from __future__ import annotations

import asyncio

import pytest

from acd.chat import ChatBridge
from acd.core import ContactArrived, OfferAccepted, QueueConfig, QueueConfigured, SeatLoggedIn
from acd.service import AcdService
from hotline.bus import Bus
from tests.integration.channels.wechat_kit import query, text


async def test_wechat_message_is_offered_to_the_free_seat_and_assigned_on_accept(make_engine_app):
    eng = await make_engine_app()
    bus = Bus()
    acd = AcdService(bus)
    offers: list[dict] = []
    bus.subscribe("seat", lambda topic, p: offers.append(p) if p.get("event") == "offer" else None)
    for q in (
        QueueConfig(name="general", skills=(("general", 1),)),
        QueueConfig(name="internet", skills=(("general", 1),)),
    ):
        await acd.feed(QueueConfigured(now=acd.now(), queue=q))
    bridge = ChatBridge(acd, bus, eng.ctx.deps.channels)
    eng.sink.subscribe(bridge.on_notification)
    # Seat A is on a call; seat B is free.
    await acd.feed(SeatLoggedIn(now=acd.now(), seat_id="A", skills=(("general", 5),), ready=True))
    await acd.feed(ContactArrived(now=acd.now(), contact_id="call-1", channel="voice", queue="general"))
    await acd.feed(OfferAccepted(now=acd.now(), contact_id="call-1", seat_id="A"))
    await acd.feed(SeatLoggedIn(now=acd.now(), seat_id="B", skills=(("general", 1),), ready=True))
    offers.clear()

    resp = await eng.client.post("/wechat/webhook", params=query(), data=text("o-citizen-1", "路灯坏了", 9001))
    assert resp.status == 200
    for _ in range(50):
        if offers:
            break
        await asyncio.sleep(0.05)
    assert [(o["seat_id"], o["channel"]) for o in offers] == [("B", "wechat")]
    contact = offers[0]["contact_id"]
    assert contact.startswith("wechat-")

    await acd.feed(OfferAccepted(now=acd.now(), contact_id=contact, seat_id="B"))
    transcript = await eng.ctx.deps.channels.transcript(int(contact.split("-")[1]))
    assert any("路灯坏了" in str(m) for m in transcript)
    state = acd.core.seat_state("B")
    assert state["chats"] == [contact] and acd.core.seat_state("A")["voice"] == "call-1"
    from channels.models import ChannelConversation

    for _ in range(50):
        async with eng.ctx.sessions() as s:
            row = await s.get(ChannelConversation, int(contact.split("-")[1]))
        if row is not None and row.seat == "B":
            break
        await asyncio.sleep(0.05)
    assert row is not None and row.seat == "B"  # the channels feature knows who answers the citizen


async def fresh_acd(channels) -> tuple[AcdService, ChatBridge]:  # type: ignore[no-untyped-def]
    """What a start builds: an empty ACD with the city's internet queue and the business queue."""
    bus = Bus()
    acd = AcdService(bus)
    for q in (
        QueueConfig(name="internet", skills=(("general", 1),)),
        QueueConfig(name="business", skills=(("business", 1),)),
    ):
        await acd.feed(QueueConfigured(now=acd.now(), queue=q))
    return acd, ChatBridge(acd, bus, channels)


async def test_a_start_queues_open_chats_again_in_the_queue_they_were_moved_to_at_their_first_time(
    make_engine_app, caplog
):
    eng = await make_engine_app()
    channels = eng.ctx.deps.channels
    acd, bridge = await fresh_acd(channels)
    eng.sink.subscribe(bridge.on_notification)
    for n, msg_id in enumerate((9101, 9102, 9103)):
        resp = await eng.client.post("/wechat/webhook", params=query(), data=text(f"o-citizen-{n}", "咨询", msg_id))
        assert resp.status == 200
    for _ in range(100):
        if acd.core.waiting_in("internet") == 3:
            break
        await asyncio.sleep(0.05)
    moved, held, closed = [c.id for c in await channels.open_chats()]
    first = {c.id: c.created_at for c in await channels.open_chats()}
    await acd.feed(SeatLoggedIn(now=acd.now(), seat_id="A", skills=(("general", 5), ("business", 5)), ready=True))
    # The seat takes the first, moves it to the business queue; takes the second; the third ends.
    await acd.feed(OfferAccepted(now=acd.now(), contact_id=f"wechat-{moved}", seat_id="A"))
    await bridge.move(f"wechat-{moved}", "business")
    await acd.feed(OfferAccepted(now=acd.now(), contact_id=f"wechat-{held}", seat_id="A"))
    await channels.close(closed)
    assert [(c.id, c.state, c.queue) for c in await channels.open_chats()] == [
        (moved, "queued", "business"),
        (held, "assigned", ""),
    ]

    # The engine stops; a new one starts on the same storage.
    acd2, bridge2 = await fresh_acd(channels)
    assert await bridge2.restore() == [f"wechat-{moved}", f"wechat-{held}"]
    a, b = acd2.core.contact(f"wechat-{moved}"), acd2.core.contact(f"wechat-{held}")
    assert a is not None and a.queue == "business" and a.enq == pytest.approx(first[moved], abs=0.01)
    assert a.state == "waiting" and a.home == "internet"  # counted where it first arrived
    # The held one waits for its seat: given back when A signs in, not offered to anyone else.
    assert b is not None and b.state == "connected" and b.seat == "A"
    assert b.enq == pytest.approx(first[held], abs=0.01) and acd2.core.detached == {"A": [f"wechat-{held}"]}
    assert not acd2.core.has_contact(f"wechat-{closed}")
    assert [(c.id, c.state, c.seat) for c in await channels.open_chats()] == [
        (moved, "queued", ""),
        (held, "assigned", "A"),
    ]
    assert await bridge2.restore() == []  # a second look finds them in the ACD already
    await acd2.feed(SeatLoggedIn(now=acd2.now(), seat_id="A", skills=(("general", 5),), ready=True))
    assert acd2.core.seat_state("A")["chats"] == [f"wechat-{held}"]

    class Unreadable:
        async def open_chats(self) -> list[object]:
            raise OSError("database is gone")

    _, bridge3 = await fresh_acd(Unreadable())
    with caplog.at_level("ERROR", logger="acd.chat"):
        assert await bridge3.restore() == []
    [line] = [r for r in caplog.records if r.name == "acd.chat" and r.levelname == "ERROR"]
    assert "chats open before the stop not queued again" in line.getMessage() and line.cause == "database is gone"
