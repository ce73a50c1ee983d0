"""Runs ``hotline bench voice``: the Asterisk it needs, each planned run (seats, the engine or
app_queue, the callers) one after the other, the capacity ramp, and the summary.

sipp plays both sides on loopback: one caller sipp per run and one UAS for all seats (static
PJSIP contacts ``sip:seatbenchNNN@127.0.0.1:PORT``). Each phase runs once through this engine
(AcdService + VoiceService in a process of its own, ``bench.voice.engine``, built like the
integration harness and run like ``hotline run``: the bench's own work never shares its loop) and once
through ``Queue(bench)`` with the same seats as members. Every number comes from the sipp
message traces (both sipps share Asterisk's clock), except the CPU times (``/proc``) and the
announcements (the engine's records, Asterisk's log).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.voice import asterisk as ast
from bench.voice import sipp
from bench.voice.capacity import ramp
from bench.voice.engine import EngineProcess
from bench.voice.measure import cpu_seconds, engine_announcements, loss_lines, per_call_ms
from bench.voice.plan import (
    LAUNCH_RATE,
    Plan,
    caller_numbers,
    cap_rates,
    check,
    plans,
    rtp_sessions_needed,
    seat_ids,
    steady_seats,
)
from bench.voice.summary import summary
from bench.voice.trace import doubled, dropped, parse, phase1_metrics, phase2_metrics, read_trace
from hotline import aio
from hotline.errors import CommandError

_HIGH_WATER = re.compile(r"Taskprocessor '([^']+?)(?:-[0-9a-f]{8})?' queue reached \d+ scheduled tasks")


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
    if args.after_restart and a.external:
        raise CommandError("--after-restart restarts the sandbox Asterisk: not with asterisk.external")
    if not a.external and sandbox.ari_info(settings, timeout=2) is None:
        sandbox.up(settings)  # the benchmark needs its Asterisk; bring the sandbox up like `sandbox up`
    if sandbox.ari_info(settings, timeout=2) is None:
        raise CommandError(f"Asterisk ARI at {a.ari_url} does not answer: run 'hotline sandbox up'")
    todo = plans(args, phases, engines, rates)
    load_before = os.getloadavg()
    if args.keep:
        work = Path(args.keep)
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--keep {args.keep}: cannot create the folder ({exc.strerror})") from None
    else:
        work = Path(tempfile.mkdtemp(prefix="hotline-bench-voice-"))
    try:
        result = aio.run(_run(args, settings, todo, work, phases, engines, rates), settings.event_loop)
    except BaseException:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        raise
    if args.keep or result["losses"]:
        result["run_dir"] = str(work)  # the traces of what was lost stay for a look
    else:
        shutil.rmtree(work, ignore_errors=True)
    # Other work on the machine shows in the tails: say how busy it was.
    result["machine"]["load_avg_1m"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    return result


async def _run(
    args: argparse.Namespace,
    settings: Any,
    todo: list[Plan],
    work: Path,
    phases: list[str],
    engines: list[str],
    rates: list[float],
) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    seats = max(
        [p.seats for p in todo] + ([steady_seats(args, max(cap_rates(args.cap_rates)))] if "capacity" in phases else [])
    )
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    bench = Bench(args, settings, work, progress)
    results: dict[str, dict[str, Any]] = {}
    losses: list[str] = []
    capacity = None
    await bench.open(seats)
    try:
        with progress:
            for plan in todo:
                metrics, lines = await bench.run_plan(plan)
                results[f"{plan.label}/{plan.engine}"] = metrics
                losses += lines
            if "capacity" in phases:
                capacity, lines = await ramp(args, engines, bench.run_plan)
                losses += lines
    finally:
        await bench.close()
    return summary(args, results, engines, rates, capacity, losses)


class Bench:
    """The bench's hold on Asterisk (AMI, its configuration folder and log) and one run of a
    plan: seats, the engine or app_queue, the callers, then the measures."""

    def __init__(self, args: argparse.Namespace, settings: Any, work: Path, progress: Any) -> None:
        from acd.voice.provision import config_dir
        from hotline import sandbox

        self.args = args
        self.settings = settings
        self.work = work
        self.progress = progress
        etc = config_dir(settings)
        if etc is None or not etc.is_dir():
            raise CommandError(
                "the benchmark writes pjsip_bench.conf into Asterisk's configuration folder: use the sandbox, "
                "or set HOTLINE_ASTERISK__CONFIG_DIR for an external Asterisk"
            )
        self.etc = etc
        self.log = None if settings.asterisk.external else sandbox.paths(settings).log
        self.ami: Any = None
        self.ports = {"engine": sipp.free_udp_port(), "app_queue": sipp.free_udp_port(), "seats": sipp.free_udp_port()}

    async def open(self, seats: int) -> None:
        await self._connect_ami()
        await ast.configure(self.ami, self.etc, ast.render_pjsip(self.ports, seats), ast.EXTENSIONS)
        await ast.settle(self.ami)

    async def _connect_ami(self) -> None:
        from acd.ami import Ami, AmiError

        a = self.settings.asterisk
        self.ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password, timeout=a.request_timeout)
        try:
            await self.ami.connect()
        except AmiError as exc:
            raise CommandError(f"AMI at {a.host}:{a.ami_port}: {exc}") from None
        # The bench only sends actions: AMI's event stream (every channel's every change) would
        # cost this process a tenth of its loop at 20 calls/s.
        with contextlib.suppress(AmiError):
            await self.ami.action({"Action": "Events", "EventMask": "off"}, as_list=False)

    async def close(self) -> None:
        idle = "; hotline bench voice: not running\n"
        with contextlib.suppress(Exception):
            await ast.configure(self.ami, self.etc, idle, idle)
            await ast.set_queue_options(self.ami, self.etc, ast.NO_QUEUE_OPTIONS)
        await self.ami.close()

    async def restart_asterisk(self) -> None:
        """The sandbox Asterisk stopped and started again, the bench's files already in place."""
        from hotline import sandbox

        await self.ami.close()
        await asyncio.to_thread(sandbox.stop, self.settings)
        # Its listening sockets may outlive the process by a moment; `up` refuses busy ports.
        for _ in range(40):
            try:
                sandbox.check_ports(self.settings)
                break
            except CommandError:
                await asyncio.sleep(0.25)
        await asyncio.to_thread(sandbox.up, self.settings)
        await self._connect_ami()

    def _asterisk_pid(self) -> int | None:
        if self.settings.asterisk.external:
            return None
        from hotline import sandbox

        return sandbox.pid_alive(sandbox.paths(self.settings))

    def _log_size(self) -> int:
        try:
            return self.log.stat().st_size if self.log is not None else 0
        except OSError:
            return 0

    def _log_since(self, offset: int) -> str:
        if self.log is None:
            return ""
        with contextlib.suppress(OSError), self.log.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
        return ""

    async def run_plan(self, plan: Plan) -> tuple[dict[str, Any], list[str]]:
        """One run; its figures and the lines naming what it lost."""
        args = self.args
        run_dir = self.work / f"{plan.label.replace('@', '-')}-{plan.engine}"
        run_dir.mkdir(parents=True, exist_ok=True)
        numbers = caller_numbers(plan)
        (run_dir / "caller.xml").write_text(
            sipp.fill("caller.xml", {"PATIENCE_MS": plan.patience_ms, "RING_WAIT_MS": plan.answer_ms[1] + 1000}),
            encoding="utf-8",
        )
        tree = sipp.seat_tree(plan.answer_ms, plan.talk_ms)
        (run_dir / "seat.xml").write_text(sipp.fill("seat.xml", {"TREE": tree}), encoding="utf-8")
        inf = ["SEQUENTIAL"] + [f"{num};{ms}" for num, ms in zip(numbers, plan.starts_ms, strict=True)]
        (run_dir / "calls.csv").write_text("\n".join(inf) + "\n")
        total = plan.starts_ms[-1] / 1000 + (plan.answer_ms[1] + plan.talk_ms[1]) / 1000
        task = self.progress.add_task(f"{plan.label} {plan.engine}", total=total, note="")
        if plan.restart:
            self.progress.update(task, note="restarting Asterisk")
            await self.restart_asterisk()
        if plan.engine == "app_queue":
            if plan.announce_every_s and not ast.queue_options_included(self.etc):
                raise CommandError(
                    "Asterisk's queues.conf does not include the bench's queue options (queues_bench.conf): "
                    "run 'hotline sandbox up' to install the current configuration"
                )
            await ast.set_queue_options(
                self.ami, self.etc, ast.render_queue_waiting(plan.announce_every_s, self.settings.asterisk.sounds_dir)
            )
        seat_argv = ["-sf", str(run_dir / "seat.xml"), "-i", "127.0.0.1", "-p", str(self.ports["seats"])]
        seat_argv += ["-nostdin", "-l", "5000", "-trace_msg", "-message_file", str(run_dir / "seat_messages.log")]
        seat_proc = await sipp.start(
            seat_argv,
            run_dir / "seat_out.txt",
            args.load_nice,
        )
        engine: EngineProcess | None = None
        engine_exit = None
        cpu: dict[str, float | None] = {}
        log_from = self._log_size()
        try:
            if plan.engine == "engine":
                engine = await EngineProcess.start(
                    plan.seats, self.ports["seats"], run_dir, not args.no_records, plan.announce_every_s
                )
            else:
                for seat in seat_ids(plan.seats):
                    await self.ami.action(
                        {"Action": "QueueAdd", "Queue": "bench", "Interface": f"PJSIP/seat{seat}"}, as_list=False
                    )
            asterisk_pid = self._asterisk_pid()
            cpu["engine0"] = cpu_seconds(engine.pid if engine else None)
            cpu["asterisk0"] = cpu_seconds(asterisk_pid)
            await self._callers(plan, run_dir, task)
            cpu["engine1"] = cpu_seconds(engine.pid if engine else None)
            cpu["asterisk1"] = cpu_seconds(asterisk_pid)
        finally:
            if engine is not None:
                engine_exit = await engine.stop()
            elif plan.engine == "app_queue":
                for seat in seat_ids(plan.seats):
                    with contextlib.suppress(Exception):
                        await self.ami.action(
                            {"Action": "QueueRemove", "Queue": "bench", "Interface": f"PJSIP/seat{seat}"},
                            as_list=False,
                        )
            if seat_proc.returncode is None:
                seat_proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(seat_proc.wait(), 10)
            if seat_proc.returncode is None:
                seat_proc.kill()
        metrics, lines = self._measure(plan, run_dir, numbers, cpu, self._log_since(log_from))
        if engine_exit is not None:
            metrics["engine_exit"] = engine_exit
            lines.append(f"voice {plan.label} engine: the engine process ended by itself (exit {engine_exit})")
        self.progress.update(task, completed=total, note=_note(metrics))
        return metrics, lines

    async def _callers(self, plan: Plan, run_dir: Path, task: Any) -> None:
        n = len(plan.starts_ms)
        duration = plan.starts_ms[-1] / 1000 + (plan.patience_ms + plan.talk_ms[1] + plan.answer_ms[1]) / 1000
        argv = [f"127.0.0.1:{self.settings.asterisk.sip_port}", "-sf", str(run_dir / "caller.xml")]
        argv += ["-inf", str(run_dir / "calls.csv"), "-i", "127.0.0.1", "-p", str(self.ports[plan.engine])]
        argv += [
            "-m",
            str(n),
            "-l",
            str(n + 10),
            "-r",
            str(LAUNCH_RATE),
            "-nostdin",
            "-timeout",
            f"{int(duration + 120)}s",
        ]
        argv += ["-trace_msg", "-message_file", str(run_dir / "caller_messages.log")]
        caller = await sipp.start(
            argv,
            run_dir / "caller_out.txt",
            self.args.load_nice,
        )
        started = time.monotonic()
        while caller.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caller.wait(), 1.0)
            self.progress.update(task, completed=time.monotonic() - started)
            if time.monotonic() - started > duration + 180:
                # An overloaded run can leave sipp waiting past its own -timeout: end it;
                # the calls it never finished count as failed.
                caller.terminate()
                await caller.wait()
        await asyncio.sleep(1.0)  # the seats' last BYE transactions

    def _measure(
        self, plan: Plan, run_dir: Path, numbers: list[str], cpu: dict[str, float | None], log: str
    ) -> tuple[dict[str, Any], list[str]]:
        out = (run_dir / "caller_out.txt").read_text(errors="replace")
        failed = [int(x) for x in re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)]
        tr = parse(read_trace(run_dir / "caller_messages.log"), read_trace(run_dir / "seat_messages.log"))
        if not tr.callers:
            raise CommandError(f"no call reached Asterisk in {plan.label} {plan.engine}; see {run_dir}/caller_out.txt")
        sipp_failed = failed[-1] if failed else 0
        metrics = phase2_metrics(tr, sipp_failed) if plan.phase == "2" else phase1_metrics(tr, sipp_failed)
        lost = dropped(tr, numbers, patience_is_choice=plan.phase == "2")
        twice = doubled(tr)
        # Failed: the planned callers never connected to a seat (phase 2: those not abandoned
        # either). sipp's own count also holds calls that reached their seat and then met a
        # message out of the scenario's order (a BYE overtaking an ACK under load): apart.
        connected = sum(1 for n in numbers if (c := tr.callers.get(n)) is not None and c.reached)
        metrics["failed"] = len(lost) if plan.phase == "2" else len(numbers) - connected
        metrics["sipp_failed"] = sipp_failed
        metrics["lost"] = len(lost)
        metrics["untold"] = sum(1 for c in tr.callers.values() if c.untold is not None)
        metrics["doubled"] = len(twice)
        metrics["seats"] = plan.seats
        routed = sum(1 for c in tr.callers.values() if c.reached)
        metrics["engine_cpu_ms_per_call"] = per_call_ms(cpu.get("engine0"), cpu.get("engine1"), routed)
        metrics["asterisk_cpu_ms_per_call"] = per_call_ms(cpu.get("asterisk0"), cpu.get("asterisk1"), routed)
        overload: dict[str, int] = {}
        for name in _HIGH_WATER.findall(log):
            overload[name] = overload.get(name, 0) + 1
        # Each one stopped PJSIP taking new calls until that queue drained (the global overload alert).
        metrics["asterisk_overload"] = overload
        if plan.phase == "2":
            if plan.engine == "engine":
                metrics["announcements"] = engine_announcements(run_dir / "records.db")
            elif self.log is not None:
                metrics["announcements"] = ast.app_queue_announcements(log)
        where = f"{plan.label} {plan.engine}" + (" (after an Asterisk restart)" if plan.restart else "")
        # In the capacity phase failed calls are the measure: only a doubled caller is a loss.
        return metrics, loss_lines(where, {} if plan.phase == "capacity" else lost, twice)


def _note(r: dict[str, Any]) -> str:
    lost = f" lost {r['lost']}" if r.get("lost") else ""
    if "sl15" in r:
        return f"sl15 {r['sl15']} gap p50 {r['reuse_gap_p50_ms']} ms abandons {r['abandons']}{lost}"
    return f"p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms failed {r['failed']}{lost}"
