"""A real ``hotline run`` process for the security tests: its own data folder and SQLite file,
accounts made before it starts, settings from the environment, and an HTTP client of our own.

The attacks go over real TCP to the real process; what the engine costs is read from outside
(its resident memory in /proc, its /metrics), never from inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

# This checkout's code, whatever the virtualenv's `hotline` script would import (an editable
# install points at one checkout only; a worktree's tests must attack the worktree's engine).
ROOT = Path(__file__).resolve().parents[2]
HOTLINE = [sys.executable, "-P", "-c", "import sys; from hotline.cli import main; sys.exit(main())"]
PASSWORD = "password-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningEngine:
    base: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = Path(".")
    starts: int = 1
    wrap: list[str] = field(default_factory=list)  # a command the engine runs under (unshare ...)

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine's OOM killer or a fault ends it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def restart(self) -> None:
        """Start the engine again on the same data folder, database and port (after a kill)."""
        assert self.proc.poll() is not None, "stop or kill the engine first"
        self.starts += 1
        self.proc = _spawn(self.env, self.cwd, self.cwd / f"engine-{self.starts}.log", self.wrap)
        await _healthy(self, self.cwd / f"engine-{self.starts}.log")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    async def login(self, http: aiohttp.ClientSession, username: str, password: str = PASSWORD, **kw: object) -> str:
        async with http.post(f"{self.base}/api/login", json={"username": username, "password": password}, **kw) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["token"])

    async def metric(self, http: aiohttp.ClientSession, name: str, **labels: str) -> float:
        """A counter's value from /metrics (0 when absent)."""
        async with http.get(f"{self.base}/metrics") as r:
            text = await r.text()
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in text.splitlines():
            if line.startswith(f"{name}{{{want}}}") or (not labels and line.startswith(f"{name} ")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


async def _accounts(url: str, accounts: list[tuple[str, str, str | None]]) -> None:
    from hotline.auth import create_account
    from hotline.migrate import upgrade
    from hotline.storage import make_engine, make_sessionmaker

    await upgrade(url)
    engine = make_engine(url)
    try:
        for username, role, unit in accounts:
            await create_account(make_sessionmaker(engine), username, role, PASSWORD, unit=unit)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def running_engine(
    tmp_path: Path,
    env: dict[str, str] | None = None,
    accounts: list[tuple[str, str, str | None]] | None = None,
    database_url: str = "",
    prepare: Callable[[str], Awaitable[None]] | None = None,
    wrap: list[str] | None = None,
    host: str = "127.0.0.1",
):  # type: ignore[no-untyped-def]
    """The engine on its own SQLite file in its data folder, or on ``database_url`` when given;
    ``prepare(url)`` fills the migrated database before the engine starts (profiles, say);
    ``wrap``: a command the engine runs under (a mount namespace with a small disk, a network
    namespace, say); ``host``: the address it listens on (a network namespace's own)."""
    data = tmp_path / "engine-data"
    data.mkdir()
    url = database_url or f"sqlite+aiosqlite:///{data / 'hotline.db'}"
    await _accounts(url, accounts or [])
    if prepare is not None:
        await prepare(url)
    port = free_port()
    full = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_HTTP__PORT": str(port),
        "HOTLINE_HTTP__HOST": host,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "HOTLINE_EVENT_LOOP": "asyncio",
        "PYTHONPATH": str(ROOT),
        # No telephony in these attacks: the engine does not dial whatever Asterisk runs here.
        "HOTLINE_ASTERISK__VOICE": "false",
        **(env or {}),
    }
    proc = _spawn(full, tmp_path, tmp_path / "engine.log", wrap or [])
    engine = RunningEngine(f"http://{host}:{port}", proc, data, full, tmp_path, wrap=wrap or [])
    try:
        await _healthy(engine, tmp_path / "engine.log")
        yield engine
    finally:
        if engine.proc.poll() is None:
            engine.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(engine.proc.wait, 20)
            except subprocess.TimeoutExpired:
                engine.proc.kill()
                engine.proc.wait()


def _spawn(env: dict[str, str], cwd: Path, log_path: Path, wrap: list[str] | None = None) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [*(wrap or []), *HOTLINE, "run", "--no-asterisk"], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )


async def _healthy(engine: RunningEngine, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while True:
            if engine.proc.poll() is not None:
                raise AssertionError("the engine stopped: " + log_path.read_text()[-2000:])
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{engine.base}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return
            if time.monotonic() > deadline:
                raise AssertionError("the engine did not answer /healthz within 60 s")
            await asyncio.sleep(0.2)
