"""Seats on two Asterisk servers, one pool (docs/voice.md, "Seats on several servers").

Callers enter Asterisk A, the one the engine drives over ARI. Seat ``sb``'s desk phone registers
on the peer B, seat ``sa``'s on A; the engine, a real ``hotline run`` on a fresh database, writes
both seats' endpoints on A and on B and follows both servers' AMI. A caller into A's 12345 is
answered by ``sb`` over the trunk (``PJSIP/seatsb@peer-b``). Then B is killed with SIGKILL: within
its grace and a little more, ``sb`` is set not ready (unreachable), and a second caller into A is
answered by ``sa``, registered on A. Once B runs again, the engine logs into its AMI again and
``sb``, whose phone registered there again, answers a third caller.

Everything is real: two sandbox Asterisk instances (``a`` and ``b``, from tests/cluster/conftest.py),
sipp phones that register with the seats' SIP passwords, sipp callers, the engine process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.voice.api import sip_credentials
from agent_console.models import SeatProfile
from hotline.storage import make_engine, make_sessionmaker
from tests.cluster.conftest import Server, peered_pair
from tests.faults.peers import Peer
from tests.faults.test_engine_kill_scene import stored, talking, until
from tests.integration.acd.voice_harness import Sipp, next_port, start_sipp
from tests.security.engine import RunningEngine, running_engine

pytestmark = pytest.mark.integration
FLOW = Path(__file__).parents[1] / "integration" / "acd" / "flows" / "quick_survey.toml"  # straight to the queue
SECRET = "seats-across-secret-0123456789abcdef"
GRACE_S = 2.0

# A desk phone that registers (digest auth) and then stays: Asterisk's calls and qualify
# OPTIONS to it come on Call-IDs of their own, which sipp gives the out-of-call scenario below.
REGISTER = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="seat phone that registers and stays">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port]>
      [authentication]
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
  <pause milliseconds="600000"/>
</scenario>
"""

# Each call Asterisk places to the phone: ring, answer, talk until BYE. A qualify OPTIONS: 200.
ANSWER = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="registered seat phone: qualify and calls">
  <recv request="OPTIONS" optional="true" next="options"/>
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SeatTag[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
  ]]></send>
  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SeatTag[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=sendrecv
  ]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE" next="bye"/>
  <label id="options"/>
  <send next="end"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SeatOpt[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <label id="bye"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <label id="end"/>
</scenario>
"""


async def seat_profiles(url: str) -> None:
    """Both seats have desk phones; one skill, so either may take the calls of the queue."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            for name in ("sa", "sb"):
                s.add(
                    SeatProfile(
                        seat_id=name,
                        skills={"general": 2},
                        groups=[],
                        kind="onsite",
                        phone="desk",
                        number="",
                        updated_at=dt.datetime.now(dt.UTC),
                        updated_by="test",
                    )
                )
    finally:
        await engine.dispose()


async def phone(tmp_path: Path, server: Server, seat_id: str) -> Sipp:
    """The seat's desk phone, registering on ``server`` with the seat's SIP password; its SIP
    messages are written to ``<tmp_path>/phone-<seat>-<port>.log``."""
    register, answer = tmp_path / "register.xml", tmp_path / "answer.xml"
    register.write_text(REGISTER, encoding="utf-8")
    answer.write_text(ANSWER, encoding="utf-8")
    user, password = sip_credentials(SECRET, seat_id)
    port = next_port()
    messages = tmp_path / f"phone-{seat_id}-{port}.log"
    args = ("-oocsf", str(answer), "-s", user, "-au", user, "-ap", password)
    return await start_sipp(
        str(register), server.sip_target, port, *args, "-trace_msg", "-message_file", str(messages), timeout=600
    )


async def registered(tmp_path: Path, seat_id: str, sp: Sipp) -> bool:
    """The phone had its REGISTER with credentials accepted (200 to CSeq 2)."""
    path = tmp_path / f"phone-{seat_id}-{sp.port}.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return any("SIP/2.0 200" in m and "CSeq: 2 REGISTER" in m for m in text.split("-----"))


async def console(engine: RunningEngine, http: aiohttp.ClientSession, name: str, ready: bool) -> Peer:
    """The seat signs in with its desk phone: the engine writes its endpoint on A and on B."""
    peer = await Peer.open(engine, "/agent", "127.0.0.1", {"token": await engine.login(http, name)})
    ack = await peer.call("login", {"phone": "desk", "ready": ready, "media": "voice"})
    assert ack["ok"], ack
    return peer


async def caller(server: Server, number: str) -> Sipp:
    """A citizen into the server's 12345 who hangs up 6 s after the engine answered and hangs up (no survey)."""
    args = ("-s", "12345", "-key", "caller", number, "-d", "6000")
    return await start_sipp("caller_hangup.xml", server.sip_target, next_port(), *args, timeout=120)


async def answered_by(peer: Peer, citizen: Sipp, pg_url: str, number: str) -> dict[str, Any]:
    """The seat is offered the call, its phone answers, the citizen hangs up, the seat wraps up;
    the call's stored interaction."""
    offer = await peer.next("offer", timeout=30)
    contact = offer["contact_id"]

    async def on_call() -> bool:
        return await talking(peer) == contact

    await until(on_call, 30, f"the seat talks to {number}")
    assert await citizen.wait(30) == 0, citizen.out

    async def wrapped() -> bool:
        done = await peer.call("wrapup", {"contact_id": contact, "disposition": "已解答"})
        return bool(done["ok"])

    await until(wrapped, 20, f"{number} wrapped up")

    async def ended() -> Any:
        rows = (await stored(pg_url)).get(number, [])
        return rows if rows and rows[-1][0] is not None else None

    rows = await until(ended, 20, f"the call of {number} stored, ended")
    assert len(rows) == 1, rows
    return dict(rows[0][1])


async def seat_row(peer: Peer) -> dict[str, Any]:
    state = await peer.call("state")
    assert state["ok"], state
    return dict(state["seat"])


async def test_a_caller_on_a_is_answered_by_a_seat_on_b_and_losing_b_leaves_the_seats_of_a(
    pg_url: str, tmp_path: Path
) -> None:
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
                "config_dir": str(b.etc),
                "grace_s": GRACE_S,
            }
        ]
        env = a.engine_env(peers, FLOW, SECRET)
        accounts: list[tuple[str, str, str | None]] = [("sa", "seat", None), ("sb", "seat", None)]
        try:
            async with running_engine(tmp_path, env, accounts, pg_url, seat_profiles) as engine:

                async def peer_watched() -> bool:
                    return await engine.metric(http, "hotline_asterisk_peer_up", peer="b") == 1

                await until(peer_watched, 30, "the engine logged into B's AMI")
                # Both sign in (their endpoints written on A and B); sb's phone registers on B and
                # sb goes ready; sa's phone registers on A, sa stays not ready for now.
                sb = await console(engine, http, "sb", ready=False)
                sa = await console(engine, http, "sa", ready=False)
                consoles += [sb, sa]
                phone_sb, phone_sa = await phone(tmp_path, b, "sb"), await phone(tmp_path, a, "sa")
                sipps += [phone_sb, phone_sa]
                await until(lambda: registered(tmp_path, "sb", phone_sb), 15, "sb's phone registered on B")
                await until(lambda: registered(tmp_path, "sa", phone_sa), 15, "sa's phone registered on A")
                await asyncio.sleep(0.5)  # B's ContactStatus on its way to the engine
                ack = await sb.call("ready")
                assert ack["ok"], ack

                # ---- a caller into A is answered by the seat on B, over the trunk ---------------
                first = "13800000801"
                citizen = await caller(a, first)
                sipps.append(citizen)
                data = await answered_by(sb, citizen, pg_url, first)
                assert data.get("seat") == "sb" and data.get("answered"), data
                assert (await seat_row(sb))["state"] == "ready"

                # ---- B killed: sb unreachable after the grace, A's seats go on ------------------
                pid = b.pid()
                assert pid is not None
                killed_at = time.monotonic()
                os.kill(pid, signal.SIGKILL)

                async def sb_unreachable() -> dict[str, Any] | None:
                    row = await seat_row(sb)
                    return row if row["state"] != "ready" else None

                row = await until(sb_unreachable, GRACE_S + 5, "sb set not ready once B was lost")
                took = time.monotonic() - killed_at
                assert (row["state"], row["reason"]) == ("not_ready", "unreachable"), row
                assert GRACE_S - 0.5 <= took <= GRACE_S + 5, took
                assert await engine.metric(http, "hotline_seats_unreachable_total", peer="b") == 1
                assert await engine.metric(http, "hotline_asterisk_peer_up", peer="b") == 0

                ack = await sa.call("ready")
                assert ack["ok"], ack
                second = "13800000802"
                citizen = await caller(a, second)
                sipps.append(citizen)
                data = await answered_by(sa, citizen, pg_url, second)
                assert data.get("seat") == "sa" and data.get("answered"), data
                assert sb.pending("offer") == []  # nothing was offered to the lost seat

                # ---- B back: the engine logs in again; sb's phone registers there again and sb,
                # ready, answers the next caller over the trunk -----------------------------------
                await b.up()
                await until(peer_watched, 15, "the engine logged into B's AMI again")
                await phone_sb.kill()
                phone_sb = await phone(tmp_path, b, "sb")
                sipps.append(phone_sb)
                await until(lambda: registered(tmp_path, "sb", phone_sb), 15, "sb's phone registered on B again")
                await asyncio.sleep(0.5)
                for peer, step in ((sa, "not_ready"), (sb, "ready")):
                    ack = await peer.call(step, {"reason": "休息"} if step == "not_ready" else {})
                    assert ack["ok"], ack
                third = "13800000803"
                citizen = await caller(a, third)
                sipps.append(citizen)
                data = await answered_by(sb, citizen, pg_url, third)
                assert data.get("seat") == "sb" and data.get("answered"), data
                log = (tmp_path / "engine.log").read_text(errors="replace")
                assert "peer Asterisk lost" in log and "peer Asterisk back" in log, log[-3000:]
                assert log.count("Not able to reconnect") <= 1, log[-3000:]  # an outage is said once
                for peer in consoles:  # an open console would hold the engine's stop
                    await peer.sio.disconnect()
        finally:
            for sp in sipps:
                await sp.kill()
