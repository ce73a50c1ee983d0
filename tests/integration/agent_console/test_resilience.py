"""A refresh or a short network loss resumes the session; a console gone past the grace period
makes the seat not ready and its offer goes to another seat."""

from __future__ import annotations

import asyncio

from tests.integration.agent_console.harness import Engine
from tests.integration.agent_console.test_seat_actions import ready_seat


async def test_refresh_within_grace_resumes_the_same_session(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    cid = await engine.chat()
    await seat.next("offer")
    assert (await seat.call("accept", {"contact_id": cid}))["ok"]
    other = await engine.chat()
    await seat.next("offer", where=lambda d: d["contact_id"] == other)
    token = engine.token("1001", "seat")
    await seat.sio.disconnect()
    await asyncio.sleep(0.2)  # less than the 0.6 s grace of the test engine
    again = await engine.client("/agent", token)
    snap = await again.call("state")
    assert snap["logged_in"] and snap["seat"]["state"] == "reserved"
    assert snap["chats"] == [cid] and snap["offer"]["contact_id"] == other
    await asyncio.sleep(0.8)  # past the grace period: nothing happens, the seat is back
    assert engine.acd.core.seat_state("1001")["state"] == "reserved"
    assert engine.console.online("1001") == "online"


async def test_two_tabs_closing_one_keeps_the_seat_online(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    second = await engine.client("/agent", engine.token("1001", "seat"))
    await seat.sio.disconnect()
    await asyncio.sleep(0.9)
    assert engine.acd.core.seat_state("1001")["state"] == "ready"
    assert (await second.call("state"))["seat"]["state"] == "ready"


async def test_console_gone_past_grace_sets_not_ready_and_its_offer_goes_elsewhere(engine: Engine) -> None:
    sup = await engine.client("/supervisor", await engine.account("boss", "supervisor"))
    seat = await ready_seat(engine, "1001")
    cid = await engine.chat()
    await seat.next("offer")
    second = await ready_seat(engine, "1002")
    await seat.sio.disconnect()
    away = await sup.next("seat", where=lambda d: d["seat"] == "1001" and d["online"] == "away")
    assert away["state"] == "reserved"
    assert (await second.next("offer", timeout=3))["contact_id"] == cid
    state = engine.acd.core.seat_state("1001")
    assert state["state"] == "not_ready" and state["reason"] == "disconnected"
    row = await sup.next("seat", where=lambda d: d["seat"] == "1001" and d["state"] == "not_ready")
    assert row["online"] == "offline"
    # Coming back later: the session is there, not ready, and the seat decides when to go ready.
    back = await engine.client("/agent", engine.token("1001", "seat"))
    snap = await back.call("state")
    assert snap["logged_in"] and snap["seat"]["reason"] == "disconnected" and snap["offer"] is None


async def test_a_seat_that_logged_out_and_closed_the_page_stays_logged_out(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    await seat.call("logout")
    await seat.sio.disconnect()
    await asyncio.sleep(0.9)
    assert not engine.acd.core.has_seat("1001")


async def test_a_gone_seats_offer_is_not_offered_back_to_it(engine: Engine) -> None:
    seat = await ready_seat(engine, "1001")
    cid = await engine.chat()
    await seat.next("offer")
    await seat.sio.disconnect()
    for _ in range(40):
        await asyncio.sleep(0.05)
        if engine.acd.core.seat_state("1001")["state"] == "not_ready":
            break
    state = engine.acd.core.seat_state("1001")
    assert state["state"] == "not_ready" and state["offer"] is None
    assert engine.acd.core.contact(cid).state == "waiting"  # back in line, for the next seat that comes
