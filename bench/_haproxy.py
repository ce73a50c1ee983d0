"""What HAProxy itself thinks of the engines behind it, from its stats page (``hotline cluster
haproxy --stats ADDR:PORT``), for the benches and the cluster tests.

HAProxy 2.6 (Debian 12) starts every server UP and checks each within one ``inter`` of starting:
until then a standby may be sent a request (it refuses with 503; a request on it when HAProxy
marks it down is cut, 502). Whoever starts HAProxy and wants to measure the active engine alone
waits for every server's first check (``until_checked``). HAProxy 3.1's ``init-state down`` would
close that window in the configuration itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp


async def servers(http: aiohttp.ClientSession, stats: str, backend: str = "engines") -> dict[str, tuple[str, str]]:
    """Each server of ``backend``: (status, last check's status), e.g. ("UP", "L7OK"),
    ("DOWN", "L7STS"); a server not yet checked shows "INI" or "" as its check. {} if the page
    does not answer."""
    try:
        async with http.get(f"http://{stats}/;csv", timeout=aiohttp.ClientTimeout(total=2)) as resp:
            rows = (await resp.text()).splitlines()
    except (aiohttp.ClientError, OSError, TimeoutError):
        return {}
    if not rows:
        return {}
    head = rows[0].lstrip("# ").split(",")
    found = [dict(zip(head, row.split(","), strict=False)) for row in rows[1:] if row]
    return {
        r["svname"]: (r["status"], r.get("check_status", "").strip("* "))
        for r in found
        if r["pxname"] == backend and r["svname"] not in ("BACKEND", "FRONTEND")
    }


async def until_checked(
    http: aiohttp.ClientSession, stats: str, up: set[str], within_s: float = 30.0, backend: str = "engines"
) -> float:
    """Seconds until HAProxy has checked every server of ``backend`` and exactly ``up`` are UP
    (the others DOWN); AssertionError with what it last said if not within ``within_s``."""
    started = time.monotonic()
    seen: dict[str, tuple[str, str]] = {}
    while time.monotonic() - started < within_s:
        seen = await servers(http, stats, backend)
        if (
            seen
            and all(check not in ("", "INI") for _, check in seen.values())
            and {name for name, (status, _) in seen.items() if status == "UP"} == up
        ):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"HAProxy's checks did not settle on {sorted(up)} up within {within_s} s: {seen}")


def configuration(*args: str, env: dict[str, str] | None = None) -> str:
    """What ``hotline cluster haproxy ARGS`` writes, with HAProxy's log lines (each request, with
    its termination flags) on its own output instead of syslog: for a test's or a bench's own log."""
    from bench.chaos import HOTLINE

    out = subprocess.run(
        [*HOTLINE, "cluster", "haproxy", *args], capture_output=True, text=True, timeout=30, check=True, env=env
    )
    return out.stdout.replace("    log /dev/log local0\n", "    log stdout format raw local0\n").replace(
        "    log /dev/log local1 notice\n", ""
    )


@contextlib.contextmanager
def running(folder: Path, config: str) -> Iterator[subprocess.Popen[bytes]]:
    """HAProxy on ``config`` (written to ``folder``/haproxy.cfg), its log in ``folder``/haproxy.log;
    stopped at the end, whatever happened."""
    cfg = folder / "haproxy.cfg"
    cfg.write_text(config)
    with (folder / "haproxy.log").open("wb") as log:
        proxy = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proxy
    finally:
        proxy.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proxy.wait(10)
