"""The engine under attack: a real ``hotline run --no-asterisk`` child process of this checkout's
code, with a fresh data folder, its accounts made before it starts, the engine's default limits,
loopback trusted as a proxy and a WeChat account configured (plain mode, so that a captured query
string can be replayed). Its cost is read from outside: /proc for memory and CPU, /metrics for
what it refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

import bench
from bench.abuse import cast

ROOT = Path(bench.__file__).resolve().parents[1]  # the checkout whose code is measured
ENTRY = [sys.executable, "-P", "-c", "import sys; from hotline.cli import main; sys.exit(main())"]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Engine:
    proc: subprocess.Popen[bytes]
    base: str
    data_dir: Path
    log_path: Path
    code: str  # the file `hotline` was imported from in the child's environment
    env: dict[str, str] = field(default_factory=dict)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("the engine has no VmRSS (has it stopped?)")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the engine process (its threads included)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    async def refusals(self) -> dict[str, float]:
        """The engine's own refusal counters, ``edge/reason`` -> count (from /metrics, on loopback)."""
        async with aiohttp.ClientSession() as http, http.get(f"{self.base}/metrics") as r:
            text = await r.text()
        out: dict[str, float] = {}
        for line in text.splitlines():
            for name in ("hotline_refused_total{", "hotline_wechat_rejected_total{"):
                if line.startswith(name):
                    labels, value = line[len(name) :].rsplit("} ", 1)
                    parts = dict(p.split("=", 1) for p in labels.split(","))
                    key = "/".join(v.strip('"') for v in parts.values())
                    prefix = "wechat/" if name.startswith("hotline_wechat") else ""
                    out[prefix + key] = float(value)
        return out

    def work_orders(self) -> int | None:
        db = self.data_dir / "hotline.db"
        if self.env.get("DATABASE_URL") or not db.exists():
            return None
        with contextlib.closing(sqlite3.connect(db)) as con:
            return int(con.execute("select count(*) from wo_orders").fetchone()[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def make_accounts(url: str, seats: int) -> None:
    """All accounts with one password hash (scrypt per account would take minutes)."""
    from hotline.auth import Account, hash_password
    from hotline.migrate import upgrade
    from hotline.storage import make_engine, make_sessionmaker

    await upgrade(url)
    engine = make_engine(url)
    digest = hash_password(cast.PASSWORD)
    now = dt.datetime.now(dt.UTC)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            for username, role, unit in cast.accounts(seats):
                s.add(
                    Account(
                        username=username,
                        display_name=username,
                        role=role,
                        unit_id=unit,
                        password_hash=digest,
                        active=True,
                        created_at=now,
                    )
                )
    finally:
        await engine.dispose()


def environment(data: Path, port: int, database_url: str) -> dict[str, str]:
    """The parent's environment without its own engine settings, plus the bench's few."""
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_HTTP__PORT": str(port),
        "DATABASE_URL": database_url,
        # Loopback stands for the hotline's reverse proxy: each client brings its own address.
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        # No telephony: the sandbox Asterisk belongs to others and is never dialled.
        "HOTLINE_ASTERISK__VOICE": "false",
        "HOTLINE_WECHAT__TOKEN": cast.WECHAT_TOKEN,
        "HOTLINE_WECHAT__MODE": "plain",
    }


def which_code(env: dict[str, str], cwd: Path) -> str:
    """Where the child's ``hotline`` comes from: this checkout, not whatever is installed."""
    out = subprocess.run(
        [sys.executable, "-P", "-c", "import hotline; print(hotline.__file__)"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


async def start(run_dir: Path, seats: int, database_url: str = "") -> Engine:
    data = run_dir / "engine-data"
    data.mkdir(parents=True)
    await make_accounts(database_url or f"sqlite+aiosqlite:///{data / 'hotline.db'}", seats)
    port = free_port()
    env = environment(data, port, database_url)
    code = which_code(env, run_dir)
    log_path = run_dir / "engine.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*ENTRY, "run", "--no-asterisk"], env=env, cwd=run_dir, stdout=log, stderr=log)
    engine = Engine(proc, f"http://127.0.0.1:{port}", data, log_path, code, env)
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession() as http:
        while True:
            if not engine.alive():
                raise RuntimeError("the engine stopped at start: " + engine.tail())
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{engine.base}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return engine
            if time.monotonic() > deadline:
                engine.stop()
                raise RuntimeError("the engine did not answer /healthz within 90 s: " + engine.tail())
            await asyncio.sleep(0.2)


def settings_in_force(env: dict[str, str]) -> dict[str, Any]:
    """The security limits the engine runs with (its defaults, unless the bench's env says otherwise)."""
    from hotline.settings import SecuritySettings

    sec = SecuritySettings.model_validate({"trusted_proxies": json.loads(env["HOTLINE_SECURITY__TRUSTED_PROXIES"])})
    return sec.model_dump()
