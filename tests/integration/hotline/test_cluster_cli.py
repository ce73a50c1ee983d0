"""``hotline cluster`` as an operator meets it, run as a real process: ``status`` reads the lease and
the members from a real PostgreSQL (rows written here as the engines write them, the lease's lock
held by a session of the test's, as an active engine holds it); ``haproxy`` prints a configuration
the real HAProxy accepts and that, run, sends the traffic only to the engine whose
``/cluster/active`` answers 200 and follows a takeover."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench._haproxy import servers as haproxy_servers
from hotline.lease import lock_keys, plain_dsn
from hotline.migrate import upgrade
from tests.security.engine import HOTLINE, ROOT, free_port


async def hotline(tmp_path: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """One ``hotline`` command in a process of its own, its settings from the environment only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_") and k != "DATABASE_URL"}
    env.update({"HOTLINE_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)})
    if url is not None:
        env["DATABASE_URL"] = url
    proc = await asyncio.create_subprocess_exec(
        *HOTLINE, *args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    code = -1 if proc.returncode is None else proc.returncode
    return subprocess.CompletedProcess(args, code, out.decode(), err.decode())


def last_json(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert out.stdout.strip(), out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert isinstance(found, dict)
    return found


def line_of(text: str, node: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith(node + " ")]
    assert len(lines) == 1, text
    return lines[0]


MEMBER = """INSERT INTO cluster_member (node, state, epoch, pid, http, started_at, seen_at, info)
            VALUES ($1, $2, $3, $4, $5, now() - interval '1 hour', now() - make_interval(secs => $6), $7::json)"""


async def fill_cluster(conn: Any) -> None:
    """engine-a holds the lease (epoch 7, this session's lock) with 3 calls on its Asterisk;
    engine-b waits as a standby; engine-c's row is 30 s old; engine-d stopped cleanly; engine-e
    still says active with epoch 6: the holder before engine-a, being fenced."""
    assert await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *lock_keys("router"))
    await conn.execute(
        """INSERT INTO cluster_lease (name, epoch, holder, holder_pid, acquired_at, renewed_at)
           VALUES ('router', 7, 'engine-a', pg_backend_pid(), now() - interval '5 minutes',
                   now() - interval '200 milliseconds')"""
    )
    ari = json.dumps({"asterisk": [{"ari": "http://10.0.0.11:8088/ari", "calls": 3}]})
    for row in (
        ("engine-a", "active", 7, 4101, "http://10.0.0.11:8345", 0.3, ari),
        ("engine-b", "standby", 0, 4202, "http://10.0.0.12:8345", 0.5, "{}"),
        ("engine-c", "standby", 0, 4303, "http://10.0.0.13:8345", 30.0, "{}"),
        ("engine-d", "stopped", 0, 4404, "http://10.0.0.14:8345", 600.0, "{}"),
        ("engine-e", "active", 6, 4505, "http://10.0.0.15:8345", 1.0, "{}"),
    ):
        await conn.execute(MEMBER, *row)


async def test_status_names_the_active_engine_and_each_members_state(pg_url, tmp_path):
    import asyncpg

    await upgrade(pg_url)
    holder = await asyncpg.connect(plain_dsn(pg_url))
    renewing = None
    try:
        await fill_cluster(holder)

        async def renew() -> None:  # as the active engine does, every renew_s
            while True:
                await holder.execute("UPDATE cluster_lease SET renewed_at = now() - interval '200 milliseconds'")
                await asyncio.sleep(0.25)

        renewing = asyncio.create_task(renew())
        as_json, as_text = await asyncio.gather(
            hotline(tmp_path, "cluster", "status", "--json", url=pg_url),
            hotline(tmp_path, "cluster", "status", url=pg_url),
        )
        assert as_json.returncode == 0, as_json.stderr
        found = last_json(as_json)
        assert found["active"] == {"node": "engine-a", "epoch": 7}
        assert found["lease"]["holder"] == "engine-a" and found["lease"]["locked"] is True
        assert 0.1 <= found["lease"]["renewed_s_ago"] < 1.5
        by_node = {m["node"]: m for m in found["members"]}
        assert {n: m["status"] for n, m in by_node.items()} == {
            "engine-a": "active",
            "engine-b": "standby",
            "engine-c": "silent",
            "engine-d": "stopped",
            "engine-e": "fenced",
        }
        assert [n for n, m in by_node.items() if m["active"]] == ["engine-a"]
        assert by_node["engine-a"]["asterisk"] == [{"ari": "http://10.0.0.11:8088/ari", "calls": 3}]
        assert 29 <= by_node["engine-c"]["seen_s_ago"] < 40
        assert found["members"][0]["node"] == "engine-a"  # the active one first

        assert as_text.returncode == 0, as_text.stderr
        text = as_text.stdout
        assert "active 主用: engine-a (epoch 7)" in text
        assert re.search(r"lease 租约 router: epoch 7, holder engine-a .*lock held", text), text
        a = line_of(text, "engine-a")
        assert "active 主用 *" in a and "http://10.0.0.11:8088/ari: 3" in a, a
        assert "standby 备用" in line_of(text, "engine-b")
        assert "silent 失联 (row: standby)" in line_of(text, "engine-c")
        assert re.search(r"  3\d\.\d s ago  ", line_of(text, "engine-c"))
        assert "stopped 已停止" in line_of(text, "engine-d")
        assert "fenced 已隔离 (row: active)" in line_of(text, "engine-e")

        # The holder falls silent: its lock is still held, its last renewal is past ttl_s.
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        await holder.execute("UPDATE cluster_lease SET renewed_at = now() - interval '10 seconds'")
        silent = await hotline(tmp_path, "cluster", "status", "--json", url=pg_url)
        assert silent.returncode == 3, silent.stdout + silent.stderr
        found = last_json(silent)
        assert found["active"] is None and "silent" in found["verdict"]
        assert {m["node"]: m["status"] for m in found["members"]}["engine-a"] == "silent"
    finally:
        if renewing is not None:
            renewing.cancel()
        await holder.close()

    # Its session ended (kill -9): the lock is free, nobody took it.
    free = await hotline(tmp_path, "cluster", "status", url=pg_url)
    assert free.returncode == 3, free.stdout + free.stderr
    assert "the lease is free (last holder engine-a)" in free.stdout
    assert "lock free" in free.stdout


async def test_status_on_sqlite_an_unmigrated_or_an_unreachable_database_is_one_line(pg_url, tmp_path):
    sqlite, bare, down = await asyncio.gather(
        hotline(tmp_path, "cluster", "status", url=f"sqlite:///{tmp_path / 'hotline.db'}"),
        hotline(tmp_path, "cluster", "status", url=pg_url),
        hotline(tmp_path, "cluster", "status", "--json", url=f"postgresql://hotline:secret@127.0.0.1:{free_port()}/x"),
    )
    for out, says in (
        (sqlite, "the cluster lives in PostgreSQL"),
        (bare, "run hotline db upgrade first"),
        (down, "unreachable"),
    ):
        assert out.returncode == 1, out.stdout + out.stderr
        assert out.stdout == "" and "Traceback" not in out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hotline: error: ") and says in lines[0], out.stderr
    assert "secret" not in down.stderr  # the password is not shown


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail("haproxy is not installed: run scripts/system-deps.sh (Debian: apt-get install haproxy)")
    return found


def check_config(haproxy: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30, check=False)


async def test_haproxy_prints_a_configuration_haproxy_accepts(tmp_path):
    haproxy = haproxy_binary()
    out = await hotline(
        tmp_path,
        "cluster",
        "haproxy",
        "--engine",
        "engine-a=10.0.0.11:8345",
        "--engine",
        "[fd00::12]:8345",
        "--listen",
        "[::]:80",
        "--stats",
        "127.0.0.1:8404",
        "--maxconn",
        "12000",
    )
    assert out.returncode == 0, out.stderr
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(out.stdout)
    checked = check_config(haproxy, cfg)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = out.stdout
    for line in (
        "option httpchk GET /cluster/active",
        "http-check expect status 200",
        "default-server check inter 300ms fastinter 300ms downinter 300ms fall 2 rise 1"
        " on-marked-down shutdown-sessions",
        "option redispatch 1",
        "option forwardfor",
        "timeout tunnel 1h",
        "server engine-a 10.0.0.11:8345",
        "server fd00::12:8345 [fd00::12]:8345",
        "bind [::]:80",
        "bind 127.0.0.1:8404",
        "maxconn 12000",
        "http-request del-header X-Forwarded-For",
    ):
        assert re.search(rf"^\s+{re.escape(line)}", text, re.M), line
    # And a broken file is refused by the same check: the check can fail.
    cfg.write_text(text.replace("http-check expect status 200", "http-check expect status"))
    assert check_config(haproxy, cfg).returncode != 0

    bad, twice, few = await asyncio.gather(
        hotline(tmp_path, "cluster", "haproxy", "--engine", "10.0.0.11"),
        hotline(tmp_path, "cluster", "haproxy", "--engine", "10.0.0.11:8345", "--engine", "10.0.0.11:8345"),
        hotline(tmp_path, "cluster", "haproxy", "--engine", "10.0.0.11:8345", "--maxconn", "5"),
    )
    for out, says in ((bad, "HOST:PORT"), (twice, "given twice"), (few, "from 100 to 1000000")):
        assert out.returncode == 2 and out.stdout == "", out.stdout + out.stderr
        assert says in out.stderr and "Traceback" not in out.stderr, out.stderr


class FakeEngine:
    """An engine's HTTP face as HAProxy sees it: /cluster/active 200 or 503, a page saying who
    answered and the X-Forwarded-For it got, and a websocket."""

    def __init__(self, name: str, active: bool) -> None:
        self.name, self.active, self.port = name, active, free_port()
        self.sockets: list[web.WebSocketResponse] = []
        app = web.Application()
        app.router.add_get("/cluster/active", self._active)
        app.router.add_get("/who", self._who)
        app.router.add_get("/ws", self._ws)
        self.runner = web.AppRunner(app, access_log=None)

    async def _active(self, _request: web.Request) -> web.Response:
        return web.json_response({"active": self.active}, status=200 if self.active else 503)

    async def _who(self, request: web.Request) -> web.Response:
        return web.json_response({"name": self.name, "xff": request.headers.getall("X-Forwarded-For", [])})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for _msg in ws:
            pass
        return ws

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()


async def test_haproxy_sends_traffic_to_the_active_engine_only_and_follows_a_takeover(tmp_path):
    haproxy = haproxy_binary()
    a, b = FakeEngine("a", active=True), FakeEngine("b", active=False)
    await a.start()
    await b.start()
    port, stats_port = free_port(), free_port()
    out = await hotline(
        tmp_path,
        "cluster",
        "haproxy",
        "--engine",
        f"a=127.0.0.1:{a.port}",
        "--engine",
        f"b=127.0.0.1:{b.port}",
        "--listen",
        f"127.0.0.1:{port}",
        "--stats",
        f"127.0.0.1:{stats_port}",
    )
    assert out.returncode == 0, out.stderr
    # As the test's user, in the foreground: without the daemon's chroot, user and admin socket.
    dropped = re.compile(r"^\s+(chroot|user|group|daemon|stats socket|log /dev/log)\b")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("\n".join(line for line in out.stdout.splitlines() if not dropped.match(line)) + "\n")
    proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:

            async def who() -> dict[str, Any] | None:
                async with http.get(f"{base}/who", headers={"X-Forwarded-For": "6.6.6.6"}) as resp:
                    return await resp.json() if resp.status == 200 else None

            async def servers() -> dict[str, str]:
                """What HAProxy's stats page says of each engine: UP, DOWN (or on its way)."""
                seen = await haproxy_servers(http, f"127.0.0.1:{stats_port}")
                return {name: status for name, (status, _check) in seen.items()}

            async def until(wanted: dict[str, str], within_s: float) -> float:
                started = time.monotonic()
                while (now := await servers()) != wanted:
                    if proc.poll() is not None:
                        pytest.fail(f"haproxy exited: {proc.stdout.read().decode() if proc.stdout else ''}")
                    if time.monotonic() - started > within_s:
                        pytest.fail(f"HAProxy did not see {wanted} within {within_s} s: {now}")
                    await asyncio.sleep(0.02)
                return time.monotonic() - started

            # HAProxy starts with every server up: the standby is marked down by its checks.
            await until({"a": "UP", "b": "DOWN"}, 5)
            answers = [await who() for _ in range(10)]
            assert [x["name"] if x else None for x in answers] == ["a"] * 10
            # The client's own header is dropped: the engine sees HAProxy's, naming the real peer.
            assert [x["xff"] if x else None for x in answers] == [["127.0.0.1"]] * 10

            ws = await http.ws_connect(f"{base}/ws")
            await ws.send_str("hello")
            assert len(a.sockets) == 1 and not b.sockets

            # The takeover: a is fenced (503), b takes the lease (200).
            a.active, b.active = False, True
            took = await until({"a": "DOWN", "b": "UP"}, 3)
            assert took < 1.2, f"HAProxy followed the takeover after {took:.2f} s"
            # a's websocket was cut when it was marked down: the console reconnects, to b.
            msg = await asyncio.wait_for(ws.receive(), 1)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), msg
            answers = [await who() for _ in range(10)]
            assert [x["name"] if x else None for x in answers] == ["b"] * 10

            # No engine active: HAProxy's own answer is JSON with Retry-After, like a standby's.
            b.active = False
            await until({"a": "DOWN", "b": "DOWN"}, 3)
            async with http.get(f"{base}/who") as resp:
                assert resp.status == 503
                assert resp.headers.get("Retry-After") == "1"
                assert (await resp.json(content_type=None))["error"] == "no_active_engine"
    finally:
        proc.terminate()
        proc.wait(10)
        await a.runner.cleanup()
        await b.runner.cleanup()


async def test_haproxy_keeps_forwarded_for_only_from_the_proxies_in_front(tmp_path):
    """--front: a gateway in front of HAProxy says who its clients are; anyone else's claim is dropped."""
    haproxy = haproxy_binary()
    engine = FakeEngine("a", active=True)
    await engine.start()
    dropped = re.compile(r"^\s+(chroot|user|group|daemon|stats socket|log /dev/log)\b")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        seen: dict[str, list[str]] = {}
        for front in ("127.0.0.0/8", "10.9.0.0/16"):
            port = free_port()
            out = await hotline(
                tmp_path,
                "cluster",
                "haproxy",
                "--engine",
                f"a=127.0.0.1:{engine.port}",
                "--listen",
                f"127.0.0.1:{port}",
                "--front",
                front,
            )
            assert out.returncode == 0, out.stderr
            assert f"acl from_front src {front}" in out.stdout and f"--front {front}" in out.stdout
            cfg = tmp_path / f"haproxy-{port}.cfg"
            cfg.write_text("\n".join(line for line in out.stdout.splitlines() if not dropped.match(line)) + "\n")
            assert check_config(haproxy, cfg).returncode == 0
            procs.append(subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL))
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
                for _ in range(250):
                    with contextlib.suppress(aiohttp.ClientError, OSError):
                        async with http.get(
                            f"http://127.0.0.1:{port}/who", headers={"X-Forwarded-For": "6.6.6.6"}
                        ) as r:
                            if r.status == 200:
                                seen[front] = (await r.json())["xff"]
                                break
                    await asyncio.sleep(0.02)
        # From a proxy in front: its client's address, then HAProxy's own line naming the proxy.
        assert seen["127.0.0.0/8"] == ["6.6.6.6", "127.0.0.1"], seen
        # From anyone else: the claim is dropped, only the real peer is named.
        assert seen["10.9.0.0/16"] == ["127.0.0.1"], seen
        bad = await hotline(tmp_path, "cluster", "haproxy", "--engine", "10.0.0.11:8345", "--front", "not-an-ip")
        assert bad.returncode == 2 and "not an address or network" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        await engine.runner.cleanup()


def test_system_deps_installs_haproxy():
    script = (Path(__file__).parents[3] / "scripts" / "system-deps.sh").read_text()
    assert "have haproxy || need+=(haproxy)" in script


async def test_a_gateway_without_its_engines_secret_or_redis_says_what_it_needs_in_one_line(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        *HOTLINE,
        "run",
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_") and k != "REDIS_URL"},
            "HOTLINE_DATA_DIR": str(tmp_path / "var"),
            "PYTHONPATH": str(ROOT),
            "HOTLINE_CLUSTER__ROLE": "gateway",
        },
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, out + err
    said = err.decode()
    for need in ("cluster.engines", "cluster.relay_secret", "REDIS_URL"):
        assert need in said, said
    assert "Traceback" not in said and len(said.strip().splitlines()) == 1, said
