"""A WeChat message becomes a contact of the same ACD as the calls, goes to a seat that has chat
capacity while another seat is on a call, and the conversation is assigned to that seat."""

from __future__ import annotations

import asyncio

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
