"""Runs ``hotline bench voice``: the Asterisk it needs, each planned run (seats, the engine or
app_queue, the callers) one after the other, and the summary.

sipp plays both sides on loopback: one caller sipp per run and one UAS for all seats (static
PJSIP contacts ``sip:seatbenchNNN@127.0.0.1:PORT``). Each phase runs once through this engine
(AcdService + VoiceService in a process of its own, ``bench.voice.engine``, built like the
integration harness and run like ``hotline run``: the bench's own work never shares its loop) and once
through ``Queue(bench)`` with the same seats as members. Every number comes from the sipp
message traces (both sipps share Asterisk's clock).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.voice import sipp
from bench.voice.asterisk import EXTENSIONS, configure, render_pjsip
from bench.voice.plan import ENGINES, LAUNCH_RATE, Plan, caller_numbers, check, plans, rtp_sessions_needed, seat_ids
from bench.voice.sipp import fill, free_udp_port, seat_tree
from bench.voice.trace import parse, phase1_metrics, phase2_metrics, read_trace
from hotline import aio
from hotline.commands.bench import machine
from hotline.errors import CommandError

CHECKOUT = Path(__file__).resolve().parents[2]  # the folder holding bench/, acd/, hotline/


def run(args: argparse.Namespace) -> dict[str, Any]:
    phases, engines, rates = check(args)
    if shutil.which("sipp") is None:
        raise CommandError("sipp is not installed: apt-get install sip-tester (make test installs it)")
    from hotline import sandbox
    from hotline.settings import load_settings

    settings = load_settings()
    a = settings.asterisk
    ports = (a.rtp_end - a.rtp_start + 1) // 2  # one even port (RTP) and the next (RTCP) per session
    need = rtp_sessions_needed(args, phases, rates)
    if need > ports:
        # Past the range Asterisk refuses the calls ("couldn't allocate a port for RTP"): both
        # engines would fail them, and the numbers would measure the range, not the routing.
        raise CommandError(
            f"these runs hold about {need} RTP sessions at once, but Asterisk's RTP ports "
            f"{a.rtp_start}-{a.rtp_end} give {ports}: widen asterisk.rtp_end (and restart the sandbox) "
            "or lower --rates"
        )
    if not settings.asterisk.external and sandbox.ari_info(settings, timeout=2) is None:
        sandbox.up(settings)  # the benchmark needs its Asterisk; bring the sandbox up like `sandbox up`
    if sandbox.ari_info(settings, timeout=2) is None:
        raise CommandError(f"Asterisk ARI at {settings.asterisk.ari_url} does not answer: run 'hotline sandbox up'")
    todo = plans(args, phases, engines, rates)
    load_before = os.getloadavg()
    if args.keep:
        folder = Path(args.keep)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--keep {args.keep}: cannot create the folder ({exc.strerror})") from None
        result = aio.run(_run(args, settings, todo, folder, engines, rates), settings.event_loop)
    else:
        with tempfile.TemporaryDirectory(prefix="hotline-bench-voice-") as tmp:
            result = aio.run(_run(args, settings, todo, Path(tmp), engines, rates), settings.event_loop)
    # Other work on the machine shows in the tails: say how busy it was.
    result["machine"]["load_avg_1m"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    return result


async def _run(
    args: argparse.Namespace, settings: Any, todo: list[Plan], work: Path, engines: list[str], rates: list[float]
) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from acd.ami import Ami, AmiError
    from acd.voice.provision import config_dir

    etc = config_dir(settings)
    if etc is None or not etc.is_dir():
        raise CommandError(
            "the benchmark writes pjsip_bench.conf into Asterisk's configuration folder: use the sandbox, "
            "or set HOTLINE_ASTERISK__CONFIG_DIR for an external Asterisk"
        )
    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password, timeout=a.request_timeout)
    try:
        await ami.connect()
    except AmiError as exc:
        raise CommandError(f"AMI at {a.host}:{a.ami_port}: {exc}") from None
    # The bench only sends actions: AMI's event stream (every channel's every change) would
    # cost this process, which also runs the engine, a tenth of its loop at 20 calls/s.
    with contextlib.suppress(AmiError):
        await ami.action({"Action": "Events", "EventMask": "off"}, as_list=False)
    ports = {"engine": free_udp_port(), "app_queue": free_udp_port(), "seats": free_udp_port()}
    seats = max(p.seats for p in todo)
    results: dict[str, dict[str, Any]] = {}
    console = Console(stderr=True)
    try:
        await configure(ami, etc, render_pjsip(ports, seats), EXTENSIONS)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            for plan in todo:
                total = plan.starts_ms[-1] / 1000 + (plan.answer_ms[1] + plan.talk_ms[1]) / 1000
                task = progress.add_task(f"{plan.label} {plan.engine}", total=total, note="")
                results[f"{plan.label}/{plan.engine}"] = await _one(
                    plan, settings, ami, ports, work, progress, task, not args.no_records, args.load_nice
                )
                progress.update(task, completed=total, note=_note(results[f"{plan.label}/{plan.engine}"]))
    finally:
        with contextlib.suppress(Exception):
            await configure(ami, etc, "; hotline bench voice: not running\n", "; hotline bench voice: not running\n")
        await ami.close()
    return summary(args, results, engines, rates)


def _note(r: dict[str, Any]) -> str:
    if "sl15" in r:
        return f"sl15 {r['sl15']} gap p50 {r['reuse_gap_p50_ms']} ms abandons {r['abandons']}"
    return f"p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms failed {r['failed']}"


async def _one(
    plan: Plan,
    settings: Any,
    ami: Any,
    ports: dict[str, int],
    work: Path,
    progress: Any,
    task: Any,
    records: bool = True,
    nice: int = 0,
) -> dict[str, Any]:
    run_dir = work / f"{plan.label.replace('@', '-')}-{plan.engine}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "caller.xml").write_text(
        fill("caller.xml", {"PATIENCE_MS": plan.patience_ms, "RING_WAIT_MS": plan.answer_ms[1] + 1000}),
        encoding="utf-8",
    )
    tree = seat_tree(plan.answer_ms, plan.talk_ms)
    (run_dir / "seat.xml").write_text(fill("seat.xml", {"TREE": tree}), encoding="utf-8")
    n = len(plan.starts_ms)
    inf = ["SEQUENTIAL"] + [f"{num};{ms}" for num, ms in zip(caller_numbers(plan), plan.starts_ms, strict=True)]
    (run_dir / "calls.csv").write_text("\n".join(inf) + "\n")
    seat_proc = await sipp.start(
        [
            "-sf",
            str(run_dir / "seat.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(ports["seats"]),
            "-nostdin",
            "-l",
            "5000",
            "-trace_msg",
            "-message_file",
            str(run_dir / "seat_messages.log"),
        ],
        run_dir / "seat_out.txt",
        nice,
    )
    stack = None
    try:
        if plan.engine == "engine":
            stack = await EngineProcess.start(plan.seats, ports["seats"], run_dir, records)
        else:
            for seat in seat_ids(plan.seats):
                await ami.action(
                    {"Action": "QueueAdd", "Queue": "bench", "Interface": f"PJSIP/seat{seat}"}, as_list=False
                )
        duration = plan.starts_ms[-1] / 1000 + (plan.patience_ms + plan.talk_ms[1] + plan.answer_ms[1]) / 1000
        caller = await sipp.start(
            [
                f"127.0.0.1:{settings.asterisk.sip_port}",
                "-sf",
                str(run_dir / "caller.xml"),
                "-inf",
                str(run_dir / "calls.csv"),
                "-i",
                "127.0.0.1",
                "-p",
                str(ports[plan.engine]),
                "-m",
                str(n),
                "-l",
                str(n + 10),
                "-r",
                str(LAUNCH_RATE),
                "-nostdin",
                "-timeout",
                f"{int(duration + 120)}s",
                "-trace_msg",
                "-message_file",
                str(run_dir / "caller_messages.log"),
            ],
            run_dir / "caller_out.txt",
            nice,
        )
        started = time.monotonic()
        while caller.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caller.wait(), 1.0)
            progress.update(task, completed=time.monotonic() - started)
            if time.monotonic() - started > duration + 180:
                # An overloaded run can leave sipp waiting past its own -timeout: end it;
                # the calls it never finished count as failed.
                caller.terminate()
                await caller.wait()
        await asyncio.sleep(1.0)  # the seats' last BYE transactions
    finally:
        if stack is not None:
            await stack.stop()
        elif plan.engine == "app_queue":
            for seat in seat_ids(plan.seats):
                with contextlib.suppress(Exception):
                    await ami.action(
                        {"Action": "QueueRemove", "Queue": "bench", "Interface": f"PJSIP/seat{seat}"}, as_list=False
                    )
        if seat_proc.returncode is None:
            seat_proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(seat_proc.wait(), 10)
        if seat_proc.returncode is None:
            seat_proc.kill()
    out = (run_dir / "caller_out.txt").read_text(errors="replace")
    failed = [int(x) for x in re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)]
    tr = parse(read_trace(run_dir / "caller_messages.log"), read_trace(run_dir / "seat_messages.log"))
    if not tr.callers:
        raise CommandError(f"no call reached Asterisk in {plan.label} {plan.engine}; see {run_dir}/caller_out.txt")
    metrics = (
        phase1_metrics(tr, failed[-1] if failed else 0)
        if plan.label.startswith("p1")
        else (phase2_metrics(tr, failed[-1] if failed else 0))
    )
    metrics["seats"] = plan.seats
    return metrics


class EngineProcess:
    """The engine of a run in a process of its own (``python -m bench.voice.engine``), as
    ``hotline run`` would have it: the bench's progress bar, its sipp supervision and its trace
    parsing never share the engine's event loop or its interpreter lock."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, seats: int, seat_port: int, run_dir: Path, records: bool = True) -> EngineProcess:
        log = run_dir / "engine.log"
        argv = [sys.executable, "-P", "-m", "bench.voice.engine", "--seats", str(seats), "--seat-port", str(seat_port)]
        argv += ["--run-dir", str(run_dir)] + ([] if records else ["--no-records"])
        # The engine runs this checkout's code, whatever the current folder: `-m` would put the
        # current folder first on the path (-P keeps it off), and another checkout there would be
        # measured instead. The current folder stays: the settings' relative paths start there.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))}
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err, env=env
            )
        engine = cls(proc)
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await engine.stop()
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise CommandError("the benchmark's engine did not start: " + (" | ".join(tail) or "no output"))
        return engine

    async def stop(self) -> None:
        """Close its stdin: it stops like ``hotline run`` on a signal (records flushed)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def summary(
    args: argparse.Namespace, results: dict[str, dict[str, Any]], engines: list[str], rates: list[float]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keys = ("p50_ms", "p99_ms", "failed", "sl15", "reuse_gap_p50_ms")
    first = f"p1@{rates[0]:g}"
    for engine in ENGINES:
        # the first rate's runs (one, or --repeat): the median of their p50s and p99s
        runs = [
            r
            for label, r in results.items()
            if label.split("#")[0].split("/")[0] == first and label.endswith(f"/{engine}")
        ]
        p1: dict[str, Any] = {}
        if runs:
            p1 = {
                "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
                "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
                "failed": sum(r["failed"] for r in runs),
            }
        p2 = results.get(f"p2/{engine}", {})
        out[engine] = {k: (p1.get(k) if k in ("p50_ms", "p99_ms", "failed") else p2.get(k)) for k in keys}
    e, q = out["engine"]["p99_ms"], out["app_queue"]["p99_ms"]
    out["p99_ratio"] = round(e / q, 2) if e is not None and q else None
    if args.repeat > 1:  # each pair's own ratio, to see the spread
        out["p99_ratios"] = [
            round(results[f"{first}#{r + 1}/engine"]["p99_ms"] / results[f"{first}#{r + 1}/app_queue"]["p99_ms"], 2)
            for r in range(args.repeat)
            if f"{first}#{r + 1}/engine" in results and f"{first}#{r + 1}/app_queue" in results
        ]
    out["machine"] = machine()
    out["phase1"] = {label: r for label, r in results.items() if label.startswith("p1")}
    out["phase2"] = {label: r for label, r in results.items() if label.startswith("p2")}
    hold2 = (args.answer_min + args.answer_max) / 2 + (args.talk2_min + args.talk2_max) / 2
    out["params"] = {
        "rates": rates,
        "phase1_seconds": args.phase1_seconds,
        "repeat": args.repeat,
        "seats1": args.seats1,
        "answer_s": [args.answer_min, args.answer_max],
        "talk1_s": args.talk1,
        "phase2_minutes": args.phase2_minutes,
        "seats2": args.seats2,
        "talk2_s": [args.talk2_min, args.talk2_max],
        "load": args.load,
        "arrivals_per_s": round(args.load * args.seats2 / hold2, 4),
        "patience_s": args.patience,
        "sl_target_s": 15.0,
        "sl_formula": "answered by a seat within 15 s of the INVITE / all calls (abandons included)",
        "engines": engines,
        "engine_records": not args.no_records,
        "load_nice": args.load_nice,
        "seed": args.seed,
    }
    return out
