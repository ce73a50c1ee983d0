"""Callers on two Asterisk servers, one ACD (docs/voice.md, "Callers on several servers").

A real ``hotline run`` drives Asterisk A and its peer B over ARI (B: ``ari_port``), and follows
both servers' AMI. Seat ``sa``'s desk phone registers on A, ``sb``'s on B.

- A caller into B's 12345 is answered by ``sa`` (B rings ``PJSIP/seatsa@peer-a``): its record is
  B's (``server`` "b", its contact id ``<channel>@b``), answered by ``sa``.
- A caller into A's 12345 is answered by ``sb`` over the trunk.
- One seat ready for two waiting callers, the first on A and the second on B: A's is served
  first, then B's (oldest first across the servers).
- ``kill -9`` of B with one of its callers talking to ``sa`` and one waiting: after B's grace both
  records end (the talk answered by ``sa``, the waiting one unanswered), ``sa`` wraps up, and a
  later caller into A is answered by ``sa``.

Everything is real: the two sandbox instances of tests/cluster/conftest.py, sipp phones and
callers, the engine process.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster.conftest import Server, peered_pair
from tests.cluster.test_seats_across import (
    FLOW,
    SECRET,
    answered_by,
    console,
    phone,
    registered,
    seat_profiles,
    seat_row,
)
from tests.faults.peers import Peer
from tests.faults.test_engine_kill_scene import stored, talking, until
from tests.integration.acd.voice_harness import Sipp, next_port, start_sipp
from tests.security.engine import RunningEngine, running_engine

pytestmark = pytest.mark.integration
GRACE_S = 2.0


async def caller(server: Server, number: str, talk_ms: int = 6000) -> Sipp:
    """A citizen into the server's 12345 who hangs up ``talk_ms`` after the engine answered."""
    args = ("-s", "12345", "-key", "caller", number, "-d", str(talk_ms))
    return await start_sipp("caller_hangup.xml", server.sip_target, next_port(), *args, timeout=120)


async def app_on(server: Server) -> bool:
    """The engine's Stasis application is registered on the server (its events websocket is up)."""
    a = server.settings.asterisk
    auth = {"Authorization": aiohttp.encode_basic_auth(a.ari_user, a.ari_password)}
    try:
        async with aiohttp.ClientSession(headers=auth) as http, http.get(f"{server.ari}/applications") as r:
            apps = await r.json() if r.status == 200 else []
    except aiohttp.ClientError:
        return False
    return any(app.get("name") == a.app_name for app in apps)


async def record_of(pg_url: str, number: str, *, ended: bool) -> dict[str, Any] | None:
    rows = (await stored(pg_url)).get(number, [])
    if not rows or (ended and rows[-1][0] is None):
        return None
    return dict(rows[-1][1])


async def wrap_up(peer: Peer, contact: str) -> None:
    async def wrapped() -> bool:
        done = await peer.call("wrapup", {"contact_id": contact, "disposition": "已解答"})
        return bool(done["ok"])

    await until(wrapped, 20, f"{contact} wrapped up")


async def set_ready(peer: Peer, ready: bool) -> None:
    ack = await peer.call("ready" if ready else "not_ready", {} if ready else {"reason": "休息"})
    assert ack["ok"], ack


async def test_callers_on_a_and_b_share_one_pool_and_losing_b_ends_its_calls_only(pg_url: str, tmp_path: Path) -> None:
    sipps: list[Sipp] = []
    consoles: list[Peer] = []
    async with peered_pair() as servers, aiohttp.ClientSession() as http:
        a, b = servers["a"], servers["b"]
        peers = [
            {
                "name": "b",
                "host": "127.0.0.1",
                "sip_port": b.settings.asterisk.sip_port,
                "ami_port": b.settings.asterisk.ami_port,
                "ari_port": b.settings.asterisk.http_port,
                "name_here": "a",
                "config_dir": str(b.etc),
                "grace_s": GRACE_S,
            }
        ]
        env = a.engine_env(peers, FLOW, SECRET)
        accounts: list[tuple[str, str, str | None]] = [("sa", "seat", None), ("sb", "seat", None)]
        try:
            async with running_engine(tmp_path, env, accounts, pg_url, seat_profiles) as engine:
                await scenes(engine, http, a, b, pg_url, tmp_path, sipps, consoles)
                for peer in consoles:  # an open console would hold the engine's stop
                    await peer.sio.disconnect()
        finally:
            for sp in sipps:
                await sp.kill()


async def scenes(
    engine: RunningEngine,
    http: aiohttp.ClientSession,
    a: Server,
    b: Server,
    pg_url: str,
    tmp_path: Path,
    sipps: list[Sipp],
    consoles: list[Peer],
) -> None:
    async def peer_watched() -> bool:
        return await engine.metric(http, "hotline_asterisk_peer_up", peer="b") == 1

    await until(peer_watched, 30, "the engine logged into B's AMI")
    await until(lambda: app_on(a), 30, "the engine's application on A")
    await until(lambda: app_on(b), 30, "the engine's application on B")
    sa = await console(engine, http, "sa", ready=False)
    sb = await console(engine, http, "sb", ready=False)
    consoles += [sa, sb]
    phone_sa, phone_sb = await phone(tmp_path, a, "sa"), await phone(tmp_path, b, "sb")
    sipps += [phone_sa, phone_sb]
    await until(lambda: registered(tmp_path, "sa", phone_sa), 15, "sa's phone registered on A")
    await until(lambda: registered(tmp_path, "sb", phone_sb), 15, "sb's phone registered on B")
    await asyncio.sleep(0.5)  # the ContactStatus events on their way to the engine

    # ---- a caller into B is answered by the seat on A, over the trunk from B -------------------
    await set_ready(sa, True)
    first = "13800000901"
    citizen = await caller(b, first)
    sipps.append(citizen)
    data = await answered_by(sa, citizen, pg_url, first)
    assert data.get("seat") == "sa" and data.get("answered") and data.get("server") == "b", data

    # ---- a caller into A is answered by the seat on B ------------------------------------------
    await set_ready(sa, False)
    await set_ready(sb, True)
    second = "13800000902"
    citizen = await caller(a, second)
    sipps.append(citizen)
    data = await answered_by(sb, citizen, pg_url, second)
    assert data.get("seat") == "sb" and data.get("answered") and data.get("server") == "default", data
    await set_ready(sb, False)

    # ---- one seat, a caller waiting on A and then one on B: A's first --------------------------
    on_a, on_b = "13800000903", "13800000904"
    citizen_a = await caller(a, on_a, talk_ms=10000)
    sipps.append(citizen_a)
    await until(lambda: record_of(pg_url, on_a, ended=False), 10, "A's caller waiting")
    await asyncio.sleep(1.0)
    citizen_b = await caller(b, on_b, talk_ms=25000)
    sipps.append(citizen_b)
    await until(lambda: record_of(pg_url, on_b, ended=False), 10, "B's caller waiting")
    await set_ready(sa, True)
    data = await answered_by(sa, citizen_a, pg_url, on_a)
    assert data.get("server") == "default" and data.get("seat") == "sa", data
    data = await answered_by(sa, citizen_b, pg_url, on_b)
    assert data.get("server") == "b" and data.get("seat") == "sa", data
    served = {n: (await record_of(pg_url, n, ended=True)) or {} for n in (on_a, on_b)}
    assert served[on_a]["answered"] < served[on_b]["answered"], served

    # ---- B killed with a talk and a waiting caller: both end, A goes on ------------------------
    talks, waits = "13800000905", "13800000906"
    citizen = await caller(b, talks, talk_ms=60000)
    sipps.append(citizen)
    offer = await sa.next("offer", timeout=30)
    contact = offer["contact_id"]
    assert contact.endswith("@b"), offer

    async def on_call() -> bool:
        return await talking(sa) == contact

    await until(on_call, 30, "sa talks to B's caller")
    waiting = await caller(b, waits, talk_ms=60000)
    sipps.append(waiting)
    await until(lambda: record_of(pg_url, waits, ended=False), 10, "B's second caller waiting")
    pid = b.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    ended_talk = await until(lambda: record_of(pg_url, talks, ended=True), GRACE_S + 15, "B's talk ended")
    ended_wait = await until(lambda: record_of(pg_url, waits, ended=True), GRACE_S + 15, "B's waiting call ended")
    assert ended_talk.get("seat") == "sa" and ended_talk.get("answered"), ended_talk
    assert ended_talk.get("state") == "ended" and ended_wait.get("state") == "ended", (ended_talk, ended_wait)
    assert not ended_wait.get("answered") and not ended_wait.get("seat"), ended_wait
    await wrap_up(sa, contact)
    assert (await seat_row(sa))["state"] == "ready"

    after = "13800000907"
    citizen = await caller(a, after)
    sipps.append(citizen)
    data = await answered_by(sa, citizen, pg_url, after)
    assert data.get("seat") == "sa" and data.get("answered") and data.get("server") == "default", data
    log = (tmp_path / "engine.log").read_text(errors="replace")
    assert "Asterisk lost: its calls are ended" in log, log[-3000:]
