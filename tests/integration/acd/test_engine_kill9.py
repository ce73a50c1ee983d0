"""A real ``hotline run`` on the sandbox Asterisk, killed with SIGKILL (no shutdown code runs)
while a citizen talks to a seat and another waits, then started again on the same database.

The talk must go on with the same seat (Asterisk keeps the bridge; the restarted engine finds it
and gives the call back to the seat when it signs in), the waiting citizen must be served next at
its original place, and each call must end with one record, counted once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent_console.models import SeatProfile
from hotline.storage import make_engine, make_sessionmaker
from tests.faults.peers import Peer
from tests.integration.acd.voice_harness import next_port, start_sipp
from tests.security.engine import RunningEngine, running_engine

pytestmark = pytest.mark.integration
FLOW = Path(__file__).with_name("flows") / "quick_survey.toml"  # straight to the general queue
NUMBER = "13900000101"  # the cloud seat's phone, beyond the sandbox's outbound trunk


async def cloud_seat(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            s.add(
                SeatProfile(
                    seat_id="seat1",
                    skills={"general": 2},
                    groups=[],
                    kind="onsite",  # routed as a seat on site; its phone is reached through the trunk
                    phone="external",
                    number=NUMBER,
                    updated_at=dt.datetime.now(dt.UTC),
                    updated_by="test",
                )
            )
    finally:
        await engine.dispose()


def records(db_file: Path) -> list[tuple[str, Any, dict[str, Any]]]:
    with sqlite3.connect(db_file) as db:
        rows = db.execute("select contact_id, ended_at, data from interactions order by id").fetchall()
    return [(c, e, json.loads(d)) for c, e, d in rows]


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout:g} s: {what}")


async def signed_in(engine: RunningEngine, http: aiohttp.ClientSession) -> Peer:
    token = await engine.login(http, "seat1")
    console = await Peer.open(engine, "/agent", "127.0.0.1", {"token": token})
    ack = await console.call("login", {"phone": "external", "ready": True})
    assert ack["ok"], ack
    return console


async def test_a_kill_9_keeps_the_talk_with_its_seat_and_the_waiting_caller_at_its_place(settings, tmp_path):
    a = settings.asterisk
    db_file = tmp_path / "hotline.db"
    env = {
        "HOTLINE_ASTERISK__VOICE": "true",
        "HOTLINE_IVR__FLOW": str(FLOW),
        # The sandbox's credentials (kept in the project's data folder); the engine's own folder is apart.
        "HOTLINE_ASTERISK__ARI_PASSWORD": a.ari_password,
        "HOTLINE_ASTERISK__AMI_PASSWORD": a.ami_password,
    }
    trunk = await start_sipp("seat_answer.xml", None, int(a.trunk_host.rsplit(":", 1)[1]), calls=2, timeout=120)
    sipps = [trunk]
    target = f"127.0.0.1:{a.sip_port}"

    async def caller(number: str, hold_ms: int) -> Any:
        sp = await start_sipp(
            "caller_hangup.xml", target, next_port(), "-s", "12345", "-key", "caller", number, "-d", str(hold_ms),
            timeout=120,
        )  # fmt: skip
        sipps.append(sp)
        return sp

    try:
        async with (
            running_engine(
                tmp_path,
                env,
                [("seat1", "seat", None)],
                database_url=f"sqlite+aiosqlite:///{db_file}",
                prepare=cloud_seat,
            ) as engine,
            aiohttp.ClientSession() as http,
        ):
            if True:
                console = await signed_in(engine, http)
                talker = await caller("13800000041", 14000)

                async def talking() -> str | None:
                    state = await console.call("state")
                    return state["voice"] if state["ok"] and state["seat"]["state"] == "busy" else None

                offer = await console.next("offer", timeout=30)  # the seat takes it, then answers the phone
                assert (await console.call("accept", {"contact_id": offer["contact_id"]}))["ok"]
                contact = await until(talking, 30, "the seat talks to the first citizen")
                assert contact == offer["contact_id"]
                waiter = await caller("13800000042", 25000)

                async def waiting() -> bool:
                    return any(d.get("state") == "queued" for _, _, d in records(db_file))

                await until(waiting, 30, "the second citizen waits in the queue")
                await asyncio.sleep(0.6)  # the records are written within a quarter second
                waited_from = next(d for _, _, d in records(db_file) if d.get("state") == "queued")["enqueued"]
                await console.sio.disconnect()

                engine.kill9()
                await engine.restart()

                # Asterisk kept the talk; the restarted engine gives it back to the seat at sign-in.
                auth = {"Authorization": aiohttp.encode_basic_auth(a.ari_user, a.ari_password)}
                async with http.get(f"{a.ari_url}/bridges", headers=auth) as r:
                    bridges = await r.json()
                assert any(contact in b["channels"] and len(b["channels"]) == 2 for b in bridges), bridges
                console = await signed_in(engine, http)
                state = await console.call("state")
                assert state["voice"] == contact and state["seat"]["state"] == "busy", state
                assert await talker.wait(40) == 0, talker.out  # talked on to the end, never cut

                # The seat finishes the first call; the waiting citizen is next, at its first place.
                async def wrapped() -> bool:
                    ack = await console.call("wrapup", {"contact_id": contact, "disposition": "已解答"})
                    return bool(ack["ok"])

                await until(wrapped, 20, "the seat wraps the first call up")
                offer = await console.next("offer", timeout=30)
                assert (await console.call("accept", {"contact_id": offer["contact_id"]}))["ok"]
                second = await until(talking, 30, "the seat talks to the waiting citizen")
                assert second != contact
                assert await waiter.wait(60) == 0, waiter.out
                assert await trunk.wait(30) == 0, trunk.out

                async def both_ended() -> list[Any]:
                    rows = records(db_file)
                    return rows if len(rows) == 2 and all(e is not None for _, e, _ in rows) else []

                rows = await until(both_ended, 20, "both calls recorded as ended")
                first, other = rows[0][2], rows[1][2]
                assert first["seat"] == "seat1" and "resumed" in [o.get("event") for o in first["offers"]]
                assert first["talk_s"] >= 10  # one talk from the first answer to the citizen's hang-up
                assert other["seat"] == "seat1" and other["enqueued"] == pytest.approx(waited_from, abs=0.01)
                assert other["wait_s"] >= 10  # counted from its first place, across the kill
    finally:
        for sp in sipps:
            if sp.proc.returncode is None:
                sp.proc.kill()
            with contextlib.suppress(Exception):  # shown by pytest when the test fails
                out, _ = await asyncio.wait_for(sp.proc.communicate(), 5)
                print("sipp on port", sp.port, (out or b"").decode()[-1500:])
