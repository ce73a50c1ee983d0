"""The busy hour, then ``kill -9``: a real ``hotline run`` on PostgreSQL and the sandbox Asterisk
holding 5 citizens talking to seats, 20 waiting, 2 call-backs promised from the queue, 3 web chats
with a seat and 5 waiting, killed with SIGKILL (no shutdown code runs) and started again.

Afterwards the talks go on with their seats, the waiting callers and the call-backs are served
oldest first at their places from before the kill (the call-backs through the trunk to the
citizen's number), the chats with a seat are that seat's again and the waiting ones reach a seat
once each, oldest first; every call has one interaction, ended, answered, with the enqueue time it
had before the kill. Nothing is offered twice."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from agent_console.models import SeatProfile
from hotline.storage import Interaction, make_engine, make_sessionmaker
from tests.faults.peers import Peer, take_offers
from tests.integration.acd.test_callback_and_survey import press_then_wait_for_bye
from tests.integration.acd.voice_harness import Sipp, next_port, start_sipp
from tests.integration.asterisk import asterisk_settings
from tests.security.engine import RunningEngine, running_engine

pytestmark = pytest.mark.integration
FLOW = Path(__file__).parents[1] / "integration" / "acd" / "flows" / "quick_survey.toml"  # straight to the queue
VOICE_SEATS = [f"v{n}" for n in range(1, 6)]
CHAT_SEATS = ["c1", "c2", "c3"]


async def profiles(url: str) -> None:
    """The five voice seats are cloud seats whose numbers the sandbox's trunk hands to one sipp."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            for n, name in enumerate(VOICE_SEATS):
                s.add(
                    SeatProfile(
                        seat_id=name,
                        skills={"general": 2},
                        groups=[],
                        kind="onsite",
                        phone="external",
                        number=f"1390000{n + 201:04d}",
                        updated_at=dt.datetime.now(dt.UTC),
                        updated_by="test",
                    )
                )
    finally:
        await engine.dispose()


async def stored(url: str) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """The voice interactions by caller number."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Interaction.caller, Interaction.ended_at, Interaction.data).where(Interaction.channel == "voice")
            )
            out: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
            for caller, ended, data in rows:
                out.setdefault(str(caller), []).append((ended, dict(data or {})))
            return out
    finally:
        await engine.dispose()


async def hang_up_everything(a: Any) -> None:
    """Channels earlier tests left in the sandbox (a killed sipp's caller stays until Asterisk
    notices) would be adopted by the engine at its start: nobody else's callers in this scene."""
    auth = {"Authorization": aiohttp.encode_basic_auth(a.ari_user, a.ari_password)}
    async with aiohttp.ClientSession(headers=auth) as http:
        for _ in range(50):
            async with http.get(f"{a.ari_url}/channels") as r:
                channels = await r.json()
            if not channels:
                return
            for c in channels:
                async with http.delete(f"{a.ari_url}/channels/{c['id']}"):
                    pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"the sandbox keeps channels: {channels}")


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {timeout:g} s: {what}")


async def figures(engine: RunningEngine, http: aiohttp.ClientSession) -> dict[str, Any]:
    """The supervisors' board: what each queue was offered, answered and lost today."""
    sup = await Peer.open(engine, "/supervisor", "127.0.0.1", {"token": await engine.login(http, "sup1")})
    try:
        board = await sup.call("board")
    finally:
        await sup.sio.disconnect()
    assert board["ok"], board
    return {q["queue"]: (q["offered"], q["answered"], q["abandoned"]) for q in board["queues"]}


async def console(engine: RunningEngine, http: aiohttp.ClientSession, name: str, media: str) -> Peer:
    token = await engine.login(http, name)
    peer = await Peer.open(engine, "/agent", "127.0.0.1", {"token": token})
    ack = await peer.call("login", {"phone": "external", "ready": True, "media": media})
    assert ack["ok"], ack
    return peer


async def talking(peer: Peer) -> str | None:
    state = await peer.call("state")
    return state["voice"] if state["ok"] and state["seat"]["state"] == "busy" else None


async def finish(peer: Peer, contact: str) -> None:
    """The seat ends its call and wraps it up at once (ready for the next)."""
    ack = await peer.call("hangup", {"contact_id": contact})
    assert ack["ok"], ack

    said: list[Any] = []

    async def wrapped() -> bool:
        done = await peer.call("wrapup", {"contact_id": contact, "disposition": "已解答"})
        said.append(done)
        return bool(done["ok"])

    try:
        await until(wrapped, 20, f"{contact} wrapped up")
    except AssertionError:
        raise AssertionError(f"{contact} not wrapped up: {said[-1:]}, the seat: {await peer.call('state')}") from None


async def serve(peer: Peer, offers: list[tuple[float, str, str]], stop: asyncio.Event) -> None:
    """A seat after the restart: each offer rings its phone; once connected it talks a moment, ends
    the call and wraps it up."""
    while not stop.is_set():
        try:
            offer = await peer.next("offer", timeout=1.0)
        except TimeoutError:
            continue
        offers.append((float(offer["offered_at"]), offer["contact_id"], str(offer.get("caller", ""))))
        # A cloud seat's phone rings with the offer and the seat answers it (no accept on the page).

        async def connected(contact: str = offer["contact_id"]) -> bool:
            return await talking(peer) == contact

        await until(connected, 30, f"{offer['contact_id']} connected to its seat")
        await asyncio.sleep(1.5)  # a call-back rings the citizen after the seat answered
        await finish(peer, offer["contact_id"])


async def test_a_kill_9_in_the_busy_hour_loses_and_doubles_no_call_chat_or_call_back(pg_url, tmp_path):
    a = asterisk_settings().asterisk
    env = {
        "HOTLINE_ASTERISK__VOICE": "true",
        "HOTLINE_IVR__FLOW": str(FLOW),
        "HOTLINE_ASTERISK__ARI_PASSWORD": a.ari_password,
        "HOTLINE_ASTERISK__AMI_PASSWORD": a.ami_password,
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
    }
    await hang_up_everything(a)
    target = f"127.0.0.1:{a.sip_port}"
    # Every seat's phone and every call-back's citizen is reached through the trunk: one sipp answers.
    trunk = await start_sipp("seat_answer.xml", None, int(a.trunk_host.rsplit(":", 1)[1]), calls=200, timeout=600)
    sipps: list[Sipp] = [trunk]

    async def caller(number: str, scenario: str = "caller.xml") -> Sipp:
        sp = await start_sipp(scenario, target, next_port(), "-s", "12345", "-key", "caller", number, timeout=600)
        sipps.append(sp)
        return sp

    accounts = [(name, "seat", None) for name in [*VOICE_SEATS, *CHAT_SEATS]] + [("sup1", "supervisor", None)]
    try:
        async with (
            running_engine(tmp_path, env, accounts, database_url=pg_url, prepare=profiles) as engine,
            aiohttp.ClientSession() as http,
        ):
            # ---- the busy hour ---------------------------------------------------------------
            seats = {name: await console(engine, http, name, "voice") for name in VOICE_SEATS}
            talkers = [await caller(f"1380000{n:04d}") for n in range(5)]
            held: dict[str, str] = {}
            for name, peer in seats.items():
                offer = await peer.next("offer", timeout=30)  # a cloud seat's phone rings: it answers
                held[name] = offer["contact_id"]
            for name, peer in seats.items():

                async def on_call(peer: Peer = peer, name: str = name) -> bool:
                    return await talking(peer) == held[name]

                await until(on_call, 30, f"{name} talks to its citizen")
            # 20 callers wait, two of them asking for a call-back (key 1) at their place in line.
            press = str(press_then_wait_for_bye(tmp_path, "1", 1500))
            order: list[str] = []
            callbacks: list[Sipp] = []
            for n in range(22):
                number = f"1381000{n:04d}"
                order.append(number)
                if n in (10, 21):
                    callbacks.append(await caller(number, press))
                else:
                    await caller(number)
                await asyncio.sleep(0.3)
            for cb in callbacks:
                assert await cb.wait(30) == 0, cb.out  # confirmed and hung up by the engine

            async def all_queued() -> dict[str, Any]:
                calls = await stored(pg_url)
                places = {n: rows[0][1].get("enqueued") for n, rows in calls.items() if n in order}
                return places if len(places) == 22 and all(places.values()) else {}

            places = await until(all_queued, 30, "22 callers queued, their places written")
            assert sorted(order, key=lambda n: places[n]) == order
            # Web chats: three with a seat, five waiting.
            chat_seat = await console(engine, http, "c1", "chat")
            citizens: list[Peer] = []
            contacts: list[str] = []
            for n in range(8):
                citizen = await Peer.open(engine, "/visitor", f"198.51.100.{n + 20}")
                assert (await citizen.call("hello"))["ok"]
                ack = await citizen.call("message", {"text": f"第{n}位网民：路灯不亮"})
                assert ack["ok"], ack
                citizens.append(citizen)
                contacts.append(f"webchat-{ack['conversation']}")
                if n < 3:
                    assert await take_offers(chat_seat, 1) == [contacts[n]]
            await asyncio.sleep(0.6)  # the records are written within a quarter second
            tokens = [(await c.call("hello"))["token"] for c in citizens]
            await asyncio.sleep(1.0)  # the day's figures are kept once a second
            before = await figures(engine, http)
            assert all(t.proc.returncode is None for t in talkers), "a talk ended before the kill"
            for peer in [*seats.values(), chat_seat, *citizens]:
                await peer.sio.disconnect()

            engine.kill9()
            await engine.restart()
            await asyncio.sleep(1.0)
            # The day's figures are those from before the kill: nobody counted twice or lost.
            assert await figures(engine, http) == before

            # ---- after the restart -----------------------------------------------------------
            # The chat citizens' pages come back: theirs are kept, with a seat or at their places.
            back = [
                await Peer.open(engine, "/visitor", f"198.51.100.{n + 20}", {"visitor": t})
                for n, t in enumerate(tokens)
            ]
            hellos = [await c.call("hello") for c in back]
            assert [h["conversation"]["state"] for h in hellos] == ["assigned"] * 3 + ["queued"] * 5
            assert [h["queue"] and h["queue"]["position"] for h in hellos] == [None] * 3 + [1, 2, 3, 4, 5]
            chat_seat = await console(engine, http, "c1", "chat")
            assert (await chat_seat.call("state"))["chats"] == contacts[:3]
            await asyncio.sleep(1.0)
            assert chat_seat.pending("offer") == [], "the seat holding three chats was offered a fourth"
            second = await console(engine, http, "c2", "chat")
            assert await take_offers(second, 3) == contacts[3:6]
            third = await console(engine, http, "c3", "chat")
            assert await take_offers(third, 2) == contacts[6:]

            # The seats sign in again: each is busy on its talk at once, which goes on (Asterisk kept it).
            seats = {name: await console(engine, http, name, "voice") for name in VOICE_SEATS}
            for name, peer in seats.items():
                assert await talking(peer) == held[name], name
            assert all(t.proc.returncode is None for t in talkers), "a talk was cut by the kill"
            offers: list[tuple[float, str, str]] = []
            stop = asyncio.Event()
            for name, peer in seats.items():
                await finish(peer, held[name])
            servers = [asyncio.create_task(serve(peer, offers, stop)) for peer in seats.values()]
            try:

                async def everyone_served() -> bool:
                    if any(s.done() and s.exception() for s in servers):
                        raise AssertionError([s.exception() for s in servers if s.done()])
                    calls = await stored(pg_url)
                    return all(calls.get(n) and calls[n][-1][0] is not None for n in order)

                await until(everyone_served, 240, "every waiting caller and call-back served and ended")
            finally:
                stop.set()
                await asyncio.gather(*servers, return_exceptions=True)
            for t in talkers:
                assert await t.wait(30) == 0, t.out  # talked on across the kill, ended by the seat

            # Oldest first, each once: the order of the offers is the order of the places.
            offered = [caller_number for _, _, caller_number in sorted(offers)]
            assert offered == order, offered
            calls = await stored(pg_url)
            for n, number in enumerate([*(f"1380000{k:04d}" for k in range(5)), *order]):
                rows = calls.get(number, [])
                assert len(rows) == 1, (number, rows)
                ended, data = rows[0]
                assert ended is not None and data.get("answered") and data.get("seat") in VOICE_SEATS, (number, data)
                if n >= 5:
                    assert data["enqueued"] == pytest.approx(places[number], abs=0.01), (number, data)
            for number in (order[10], order[21]):
                assert calls[number][0][1].get("callback_number") == number, calls[number]
            await asyncio.sleep(1.0)
            assert all(p.pending("offer") == [] for p in [chat_seat, second, third]), "a chat offered twice"
            for peer in [*seats.values(), chat_seat, second, third, *back]:
                await peer.sio.disconnect()
    finally:
        with contextlib.suppress(Exception):
            await hang_up_everything(a)
        for sp in sipps:
            if sp.proc.returncode is None:
                sp.proc.kill()
            with contextlib.suppress(Exception):
                out, _ = await asyncio.wait_for(sp.proc.communicate(), 5)
                if out:
                    print("sipp on port", sp.port, out.decode(errors="replace")[-800:])
