"""A running voice stack against the sandbox Asterisk, for tests: the ACD service, our ARI
client, the voice service, records on a real database, and sipp seats and callers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from acd.ami import Ami
from acd.ari.client import AriClient
from acd.core import QueueConfig, QueueConfigured, SeatLoggedIn
from acd.core.config import AcdSettings
from acd.core.engine import Acd
from acd.service import AcdService
from acd.voice.provision import provision
from acd.voice.records import RecordStore
from acd.voice.seats import SeatDevice
from acd.voice.service import VoiceService
from hotline.bus import Bus
from hotline.settings import Settings
from tests.integration.asterisk import SIPP_DIR, sipp_binary

# Between the sandbox's RTP range (20000-29999, where Asterisk opens a pair per call) and the
# kernel's ephemeral ports (32768+, every outgoing connection): nothing else binds here.
_LOW, _HIGH = 30000, 32700
_PORTS = itertools.cycle(range(_LOW + (os.getpid() % 50) * 50, _HIGH))


def _free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def next_port() -> int:
    """A SIP port for a sipp peer that nothing holds now (sipp cannot bind a busy one)."""
    for _ in range(_HIGH - _LOW):
        port = next(_PORTS)
        if _free(port):
            return port
    raise RuntimeError("no free port for sipp")


@dataclass
class Sipp:
    proc: asyncio.subprocess.Process
    port: int
    out: str = ""

    async def wait(self, timeout: float = 30) -> int:
        out, _ = await asyncio.wait_for(self.proc.communicate(), timeout)
        self.out = out.decode(errors="replace")
        return self.proc.returncode or 0

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.communicate(), 5)


async def start_sipp(
    scenario: str, target: str | None, port: int, *args: str, calls: int = 1, timeout: float = 40
) -> Sipp:
    argv = [
        sipp_binary(),
        "-sf",
        str(SIPP_DIR / scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        str(calls),
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        *args,
    ]
    if target:
        argv.insert(1, target)
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    return Sipp(proc, port)


@dataclass
class VoiceStack:
    settings: Settings
    acd: AcdService
    voice: VoiceService
    ari: AriClient
    ami: Ami
    records: RecordStore
    sipps: list[Sipp] = field(default_factory=list)

    async def die(self) -> None:
        """The engine dies: what it wrote stays, its ARI connection goes; Asterisk keeps the calls."""
        await self.records.flush()
        await self.voice.stop()
        await self.ari.close()

    @property
    def sip_target(self) -> str:
        return f"127.0.0.1:{self.settings.asterisk.sip_port}"

    async def seats(self, *specs: tuple[str, str, dict[str, int]], kind: str = "desk") -> dict[str, Sipp]:
        """Start one sipp phone per (seat id, scenario, skills), provision them, log them in ready."""
        started: dict[str, Sipp] = {}
        devices = []
        for seat_id, scenario, _skills in specs:
            port = next_port()
            sp = await start_sipp(scenario, None, port, "-d", "2000")
            self.sipps.append(sp)
            started[seat_id] = sp
            dev = SeatDevice(seat_id, kind="desk", contact=f"sip:seat{seat_id}@127.0.0.1:{port}")
            devices.append(dev)
        await provision(self.settings, devices + list(self.voice.devices.values()), self.ami, self.ari)
        for dev, (seat_id, _scenario, skills) in zip(devices, specs, strict=True):
            self.voice.set_device(dev)
            await self.acd.feed(
                SeatLoggedIn(now=self.acd.now(), seat_id=seat_id, skills=tuple(skills.items()), ready=True)
            )
        return started

    async def trunk(self, tmp_path: Any, scenario: str = "seat_answer.xml") -> tuple[Sipp, Any]:
        """The PSTN beyond the outbound trunk (110, cloud seats' numbers): one sipp that answers."""
        port = int(self.settings.asterisk.trunk_host.rsplit(":", 1)[1])
        log = tmp_path / "trunk_messages.log"
        sp = await start_sipp(scenario, None, port, "-trace_msg", "-message_file", str(log))
        self.sipps.append(sp)
        return sp, log

    async def supervisor_phone(self, seat_id: str) -> Sipp:
        """A phone for a supervisor: provisioned like a seat's, never logged into the ACD."""
        port = next_port()
        sp = await start_sipp("seat_answer.xml", None, port)
        self.sipps.append(sp)
        dev = SeatDevice(seat_id, kind="desk", contact=f"sip:seat{seat_id}@127.0.0.1:{port}")
        self.voice.set_device(dev)
        await provision(self.settings, list(self.voice.devices.values()), self.ami, self.ari)
        return sp

    async def talking(self, seat_id: str, timeout: float = 10) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while (info := self.voice.call_of(seat_id)) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"seat {seat_id} never got a call")
            await asyncio.sleep(0.05)
        return info

    async def call(self, caller: str, *, hold_ms: int = 3000, scenario: str = "caller_hangup.xml") -> Sipp:
        sp = await start_sipp(
            scenario, self.sip_target, next_port(), "-s", "12345", "-key", "caller", caller, "-d", str(hold_ms)
        )
        self.sipps.append(sp)
        return sp

    async def record(self, contact_predicate: Any = None, timeout: float = 10) -> dict[str, Any]:
        """The newest finished interaction record (optionally the first one matching the predicate)."""
        from sqlalchemy import select

        from hotline.storage import Interaction

        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.records.flush()
            async with self.records.sessions() as s:
                rows = (await s.execute(select(Interaction).order_by(Interaction.id))).scalars().all()
            done = [r for r in rows if r.ended_at is not None and (contact_predicate is None or contact_predicate(r))]
            if done:
                r = done[-1]
                return {"contact": r.contact_id, "caller": r.caller, **r.data}
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no finished record; have {[(r.contact_id, r.data) for r in rows]}")
            await asyncio.sleep(0.1)


def harness_queues(ring_timeout_s: float = 4.0) -> list[QueueConfig]:
    return [
        QueueConfig(
            name="general",
            skills=(("general", 1),),
            ring_timeout_s=ring_timeout_s,
            widen_on_projection=False,
            widen_after_s=(None, None, None, None),
        ),
        QueueConfig(
            name="business",
            skills=(("business", 1),),
            ring_timeout_s=ring_timeout_s,
            widen_on_projection=False,
            widen_after_s=(None, None, None, None),
        ),
    ]


@contextlib.asynccontextmanager
async def restarted(
    settings: Settings, s: VoiceStack, queues: list[QueueConfig] | None = None, ivr: Any = None
) -> AsyncIterator[tuple[VoiceService, AcdService]]:
    """A new ACD and voice side on the same records and Asterisk: the engine after a restart
    (after :meth:`VoiceStack.die`), reconciled; the stack's voice, ACD and ARI are the new ones."""
    a = settings.asterisk
    ari2 = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    acd2 = AcdService(Bus(), Acd(AcdSettings(wrap_up_s={"voice": 0.5, "chat": 0.0})))
    for q in queues or harness_queues():
        await acd2.feed(QueueConfigured(now=acd2.now(), queue=q))
    voice2 = VoiceService(ari2, acd2, records=s.records, ivr=ivr)
    acd2.start()
    voice2.start()
    try:
        await asyncio.wait_for(voice2.connected.wait(), 10)
        for _ in range(100):
            if voice2.reconciled:
                break
            await asyncio.sleep(0.05)
        s.voice, s.acd, s.ari = voice2, acd2, ari2
        yield voice2, acd2
    finally:
        await voice2.stop()
        await acd2.stop()
        with contextlib.suppress(Exception):
            await ari2.close()


@contextlib.asynccontextmanager
async def voice_stack(
    settings: Settings,
    sessions: Any,
    *,
    ivr: Any = None,
    acd_settings: AcdSettings | None = None,
    ring_timeout_s: float = 4.0,
    **voice_kwargs: Any,
):  # type: ignore[no-untyped-def]
    a = settings.asterisk
    ari = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password)
    await ami.connect()
    # Leftovers from an earlier test would confuse this one (like wazo-calld's reset_ari()).
    for ch in await ari.channels():
        with contextlib.suppress(Exception):
            await ari.hangup(ch["id"])
    for br in await ari.bridges():
        with contextlib.suppress(Exception):
            await ari.destroy_bridge(br["id"])
    bus = Bus()
    acd = AcdService(bus, Acd(acd_settings or AcdSettings(wrap_up_s={"voice": 0.5, "chat": 0.0})))
    for q in harness_queues(ring_timeout_s):
        await acd.feed(QueueConfigured(now=acd.now(), queue=q))
    records = RecordStore(sessions)
    records.start()
    voice = VoiceService(ari, acd, records=records, ivr=ivr, **voice_kwargs)
    acd.start()
    voice.start()
    await asyncio.wait_for(voice.connected.wait(), 10)
    stack = VoiceStack(settings, acd, voice, ari, ami, records)
    try:
        yield stack
    finally:
        for sp in stack.sipps:
            await sp.kill()
        await voice.stop()
        await acd.stop()
        await records.stop()
        for ch in await ari.channels():
            with contextlib.suppress(Exception):
                await ari.hangup(ch["id"])
        await ari.close()
        await ami.close()
