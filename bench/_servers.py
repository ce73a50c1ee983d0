"""Two named sandbox Asterisk instances peered with each other by the trunk the dialplans render
(docs/voice.md, "Several Asterisk servers"): the cluster tier's tests (tests/cluster/conftest.py)
and ``hotline bench failover --asterisks 2`` run calls into both.

They run from the default instance's root with ports of their own (the default's moved by the
pair's offset, RTP ranges of their own); the default instance is never touched, since other tests
and benches use it. Every instance started here is stopped at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hotline import sandbox
from hotline.settings import Settings, load_settings

HOTLINE = [sys.executable, "-P", "-c", "import sys; from hotline.cli import main; sys.exit(main())"]
PEERED = {"a": "b", "b": "a"}
# A second pair, c and d, for a test that may run beside one on a and b (ports moved by 300 and 400).
PEERED_CD = {"c": "d", "d": "c"}
# The failover bench's own pair: a bench may run while the tests' pairs are up.
PEERED_EF = {"e": "f", "f": "e"}
OFFSET = {"a": 100, "b": 200, "c": 300, "d": 400, "e": 500, "f": 600}
# Apart from the default instance's RTP (20000-29999) and the tests' sipp ports (30000-32700).
RTP = {
    "a": (16000, 16999),
    "b": (17000, 17999),
    "c": (12000, 12999),
    "d": (13000, 13999),
    # The bench's pair at 20 calls/s holds about 250 calls at once on each, two legs of two ports
    # each (RTP, RTCP): 1,000 ports; 500 each ran out ("488 Not Acceptable Here"). Above the
    # kernel's ephemeral range (32768-60999).
    "e": (61000, 62999),
    "f": (63000, 64999),
}


@dataclass
class Server:
    name: str
    settings: Settings  # its ports, with the default instance's passwords and folders
    env: dict[str, str]  # what ``hotline sandbox up --instance`` was given: to start it again

    async def up(self) -> None:
        code, out = await hotline("sandbox", "up", "--instance", self.name, env=self.env)
        if code != 0:
            raise RuntimeError(f"hotline sandbox up --instance {self.name} failed: {out[-1500:]}")

    @property
    def ari(self) -> str:
        return self.settings.asterisk.ari_url

    @property
    def log(self) -> Path:
        return sandbox.instance(self.settings, self.name).log

    @property
    def etc(self) -> Path:
        """Its /etc/asterisk-<name> as a folder of this machine (where seats' endpoints go)."""
        return sandbox.instance(self.settings, self.name).etc

    @property
    def sip_target(self) -> str:
        return f"127.0.0.1:{self.settings.asterisk.sip_port}"

    def pid(self) -> int | None:
        return sandbox.pid_alive(sandbox.instance(self.settings, self.name))

    def as_peer(self, name_here: str, grace_s: float = 2.0) -> dict[str, object]:
        """This server as an entry of another one's ``asterisk.peers`` (ARI, AMI, its folder)."""
        a = self.settings.asterisk
        return {
            "name": self.name,
            "host": "127.0.0.1",
            "sip_port": a.sip_port,
            "ami_port": a.ami_port,
            "ari_port": a.http_port,
            "name_here": name_here,
            "config_dir": str(self.etc),
            "grace_s": grace_s,
        }

    def engine_env(self, peers: list[dict[str, object]], flow: Path, secret: str) -> dict[str, str]:
        """A ``hotline run`` whose main Asterisk is this server (external: it writes the seats into
        this server's own folder, never the default instance's) and drives ``peers``."""
        a = self.settings.asterisk
        return {
            "HOTLINE_ASTERISK__VOICE": "true",
            "HOTLINE_ASTERISK__EXTERNAL": "true",
            "HOTLINE_ASTERISK__CONFIG_DIR": str(self.etc),
            "HOTLINE_ASTERISK__HTTP_PORT": str(a.http_port),
            "HOTLINE_ASTERISK__AMI_PORT": str(a.ami_port),
            "HOTLINE_ASTERISK__SIP_PORT": str(a.sip_port),
            "HOTLINE_ASTERISK__ARI_PASSWORD": a.ari_password,
            "HOTLINE_ASTERISK__AMI_PASSWORD": a.ami_password,
            "HOTLINE_ASTERISK__PEERS": json.dumps(peers),
            "HOTLINE_IVR__FLOW": str(flow),
            "HOTLINE_SECRET_KEY": secret,
        }


def instance_env(name: str, base: Settings, trunk_port: int, pair: Mapping[str, str] = PEERED) -> dict[str, str]:
    """What ``hotline sandbox up --instance NAME`` is given: its ports, its peer's, its RTP range."""
    a = base.asterisk
    peer = pair[name]
    rtp_start, rtp_end = RTP[name]
    return {
        "HOTLINE_ASTERISK__HTTP_PORT": str(a.http_port + OFFSET[name]),
        "HOTLINE_ASTERISK__AMI_PORT": str(a.ami_port + OFFSET[name]),
        "HOTLINE_ASTERISK__SIP_PORT": str(a.sip_port + OFFSET[name]),
        "HOTLINE_ASTERISK__RTP_START": str(rtp_start),
        "HOTLINE_ASTERISK__RTP_END": str(rtp_end),
        "HOTLINE_ASTERISK__TRUNK_HOST": f"127.0.0.1:{trunk_port}",
        "HOTLINE_ASTERISK__PEERS": json.dumps(
            [{"name": peer, "host": "127.0.0.1", "sip_port": a.sip_port + OFFSET[peer]}]
        ),
    }


async def hotline(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *HOTLINE,
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(errors="replace")


@contextlib.asynccontextmanager
async def peered_pair(
    base: Settings,
    trunk_ports: Mapping[str, int],
    before_up: Callable[[dict[str, Server]], None] | None = None,
    pair: Mapping[str, str] = PEERED,
) -> AsyncIterator[dict[str, Server]]:
    """The ``pair``'s instances up from ``base``'s root (the default instance's), peered with each
    other; ``trunk_ports``: where each one's outbound trunk goes; ``before_up`` may write into
    their folders first. Both are stopped at the end."""
    env = {name: instance_env(name, base, trunk_ports[name], pair) for name in pair}
    servers = {
        name: Server(
            name,
            load_settings(
                asterisk={
                    "http_port": int(env[name]["HOTLINE_ASTERISK__HTTP_PORT"]),
                    "ami_port": int(env[name]["HOTLINE_ASTERISK__AMI_PORT"]),
                    "sip_port": int(env[name]["HOTLINE_ASTERISK__SIP_PORT"]),
                }
            ),
            env[name],
        )
        for name in pair
    }
    try:
        for name in pair:  # no phones' contacts remembered from an earlier run (astdb)
            inst = sandbox.instance(base, name)
            with contextlib.suppress(FileNotFoundError):
                (sandbox.in_root(inst.p.root, inst.directories()["astdbdir"]) / "astdb.sqlite3").unlink()
        if before_up is not None:
            before_up(servers)
        for server in servers.values():
            await server.up()
        yield servers
    finally:
        for name in pair:
            await hotline("sandbox", "down", "--instance", name, env={})
