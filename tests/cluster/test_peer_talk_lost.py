"""A call in talk with a seat on a peer Asterisk that dies is ended on this side.

A peer killed with ``kill -9`` sends no BYE and no more RTP: its leg on A would stay up for ever,
the citizen in silence. The trunk the dialplans render ends it (dialplans/peers/pjsip.conf:
``rtp_timeout``, and ``rtp_keepalive`` so that a silent seat is not taken for a dead peer).

Instances c and d (tests/cluster/conftest.py, PEERED_CD: their own ports and RTP ranges, so this
test may run beside one on a and b), each with the other as its peer. A places two calls, as the
engine on A would, to two seats whose sipp phones are on D: one talks (sipp streams RTP to D, which
relays it to A), one is silent (D sends only its keepalives), and bridges them on A. Both stay up
past the RTP timeout while D lives; D killed, both are hung up on A within the timeout and a margin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.voice.api import SeatDevice
from acd.voice.seats import render_seats
from hotline.dialplans import DIALPLANS
from tests.cluster.conftest import PEERED_CD, Server, peered_pair
from tests.integration.acd.voice_harness import Sipp, next_port, start_sipp

pytestmark = pytest.mark.integration

APP = "peer-talk-lost"
TALKING = SeatDevice("talk801", kind="desk")
SILENT = SeatDevice("quiet802", kind="desk")
MARGIN_S = 5.0  # the timeout is checked once a second; a keepalive may have come up to 5 s before the kill


def configured(option: str) -> int:
    """The trunk's value as the dialplans render it (the same on every peer endpoint)."""
    text = (DIALPLANS / "peers" / "pjsip.conf").read_text(encoding="utf-8")
    found = re.search(rf"^{option}=(\d+)$", text, re.M)
    assert found, f"dialplans/peers/pjsip.conf sets no {option}"
    return int(found.group(1))


# A seat's phone that answers and then talks without a pause: sipp streams a raw u-law file (PCMU,
# payload type 0) in a loop to the address of D's offer, until the call ends or the test kills it.
TALKING_PHONE = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="seat that answers and talks">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
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
      m=audio [rtpstream_audio_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=sendrecv
    ]]>
  </send>
  <recv request="ACK" crlf="true">
    <action>
      <exec rtp_stream="@AUDIO@,-1,0"/>
    </action>
  </recv>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""


def media_port() -> int:
    """An even UDP port with the next one free too (sipp's RTP and RTCP)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port % 2 or port > 65000:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for p in (port, port + 1, port + 2, port + 3):
                    stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)).bind(("127.0.0.1", p))
            except OSError:
                continue
        return port
    raise RuntimeError("no free even UDP port for sipp's RTP")


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Servers c and d peered with each other; on D a talking and a silent seat's sipp phones."""
    ports = {TALKING.seat_id: next_port(), SILENT.seat_id: next_port()}

    def seats_on_d(servers: dict[str, Server]) -> None:
        d = servers["d"]
        d.etc.mkdir(parents=True, exist_ok=True)
        seats = [
            SeatDevice(s.seat_id, kind="desk", contact=f"sip:{s.endpoint_name}@127.0.0.1:{ports[s.seat_id]}")
            for s in (TALKING, SILENT)
        ]
        (d.etc / "pjsip_seats.conf").write_text(render_seats(seats, d.settings.secret_key), encoding="utf-8")

    audio = tmp_path / "talk.ul"
    audio.write_bytes(bytes([0x80, 0x90, 0xA0, 0xB0, 0xA0, 0x90]) * 1600)  # a rough tone, u-law, 1.2 s
    scenario = tmp_path / "seat_talk.xml"
    scenario.write_text(TALKING_PHONE.replace("@AUDIO@", str(audio)), encoding="utf-8")
    sipps: list[Sipp] = []
    async with peered_pair(before_up=seats_on_d, pair=PEERED_CD) as pair:
        try:
            sipps.append(
                await start_sipp(
                    str(scenario), None, ports[TALKING.seat_id], "-mp", str(media_port()), "-trace_err", timeout=120
                )
            )
            sipps.append(await start_sipp("seat_answer.xml", None, ports[SILENT.seat_id], timeout=120))
            yield {**pair, "phones": sipps}
        finally:
            for sp in sipps:
                await sp.kill()


class Ari:
    """Just enough ARI on one server: originate into the test's application, bridge, read channels."""

    def __init__(self, server: Server, http: aiohttp.ClientSession) -> None:
        a = server.settings.asterisk
        self.base = server.ari
        self.headers = {"Authorization": aiohttp.encode_basic_auth(a.ari_user, a.ari_password)}
        self.http = http
        self.destroyed: dict[str, tuple[float, dict[str, Any]]] = {}  # channel id -> (when, event)
        self.started: set[str] = set()
        self._changed = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Ari:
        url = self.base.replace("http://", "ws://") + f"/events?app={APP}"
        self._ws = await self.http.ws_connect(url, headers=self.headers)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(msg.data)
            channel = event.get("channel", {}).get("id", "")
            if event.get("type") == "StasisStart":
                self.started.add(channel)
            elif event.get("type") == "ChannelDestroyed":
                self.destroyed[channel] = (time.monotonic(), event)
            self._changed.set()

    async def until(self, done: Any, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self._changed.clear()
                await self._changed.wait()

    async def request(self, method: str, path: str, **params: str) -> Any:
        async with self.http.request(method, self.base + path, params=params, headers=self.headers) as r:
            assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
            return await r.json() if r.content_type == "application/json" else None

    async def channels(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in await self.request("GET", "/channels")}


async def test_a_call_in_talk_with_a_seat_on_a_killed_peer_is_hung_up_on_this_side(servers) -> None:
    c, d = servers["c"], servers["d"]
    timeout = configured("rtp_timeout")
    log_start = c.log.stat().st_size
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, Ari(c, http) as ari:
        calls = []
        for seat in (TALKING, SILENT):
            channel = await ari.request(
                "POST", "/channels", endpoint=f"PJSIP/{seat.endpoint_name}@peer-d", app=APP, timeout="10"
            )
            calls.append(str(channel["id"]))
        await ari.until(lambda: ari.started >= set(calls), 15)  # both seats answered over the trunk
        bridge = await ari.request("POST", "/bridges", type="mixing")
        await ari.request("POST", f"/bridges/{bridge['id']}/addChannel", channel=",".join(calls))

        # While D lives, neither call is cut: the talking seat's RTP and the silent one's keepalives
        # come through, past the timeout.
        await asyncio.sleep(timeout + 4)
        up = await ari.channels()
        assert all(call in up and up[call]["state"] == "Up" for call in calls), (up, ari.destroyed)
        assert not ari.destroyed, ari.destroyed
        talking, silent = [await ari.request("GET", f"/channels/{call}/rtp_statistics") for call in calls]
        assert talking["rxcount"] > 25 * timeout, talking  # 50 packets a second from the talking phone
        assert silent["rxcount"] < talking["rxcount"] / 10, silent

        pid = d.pid()
        assert pid, "instance d is not running"
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # no BYE, no more RTP
        with contextlib.suppress(TimeoutError):
            await ari.until(lambda: set(calls) <= set(ari.destroyed), timeout + MARGIN_S)
        left = await ari.channels()
        assert not (set(calls) & set(left)), f"still up {timeout + MARGIN_S:.0f} s after D was killed: {left}"
        for call in calls:
            when, event = ari.destroyed[call]
            assert when - killed <= timeout + MARGIN_S, (call, when - killed)
            assert event["cause"] == 44, event  # requested channel unavailable: RTP timeout
        # The talking seat's RTP came until the kill: its leg ended on the timeout, not sooner.
        assert ari.destroyed[calls[0]][0] - killed >= timeout - 1.5
        await ari.request("DELETE", f"/bridges/{bridge['id']}")
    with c.log.open("rb") as fh:
        fh.seek(log_start)
        log = fh.read().decode(errors="replace")
    assert log.count("for lack of audio RTP activity") == 2, log[-3000:]
