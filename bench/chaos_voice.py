"""The voice side of ``hotline bench chaos``: citizens calling 12345 on the sandbox Asterisk,
seats' phones behind the trunk, Asterisk killed and started again, and the calls' accounting.

Each citizen is one sipp call (``scenarios/chaos_caller.xml``) from a number of its own: it is
answered by Asterisk (the IVR's greeting, then the queue), stays on the line ``--hold`` seconds in
all and hangs up, as a citizen does whether a seat answered or not. The seats are cloud seats on
the consoles (signed in for calls only), each with a number of its own that the sandbox's outbound
trunk hands to one sipp phone (``scenarios/chaos_phone.xml``) answering after 300 ms.

What the citizens did is checked against what the engine stored: every call Asterisk answered
must have exactly one interaction, ended (a call lost in a crash is closed with its outcome); a
call made while Asterisk itself was down never reached the engine and is counted apart
(``calls_unreached``), as a citizen hearing nothing would call again. The 15-second rate is
docs/DOMAIN's: calls answered by a seat with a queue wait of at most 15.0 s over calls that asked
for a seat (entered the queue), no short abandons excluded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.voice.sipp import SCENARIOS, fill, free_udp_port

FLOW = Path(__file__).resolve().parents[1] / "ivr" / "flows" / "minimal.toml"


def unavailable(settings: Any) -> str:
    """Why the voice load cannot run here, or ``""``."""
    from hotline import sandbox

    if shutil.which("sipp") is None:
        return "no sipp on this machine"
    if settings.asterisk.external:
        return "the Asterisk is external (the bench kills and starts the sandbox's)"
    if sandbox.ari_info(settings, timeout=2) is None:
        return "the sandbox Asterisk does not answer: run 'hotline sandbox up'"
    return ""


def engine_env(settings: Any) -> dict[str, str]:
    a = settings.asterisk
    return {
        "HOTLINE_ASTERISK__VOICE": "true",
        "HOTLINE_IVR__FLOW": str(FLOW),
        # The sandbox's credentials (kept in the project's data folder); the engine's folder is apart.
        "HOTLINE_ASTERISK__ARI_PASSWORD": a.ari_password,
        "HOTLINE_ASTERISK__AMI_PASSWORD": a.ami_password,
    }


# The callers' RTP ports, handed out in turn: sipp's default (6000, then 99 more tries) is shared
# by every caller, and from about 50 callers at once the next could not bind and never called
# (found at 2 calls/s); a port from the kernel's ephemeral range was now and then taken by another
# caller's SIP port before sipp bound it. This range is nobody else's here: below the sandbox
# instances' RTP (12000-17999), above sipp's default. Each caller binds the port and the one 2 above.
_MEDIA = itertools.cycle(range(7000, 12000, 4))


def media_port() -> int:
    """The next port of the callers' range that is free now (with the one 2 above it)."""
    for _ in range(1250):
        port = next(_MEDIA)
        with contextlib.ExitStack() as held:
            try:
                for p in (port, port + 2):
                    s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    s.bind(("127.0.0.1", p))
            except OSError:
                continue
        return port
    raise RuntimeError("no free RTP port for a caller in 7000-11999")


def seat_number(n: int) -> str:
    return f"139{n:08d}"


@dataclass
class Call:
    number: str
    placed: float  # wall clock
    hold_s: float
    server: str = ""  # the Asterisk dialed ("" : the sandbox's default one)
    answered: bool = False  # Asterisk answered the INVITE
    rc: int | None = None
    why: str = ""  # not answered: the end of what sipp printed


@dataclass
class VoiceLoad:
    settings: Any
    folder: Path
    prefix: str  # the citizens' numbers: prefix + a counter (a run of its own each)
    # Where citizens dial, taken in turn: (the server's name, its SIP address); none given: the
    # sandbox's default Asterisk. The seats' phone listens on ``trunk_port`` (every server's
    # outbound trunk goes there); none given: the default Asterisk's trunk_host.
    targets: list[tuple[str, str]] = field(default_factory=list)
    trunk_port: int = 0
    calls: list[Call] = field(default_factory=list)
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    phone: asyncio.subprocess.Process | None = None

    async def start_phones(self) -> None:
        """One sipp behind the trunk answers every seat's number; it outlives Asterisk's restarts."""
        port = self.trunk_port or int(self.settings.asterisk.trunk_host.rsplit(":", 1)[1])
        with (self.folder / "phones.log").open("wb") as out:
            self.phone = await asyncio.create_subprocess_exec(
                *("sipp", "-sf", str(SCENARIOS / "chaos_phone.xml"), "-i", "127.0.0.1", "-p", str(port)),
                *("-m", "1000000", "-nostdin", "-aa"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        await asyncio.sleep(0.3)
        if self.phone.returncode is not None:
            raise RuntimeError(
                "the seats' phone (sipp on the trunk port) stopped: " + _tail(self.folder / "phones.log")
            )

    async def call(self, hold_s: float) -> None:
        """One citizen: dial, stay ``hold_s`` seconds, hang up; what happened is kept."""
        targets = self.targets or [("", f"127.0.0.1:{self.settings.asterisk.sip_port}")]
        server, target = targets[len(self.calls) % len(targets)]
        number = f"{self.prefix}{len(self.calls):07d}"
        entry = Call(number, time.time(), hold_s, server)
        self.calls.append(entry)
        log = self.folder / f"caller-{number}.log"
        proc = await asyncio.create_subprocess_exec(
            *("sipp", target, "-sf", str(SCENARIOS / "chaos_caller.xml")),
            *("-i", "127.0.0.1", "-p", str(free_udp_port()), "-s", "12345", "-key", "caller", number),
            *("-mp", str(media_port())),
            *("-d", str(int(hold_s * 1000)), "-m", "1", "-nostdin", "-timeout", f"{int(hold_s + 120)}s"),
            *("-timeout_error", "-trace_logs", "-log_file", str(log)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self.procs.append(proc)
        _, err = await proc.communicate()
        entry.rc = proc.returncode
        with contextlib.suppress(OSError):
            entry.answered = "answered" in log.read_text(errors="replace")
        if not entry.answered:  # what sipp said of a call Asterisk never answered
            entry.why = " ".join(err.decode(errors="replace").split())[-160:] or f"exit {entry.rc}"

    async def steady(self, calls_per_min: float, length_s: float, hold_s: tuple[float, float]) -> None:
        """The citizens of ``length_s`` seconds at ``calls_per_min`` in all, split evenly over the
        servers, each server's placed by one sipp at a steady rate (``scenarios/chaos_callers.xml``):
        a process per call costs the machine more than the engine it measures past 2 calls/s. Each
        call's number comes from an injection file; sipp logs it placed and answered."""
        targets = self.targets or [("", f"127.0.0.1:{self.settings.asterisk.sip_port}")]
        per_server = calls_per_min / len(targets)
        count = max(1, round(per_server * length_s / 60))
        hold = {"HOLD_MIN": int(hold_s[0] * 1000), "HOLD_MAX": int(hold_s[1] * 1000)}
        scenario = self.folder / "callers.xml"
        scenario.write_text(fill("chaos_callers.xml", hold), encoding="utf-8")
        runs: list[tuple[str, Path, asyncio.subprocess.Process]] = []
        for i, (server, target) in enumerate(targets):
            numbers = [f"{self.prefix}{k * len(targets) + i:07d}" for k in range(count)]
            inf = self.folder / f"callers-{server or 'default'}.csv"
            inf.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers), encoding="utf-8")
            log = self.folder / f"callers-{server or 'default'}.log"
            proc = await asyncio.create_subprocess_exec(
                *("sipp", target, "-sf", str(scenario), "-inf", str(inf), "-s", "12345"),
                *("-i", "127.0.0.1", "-p", str(free_udp_port()), "-mp", str(media_port())),
                # calls per minute: -rp 60 s takes a fractional rate as sipp's -r alone would not
                *("-r", f"{per_server:g}", "-rp", "60000", "-m", str(count), "-l", "10000"),
                # a call waiting 60 s for an answer (or a reply to its BYE) is given up: sipp ends
                *("-nostdin", "-timeout", f"{int(length_s + hold_s[1] + 180)}s", "-recv_timeout", "60000"),
                *("-trace_logs", "-log_file", str(log), "-trace_err", "-error_file", str(log.with_suffix(".err"))),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            self.procs.append(proc)
            runs.append((server, log, proc))
        errors: dict[int, bytes] = {}
        try:
            for _, _, proc in runs:
                _, errors[id(proc)] = await proc.communicate()
        finally:  # cut short (the bench's wait ran out): what sipp logged so far is still counted
            self._count_steady(runs, errors)

    def _count_steady(self, runs: list[tuple[str, Path, asyncio.subprocess.Process]], errors: dict[int, bytes]) -> None:
        for server, log, proc in runs:
            err = errors.get(id(proc), b"")
            placed: list[str] = []
            answered: set[str] = set()
            with contextlib.suppress(OSError):
                for line in log.read_text(errors="replace").splitlines():
                    words = line.split()
                    if len(words) >= 2 and words[-2] == "placed":
                        placed.append(words[-1])
                    elif len(words) >= 2 and words[-2] == "answered":
                        answered.add(words[-1])
            why = " ".join(err.decode(errors="replace").split())[-160:] or f"no answer (sipp exit {proc.returncode})"
            if proc.returncode is None:
                why = "no answer before the bench stopped waiting (sipp still running)"
            for number in placed:
                ok = number in answered
                self.calls.append(Call(number, 0.0, 0.0, server, ok, proc.returncode, "" if ok else why))

    async def close(self) -> None:
        for proc in [*self.procs, *([self.phone] if self.phone else [])]:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGKILL)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.wait(), 5)


async def kill_asterisk(settings: Any) -> float:
    """kill -9 of the sandbox's Asterisk (no hang-up, no event: its connections just drop), then
    started again as an operator would; returns the seconds until it answers ARI."""
    from hotline import sandbox
    from hotline.errors import CommandError

    started = time.monotonic()
    pid = sandbox.pid_alive(sandbox.paths(settings))
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    await asyncio.to_thread(sandbox.stop, settings)  # what the crash left mounted
    for _ in range(40):  # its sockets may outlive the process a moment; `up` refuses busy ports
        try:
            sandbox.check_ports(settings)
            break
        except CommandError:
            await asyncio.sleep(0.25)
    await asyncio.to_thread(sandbox.up, settings)
    return round(time.monotonic() - started, 2)


async def stored_calls(url: str) -> list[tuple[str, Any, dict[str, Any]]]:
    from sqlalchemy import select

    from hotline.storage import Interaction, make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Interaction.caller, Interaction.ended_at, Interaction.data).where(Interaction.channel == "voice")
            )
            return [(str(c or ""), e, dict(d or {})) for c, e, d in rows]
    finally:
        await engine.dispose()


def account(calls: list[Call], stored: list[tuple[str, Any, dict[str, Any]]], prefix: str) -> dict[str, Any]:
    """Every call Asterisk answered: one interaction, ended. Returns the figures and the losses."""
    losses: list[str] = []
    by_number: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    callbacks: list[dict[str, Any]] = []
    for caller, ended, data in stored:
        head = (data.get("offers") or [{}])[0]
        if head.get("event") == "missed_call_callback":
            # 漏接回拨: the engine calling back a citizen who hung up while waiting is a call of
            # its own for the same number, not the citizen's call stored twice.
            callbacks.append(data)
            continue
        by_number.setdefault(caller, []).append((ended, data))
    lost = doubled = 0
    reached = [c for c in calls if c.answered]
    for c in reached:
        rows = by_number.get(c.number, [])
        if not rows:
            losses.append(f"call from {c.number}: answered by Asterisk but no interaction stored")
            lost += 1
        elif len(rows) > 1:
            losses.append(f"call from {c.number}: {len(rows)} interactions stored")
            doubled += 1
        elif rows[0][0] is None:
            d = rows[0][1]
            losses.append(
                f"call from {c.number}: its interaction never ended (state {d.get('state')}, seat {d.get('seat')},"
                f" answered {bool(d.get('answered'))}, the caller's sipp ended {c.rc})"
            )
            lost += 1
    known = {c.number for c in calls}
    for number in sorted(n for n in by_number if n.startswith(prefix) and n not in known):
        losses.append(f"an interaction from {number}, a number no citizen of this run called from")
        doubled += 1
    # Per server dialed: placed, reached, answered by a seat, and the server the records name.
    by_server: dict[str, dict[str, Any]] = {}
    for c in calls:
        row = by_server.setdefault(c.server or "default", {"placed": 0, "reached": 0, "answered": 0, "stored_as": {}})
        row["placed"] += 1
        row["reached"] += c.answered
        for _, d in by_number.get(c.number, []):
            row["answered"] += bool(d.get("answered"))
            named = str(d.get("server") or "default")
            row["stored_as"][named] = row["stored_as"].get(named, 0) + 1
    queued = [d for rows in by_number.values() for _, d in rows if d.get("enqueued") is not None]
    within = sum(1 for d in queued if d.get("answered") and d.get("wait_s") is not None and d["wait_s"] <= 15.0)
    waits = sorted(float(d["wait_s"]) for d in queued if d.get("wait_s") is not None)
    return {
        "calls": len(calls),
        "calls_reached": len(reached),
        "calls_unreached": len(calls) - len(reached),
        "calls_queued": len(queued),
        "calls_answered": sum(1 for d in queued if d.get("answered")),
        "sl15": round(within / len(queued), 4) if queued else None,
        "voice_wait_p50_s": round(waits[len(waits) // 2], 2) if waits else None,
        "missed_call_callbacks": len(callbacks),
        "calls_by_server": by_server,
        "calls_unreached_why": dict(Counter(c.why for c in calls if not c.answered).most_common(5)),
        "voice_lost": lost,
        "voice_doubled": doubled,
        "voice_losses": losses,
    }


def _tail(path: Path, n: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""
