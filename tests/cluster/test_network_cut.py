"""A real network cut of the active engine: it runs in a network namespace of its own (a test
host, ``netns.py``), reaching PostgreSQL and the sandbox's ARI and AMI over a veth pair; the
standby runs on this machine. The pair's link goes down with 6 callers waiting: nothing is reset,
PostgreSQL keeps the cut engine's session and lock. The standby waits out the lease's ttl, ends
that session and takes over; the cut engine, unable to renew, fences itself and exits 75 (it
cannot reach Asterisk either: the test checks that it stops, and the callers are answered once
each, oldest first, by the new active engine)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time

import aiohttp
import pytest

from tests.cluster.netns import namespace_host
from tests.cluster.test_failover import FLOW, TTL_S, Cluster, role, served_once_oldest_first, waiting_callers
from tests.faults.test_engine_kill_scene import VOICE_SEATS, hang_up_everything, profiles, until
from tests.integration.acd.voice_harness import start_sipp
from tests.integration.asterisk import asterisk_settings
from tests.security.engine import running_engine

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fault", ["network cut", "database link reset"])
async def test_a_cut_active_engine_is_fenced_and_the_standby_serves_its_callers_once(fault, pg_url, tmp_path):
    """``network cut``: the namespace's link goes down (silent: the standby must wait out the
    ttl). ``database link reset``: only its PostgreSQL link is reset while Asterisk stays in
    reach: the lock goes at once and so must the engine, before the standby commands anything."""
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.fail("this test makes a network namespace: it needs root and iproute2 (Debian's iproute2)")
    a = asterisk_settings().asterisk
    await hang_up_everything(a)
    async with namespace_host([5432, a.http_port, a.ami_port]) as far:
        env = {
            "HOTLINE_ASTERISK__VOICE": "true",
            "HOTLINE_IVR__FLOW": str(FLOW),
            "HOTLINE_ASTERISK__ARI_PASSWORD": a.ari_password,
            "HOTLINE_ASTERISK__AMI_PASSWORD": a.ami_password,
            "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
            "HOTLINE_SECRET_KEY": "cluster-test-secret-0123456789abcdef",
            "HOTLINE_CLUSTER__ENABLED": "true",
            "HOTLINE_CLUSTER__TTL_S": str(TTL_S),
        }
        # The far engine reaches the database and Asterisk through this machine's end of the pair.
        far_db = pg_url.replace("@127.0.0.1:", f"@{far.address}:")
        far_env = {**env, "HOTLINE_CLUSTER__NODE": "engine-far", "HOTLINE_ASTERISK__HOST": far.address}
        trunk = await start_sipp("seat_answer.xml", None, int(a.trunk_host.rsplit(":", 1)[1]), calls=200, timeout=600)
        accounts = [(name, "seat", None) for name in VOICE_SEATS]
        (tmp_path / "far").mkdir()
        (tmp_path / "near").mkdir()
        c: Cluster | None = None
        try:
            async with (
                running_engine(
                    tmp_path / "far", far_env, accounts, far_db, profiles, wrap=far.wrap, host=far.inside
                ) as cut,
                aiohttp.ClientSession() as http,
            ):
                await until(lambda: _is(http, cut.base, 200), 30, "the far engine active")
                near_env = {**env, "HOTLINE_CLUSTER__NODE": "engine-near"}
                async with running_engine(tmp_path / "near", near_env, [], pg_url) as near:
                    assert await role(http, near.base) == 503
                    c = Cluster([cut, near], cut, None, [trunk])
                    order, places = await waiting_callers(c, http, pg_url, 6)
                    at = time.monotonic()
                    if fault == "network cut":
                        far.cut()
                    else:
                        await far.reset(5432)
                    await until(lambda: _is(http, near.base, 200), 20, "the standby active after the cut")
                    took = time.monotonic() - at
                    log = (near.cwd / "engine.log").read_text()
                    if fault == "network cut":
                        assert took >= TTL_S * 0.9, took  # the cut one's lease had to run out first
                        assert '"lease holder silent: its session ended"' in log, log[-2000:]
                    else:
                        assert '"lease holder silent' not in log  # the lock went with the session
                    # The cut engine fenced itself and stopped.
                    code = await asyncio.to_thread(cut.proc.wait, 15)
                    assert code == 75, code
                    far_log = (cut.cwd / "engine.log").read_text()
                    assert '"lease lost: this engine stops (fenced)"' in far_log
                    if fault != "network cut":
                        assert "connection to PostgreSQL was lost" in far_log, far_log[-2000:]
                    c.front = near
                    await served_once_oldest_first(c, http, pg_url, order, places)
        finally:
            with contextlib.suppress(Exception):
                await hang_up_everything(a)
            for sp in [trunk, *(c.sipps[1:] if c else [])]:
                if sp.proc.returncode is None:
                    sp.proc.kill()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sp.proc.communicate(), 5)


async def _is(http: aiohttp.ClientSession, base: str, status: int) -> bool:
    return await role(http, base) == status
