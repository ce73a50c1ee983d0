"""The cluster tier: two real engine processes in cluster mode on one PostgreSQL and the sandbox
Asterisk, behind a real HAProxy that sends everything to the engine whose ``/cluster/active``
answers 200 (hotline/lease.py, docs/deployment.md).

- ``kill -9`` of the active engine with 20 callers waiting: the standby takes the lease, adopts
  the callers from Asterisk at their places and, once the seats (reconnected through HAProxy)
  are ready, every caller is answered oldest first, each once, with the enqueue time from before.
- The active engine frozen (SIGSTOP: the shape of a cut network or a stalled machine: it holds
  its database session but says nothing): the standby waits out the lease's ttl, ends the silent
  engine's session and takes over; the frozen one, let go again, finds itself fenced and exits 75
  without serving anyone; the waiting callers are answered once each by the new active engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench._haproxy import configuration, until_checked
from tests.faults.peers import Peer
from tests.faults.test_engine_kill_scene import (
    VOICE_SEATS,
    console,
    hang_up_everything,
    profiles,
    serve,
    stored,
    until,
)
from tests.integration.acd.voice_harness import Sipp, next_port, start_sipp
from tests.integration.asterisk import asterisk_settings
from tests.security.engine import RunningEngine, free_port, running_engine

pytestmark = pytest.mark.integration
FLOW = Path(__file__).parents[1] / "integration" / "acd" / "flows" / "quick_survey.toml"  # straight to the queue
TTL_S = 1.5


@dataclasses.dataclass
class Cluster:
    engines: list[RunningEngine]
    front: RunningEngine  # the same engine's helpers, reached through HAProxy
    haproxy: subprocess.Popen[bytes] | None
    sipps: list[Sipp]

    async def caller(self, number: str) -> Sipp:
        a = asterisk_settings().asterisk
        target = f"127.0.0.1:{a.sip_port}"
        sp = await start_sipp("caller.xml", target, next_port(), "-s", "12345", "-key", "caller", number, timeout=600)
        self.sipps.append(sp)
        return sp


async def role(http: aiohttp.ClientSession, base: str) -> int:
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with http.get(f"{base}/cluster/active", timeout=aiohttp.ClientTimeout(total=1)) as r:
            return r.status
    return 0


def haproxy_config(listen: int, engines: list[RunningEngine], stats: str) -> str:
    """What ``hotline cluster haproxy`` writes for these engines."""
    return configuration(
        *("--listen", f"127.0.0.1:{listen}", "--stats", stats),
        *(arg for e in engines for arg in ("--engine", e.base.removeprefix("http://"))),
    )


@contextlib.asynccontextmanager
async def cluster(pg_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    a = asterisk_settings().asterisk
    env = {
        "HOTLINE_ASTERISK__VOICE": "true",
        "HOTLINE_IVR__FLOW": str(FLOW),
        "HOTLINE_ASTERISK__ARI_PASSWORD": a.ari_password,
        "HOTLINE_ASTERISK__AMI_PASSWORD": a.ami_password,
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        "HOTLINE_SECRET_KEY": "cluster-test-secret-0123456789abcdef",  # one for both: logins work on either
        "HOTLINE_CLUSTER__ENABLED": "true",
        "HOTLINE_CLUSTER__TTL_S": str(TTL_S),
    }
    await hang_up_everything(a)
    # Every seat's phone is reached through the trunk: one sipp answers them all.
    trunk = await start_sipp("seat_answer.xml", None, int(a.trunk_host.rsplit(":", 1)[1]), calls=200, timeout=600)
    sipps = [trunk]
    accounts = [(name, "seat", None) for name in VOICE_SEATS] + [("sup1", "supervisor", None)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    proxy: subprocess.Popen[bytes] | None = None
    try:
        async with (
            running_engine(
                tmp_path / "a", {**env, "HOTLINE_CLUSTER__NODE": "engine-a"}, accounts, pg_url, profiles
            ) as first,
            aiohttp.ClientSession() as http,
        ):
            await until(lambda: _is(http, first.base, 200), 30, "the first engine active")
            async with running_engine(
                tmp_path / "b", {**env, "HOTLINE_CLUSTER__NODE": "engine-b"}, [], pg_url
            ) as second:
                assert await role(http, second.base) == 503, "two engines active at once"
                listen = free_port()
                cfg = tmp_path / "haproxy.cfg"
                stats = f"127.0.0.1:{free_port()}"
                cfg.write_text(haproxy_config(listen, [first, second], stats))
                log = (tmp_path / "haproxy.log").open("wb")
                proxy = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
                front = dataclasses.replace(first, base=f"http://127.0.0.1:{listen}")
                await until(lambda: _is(http, front.base, 200), 30, "HAProxy sends to the active engine")
                # HAProxy starts both UP: until its first check of the standby, a request may go there.
                await until_checked(http, stats, {first.base.removeprefix("http://")})
                yield Cluster([first, second], front, proxy, sipps)
    finally:
        if proxy is not None:
            proxy.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proxy.wait(10)
        with contextlib.suppress(Exception):
            await hang_up_everything(a)
        for sp in sipps:
            if sp.proc.returncode is None:
                sp.proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sp.proc.communicate(), 5)


async def _is(http: aiohttp.ClientSession, base: str, status: int) -> bool:
    return await role(http, base) == status


async def waiting_callers(
    c: Cluster, http: aiohttp.ClientSession, pg_url: str, n: int
) -> tuple[list[str], dict[str, Any]]:
    """Seats signed in but not ready (through HAProxy), then ``n`` callers who wait in line."""
    seats = []
    for name in VOICE_SEATS:
        peer = await Peer.open(c.front, "/agent", "127.0.0.1", {"token": await c.front.login(http, name)})
        ack = await peer.call("login", {"phone": "external", "ready": False, "media": "voice"})
        assert ack["ok"], ack
        seats.append(peer)
    order = [f"1382000{k:04d}" for k in range(n)]
    for number in order:
        await c.caller(number)
        await asyncio.sleep(0.25)

    async def all_queued() -> dict[str, Any]:
        calls = await stored(pg_url)
        places = {num: rows[0][1].get("enqueued") for num, rows in calls.items() if num in order}
        return places if len(places) == n and all(places.values()) else {}

    places = await until(all_queued, 40, f"{n} callers queued, their places written")
    # Their places in line (a menu may take a moment longer for one of them): the order to keep.
    order = sorted(order, key=lambda num: places[num])
    for peer in seats:
        await peer.sio.disconnect()
    return order, places


async def served_once_oldest_first(
    c: Cluster, http: aiohttp.ClientSession, pg_url: str, order: list[str], places: dict[str, Any]
) -> None:
    """The seats come back through HAProxy (now the new active engine) and answer everyone."""
    seats = [await console(c.front, http, name, "voice") for name in VOICE_SEATS]
    offers: list[tuple[float, str, str]] = []
    stop = asyncio.Event()
    servers = [asyncio.create_task(serve(peer, offers, stop)) for peer in seats]
    try:

        async def everyone_served() -> bool:
            if any(s.done() and s.exception() for s in servers):
                raise AssertionError([s.exception() for s in servers if s.done()])
            calls = await stored(pg_url)
            return all(calls.get(n) and calls[n][-1][0] is not None for n in order)

        await until(everyone_served, 240, "every waiting caller served and ended")
    finally:
        stop.set()
        await asyncio.gather(*servers, return_exceptions=True)
    offered = [number for _, _, number in sorted(offers)]
    assert offered == order, offered
    calls = await stored(pg_url)
    for number in order:
        rows = calls.get(number, [])
        assert len(rows) == 1, (number, rows)
        ended, data = rows[0]
        assert ended is not None and data.get("answered") and data.get("seat") in VOICE_SEATS, (number, data)
        assert data["enqueued"] == pytest.approx(places[number], abs=0.01), (number, data)
    await asyncio.sleep(1.0)
    assert all(p.pending("offer") == [] for p in seats), "a caller offered twice"
    for peer in seats:
        await peer.sio.disconnect()


async def test_kill_9_of_the_active_engine_with_20_callers_waiting_loses_and_doubles_none(pg_url, tmp_path):
    async with cluster(pg_url, tmp_path) as c, aiohttp.ClientSession() as http:
        first, second = c.engines
        order, places = await waiting_callers(c, http, pg_url, 20)
        first.kill9()
        killed = time.monotonic()
        await until(lambda: _is(http, c.front.base, 200), 10, "the standby active behind HAProxy")
        takeover = time.monotonic() - killed
        assert await role(http, second.base) == 200
        log = (second.cwd / "engine.log").read_text()
        assert '"lease taken: this engine is active"' in log and '"epoch": 2' in log, log[-2000:]
        # The callers stayed in Asterisk and were adopted: nobody hung up on them.
        assert all(sp.proc.returncode is None for sp in c.sipps), "a caller was cut by the failover"
        await served_once_oldest_first(c, http, pg_url, order, places)
        print(f"takeover after kill -9: {takeover:.2f} s (to HAProxy's 200)")


async def test_a_frozen_active_engine_is_fenced_and_the_standby_serves_its_callers_once(pg_url, tmp_path):
    async with cluster(pg_url, tmp_path) as c, aiohttp.ClientSession() as http:
        first, second = c.engines
        order, places = await waiting_callers(c, http, pg_url, 6)
        first.proc.send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            await until(lambda: _is(http, second.base, 200), 15, "the standby active")
            took = time.monotonic() - frozen
            # Not before the frozen engine's lease ran out: two engines never command at once.
            assert took >= TTL_S * 0.9, took
            log = (second.cwd / "engine.log").read_text()
            assert '"lease holder silent: its session ended"' in log, log[-2000:]
        finally:
            first.proc.send_signal(signal.SIGCONT)
        # Let go again, it finds its lease gone and stops without serving anyone (exit 75).
        code = await asyncio.to_thread(first.proc.wait, 15)
        assert code == 75, code
        assert '"lease lost: this engine stops (fenced)"' in (first.cwd / "engine.log").read_text()
        await until(lambda: _is(http, c.front.base, 200), 10, "HAProxy sends to the new active engine")
        await served_once_oldest_first(c, http, pg_url, order, places)
