"""Two Asterisk servers joined by the SIP trunk the dialplans render for each peer
(dialplans/peers/, docs/voice.md "Several Asterisk servers: the trunk").

A call that A places to ``PJSIP/seat<id>@peer-b``, as the engine on A will, crosses the trunk and
rings the seat's phone on B, which answers; B sees it arrive from its endpoint ``peer-a``. B is
hostile by default: from its peer it takes calls to its own seats only, never to 110 or to the
engine's 12345, and never sends anything out of its own outbound trunk.

A and B are two named sandbox instances (``hotline sandbox up --instance``) from the default
instance's root, each with ports of its own; the default instance itself is left alone, since
other tests use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.voice.api import SeatDevice
from acd.voice.seats import render_seats
from tests.cluster.conftest import Server, peered_pair
from tests.integration.acd.voice_harness import Sipp, next_port, start_sipp

pytestmark = pytest.mark.integration

APP = "trunk-test"
SEAT = SeatDevice("trunk701", kind="desk")
CALLER = "13800000701"


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, Any]]:
    """Servers a and b peered with each other, a sipp phone for B's seat, a sipp on B's own
    outbound trunk (which must hear nothing), all stopped at the end."""
    seat_port, trunk_port = next_port(), next_port()
    trunk_log = Path(f"/tmp/trunk-{uuid.uuid4().hex[:8]}.log")

    def seat_on_b(servers: dict[str, Server]) -> None:
        # B's seat, a desk phone at a static contact, in place before B starts (up keeps the
        # engine's pjsip_seats.conf; its folder is made root's and Asterisk's group's there).
        b = servers["b"]
        b.etc.mkdir(parents=True, exist_ok=True)
        seat = SeatDevice(SEAT.seat_id, kind="desk", contact=f"sip:{SEAT.endpoint_name}@127.0.0.1:{seat_port}")
        (b.etc / "pjsip_seats.conf").write_text(render_seats([seat], b.settings.secret_key), encoding="utf-8")

    sipps: list[Sipp] = []
    try:
        async with peered_pair({"b": trunk_port}, seat_on_b) as pair:
            phone = await start_sipp("seat_answer.xml", None, seat_port, "-trace_msg", "-message_file", "/dev/null")
            trunk = await start_sipp("seat_answer.xml", None, trunk_port, "-trace_msg", "-message_file", str(trunk_log))
            sipps += [phone, trunk]
            try:
                yield {**pair, "phone": phone, "trunk_log": trunk_log}
            finally:
                for sp in sipps:
                    await sp.kill()
    finally:
        with contextlib.suppress(OSError):
            trunk_log.unlink()


class Ari:
    """Just enough ARI for the test: originate into an application and hear its events."""

    def __init__(self, server: Server, http: aiohttp.ClientSession) -> None:
        a = server.settings.asterisk
        self.base = server.ari
        self.headers = {"Authorization": aiohttp.encode_basic_auth(a.ari_user, a.ari_password)}
        self.http = http
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def listen(self) -> None:
        url = self.base.replace("http://", "ws://") + f"/events?app={APP}"
        self._ws = await self.http.ws_connect(url, headers=self.headers)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await self.events.put(json.loads(msg.data))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def request(self, method: str, path: str, **params: str) -> Any:
        async with self.http.request(method, self.base + path, params=params, headers=self.headers) as r:
            assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
            return await r.json() if r.content_type == "application/json" else None

    async def originate(self, endpoint: str) -> str:
        channel = await self.request("POST", "/channels", endpoint=endpoint, app=APP, callerId=CALLER, timeout="10")
        return str(channel["id"])

    async def until(self, kind: str, channel_id: str, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event.get("type") == kind and event.get("channel", {}).get("id") == channel_id:
                    return event


async def test_a_call_from_a_crosses_the_trunk_to_a_seat_on_b_and_b_refuses_anything_else(servers) -> None:
    a, b = servers["a"], servers["b"]
    log_start = b.log.stat().st_size
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        ari_a, ari_b = Ari(a, http), Ari(b, http)
        await ari_a.listen()
        try:
            # The seat's phone answers a call A places to it through B, as the engine on A would.
            call = await ari_a.originate(f"PJSIP/{SEAT.endpoint_name}@peer-b")
            await ari_a.until("StasisStart", call)  # answered by the seat
            on_b = {c["name"].rsplit("-", 1)[0]: c for c in await ari_b.request("GET", "/channels")}
            assert set(on_b) == {"PJSIP/peer-a", f"PJSIP/{SEAT.endpoint_name}"}, on_b
            arrived = on_b["PJSIP/peer-a"]
            assert arrived["dialplan"]["context"] == "from-peers"
            assert arrived["caller"]["number"] == CALLER
            assert arrived["state"] == "Up"
            await ari_a.request("DELETE", f"/channels/{call}")
            assert await servers["phone"].wait(15) == 0, servers["phone"].out  # INVITE, 200, ACK, BYE, 200

            # Hostile by default: an emergency number, the engine's own 12345 (Stasis), another
            # endpoint's name: refused by B, nothing dialled out of its outbound trunk.
            for number, cause in (("110", 21), ("12345", 21), ("seatnobody", 21), ("trunk-out", 1), ("peer-a", 1)):
                refused = await ari_a.originate(f"PJSIP/{number}@peer-b")
                gone = await ari_a.until("ChannelDestroyed", refused)
                assert gone["cause"] == cause, (number, gone)
            assert await ari_b.request("GET", "/channels") == []
        finally:
            await ari_a.close()
    await asyncio.sleep(0.5)  # the trunk's sipp would have had any INVITE by now
    trunk_log: Path = servers["trunk_log"]
    assert "INVITE" not in (trunk_log.read_text(errors="replace") if trunk_log.exists() else "")
    with b.log.open("rb") as fh:
        fh.seek(log_start)
        log_b = fh.read().decode(errors="replace")
    for number in ("110", "12345", "seatnobody"):
        assert f"peer call refused: {number} from peer-a" in log_b, log_b[-3000:]
