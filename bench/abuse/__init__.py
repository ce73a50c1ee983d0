"""``hotline bench abuse``: the engine holds the line while attackers on loopback try every attack
of the hold-the-line issue at once.

Three processes besides this one: the engine (a real ``hotline run --no-asterisk`` of this
checkout, fresh data folder, default limits), the legitimate load (``legit.py``: seats, web-chat
citizens, WeChat, a shift manager) and the attackers (``attackers.py``). A quiet phase (legitimate
load only) is followed by an attack phase (the same load plus every attack), ``--rounds`` times.

Measured: offer delay p99 (citizen's message acknowledged -> the seat's offer) quiet and under
attack, the engine's resident memory before the first attack and at the end, its CPU per phase,
every attack attempt and what became of it, every legitimate request refused. A refused citizen
or seat, and an attack that got through or was never answered, are listed under ``losses``: the
command then exits non-zero after printing the JSON. Targets (issue 18): p99 under attack
<= 1.5 x quiet, memory growth <= 50 MiB, 0 legitimate refusals, every attack refused.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from bench.abuse import attackers, engine, legit
from bench.abuse.tally import merge
from hotline.commands.bench import machine
from hotline.errors import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--seats", type=int, default=200, help="seats logged in and taking chats (default 200)")
    a("--quiet", type=float, default=60.0, help="seconds of each quiet phase (default 60)")
    a("--attack", type=float, default=60.0, help="seconds of each attack phase (default 60)")
    a("--rounds", type=int, default=1, help="quiet + attack rounds, alternating (default 1)")
    a("--warmup", type=float, default=10.0, help="seconds of unmeasured load before the first phase")
    a("--visitor-rate", type=float, default=4.0, help="web chats opened per second (default 4)")
    a("--visitor-messages", type=int, default=3, help="messages each citizen writes (default 3)")
    a("--message-interval", type=float, default=3.0, help="seconds between a citizen's messages")
    a("--hold", type=float, default=8.0, help="seconds a seat keeps a chat before ending it")
    a("--wechat-rate", type=float, default=1.0, help="legitimate WeChat pushes per second")
    a("--wechat-citizens", type=int, default=40, help="WeChat users the pushes come from")
    a("--staffing-every", type=float, default=5.0, help="seconds between the manager's staffing requests")
    a("--login-every", type=float, default=3.0, help="seconds between seats logging in again")
    a("--attack-scale", type=float, default=1.0, help="multiply every attack's rate (attackers.RATES)")
    a("--surge-seats", type=int, default=2000, help="cloud seats in the stolen manager's surge")
    kinds = sorted(attackers.RATES)
    a("--skip", action="append", default=[], choices=kinds, help="leave out an attack kind (repeatable)")
    a("--only", action="append", default=[], choices=kinds, help="only this attack kind (repeatable)")
    a("--drain", type=float, default=45.0, help="seconds a phase's chats may take to finish after it")
    a("--database-url", default="", help="PostgreSQL for the engine (default: a fresh SQLite file)")
    a("--keep", action="store_true", help="keep the run folder (engine log, database)")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 2)


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


class Run:
    """This process's side: the phases, the engine's memory and CPU, the results."""

    def __init__(self, args: argparse.Namespace, eng: engine.Engine, progress: Progress) -> None:
        self.args, self.engine, self.progress = args, eng, progress
        self.losses: list[str] = []
        self.rss_samples: list[float] = []
        self.cpu: dict[str, float] = {}
        self.rss_phases: dict[str, tuple[float, float]] = {}  # phase -> RSS at its start and end, MiB

    def wait(self, conns: dict[str, Any], want: str, seconds: float, label: str) -> dict[str, Any]:
        """Each pipe's next message (its first item must be ``want``), with a progress bar."""
        task = self.progress.add_task(label, total=seconds)
        start = time.monotonic()
        got: dict[str, Any] = {}
        while len(got) < len(conns):
            for name, conn in conns.items():
                if name not in got and conn.poll(0.25):
                    msg = conn.recv()
                    if msg[0] == "error":
                        raise CommandError(f"abuse bench: the {name} process failed: {msg[1]}")
                    if msg[0] != want:
                        raise CommandError(f"abuse bench: {name} said {msg[0]!r}, expected {want!r}")
                    got[name] = msg
            if not self.engine.alive():
                raise CommandError("abuse bench: the engine process died: " + self.engine.tail())
            self.rss_samples.append(self.engine.rss_mib())
            self.progress.update(task, completed=min(seconds, time.monotonic() - start))
            if time.monotonic() - start > seconds + 600:
                raise CommandError(f"abuse bench: no answer from {sorted(set(conns) - set(got))} in time")
        self.progress.remove_task(task)
        return got

    def phase(self, name: str, seconds: float, legit_conn: Any, attack_conn: Any | None) -> dict[str, Any]:
        cpu0, rss0 = self.engine.cpu_s(), self.engine.rss_mib()
        legit_conn.send(("phase", name, seconds))
        conns = {"legit": legit_conn}
        if attack_conn is not None:
            attack_conn.send(("attack", seconds))
        got = self.wait(conns, "phase", seconds + self.args.drain, f"{name}: legitimate load")
        if attack_conn is not None:
            got.update(self.wait({"attackers": attack_conn}, "attacked", 60, f"{name}: attackers finishing"))
        self.cpu[name] = round(self.engine.cpu_s() - cpu0, 1)
        self.rss_phases[name] = (round(rss0, 1), round(self.engine.rss_mib(), 1))
        _, report, losses = got["legit"]
        self.losses += losses
        out: dict[str, Any] = {"report": report}
        if attack_conn is not None:
            _, tallies, attack_losses, problems = got["attackers"]
            self.losses += attack_losses + problems
            out["tallies"] = tallies
        return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.seats < 1 or args.rounds < 1 or min(args.quiet, args.attack) <= 0 or args.visitor_rate <= 0:
        raise CommandError("--seats and --rounds must be >= 1; --quiet, --attack and --visitor-rate > 0")
    load_start, started = uptime(), time.strftime("%Y-%m-%d %H:%M:%S %z")
    run_dir = Path(tempfile.mkdtemp(prefix="hotline-bench-abuse-"))
    eng = asyncio.run(engine.start(run_dir, args.seats, args.database_url))
    limits = engine.settings_in_force(eng.env)
    ctx = mp.get_context("spawn")
    capture = ctx.Queue(maxsize=10_000)
    legit_parent, legit_child = ctx.Pipe()
    attack_parent, attack_child = ctx.Pipe()
    plan = {
        "base": eng.base,
        "seats": args.seats,
        "visitor_rate": args.visitor_rate,
        "visitor_messages": args.visitor_messages,
        "message_interval_s": args.message_interval,
        "hold_s": args.hold,
        "wechat_rate": args.wechat_rate,
        "wechat_citizens": args.wechat_citizens,
        "staffing_every_s": args.staffing_every,
        "login_every_s": args.login_every,
        "drain_s": args.drain,
    }
    attack_plan = {
        "base": eng.base,
        "limits": limits,
        "scale": args.attack_scale,
        "surge_seats": args.surge_seats,
        "skip": args.skip,
        "only": args.only,
    }
    procs = [
        ctx.Process(target=legit.main, args=(legit_child, plan, capture), daemon=True),
        ctx.Process(target=attackers.main, args=(attack_child, attack_plan, capture), daemon=True),
    ]
    try:
        for p in procs:
            p.start()
        with Progress(console=Console(stderr=True), transient=True) as progress:
            r = Run(args, eng, progress)
            ready = r.wait({"legit": legit_parent, "attackers": attack_parent}, "ready", 300, "seats signing in")
            r.losses += ready["legit"][1]["losses"]
            if args.warmup > 0:
                r.phase("warmup", args.warmup, legit_parent, None)
            phases: dict[str, dict[str, Any]] = {}
            rss_before = None
            for n in range(1, args.rounds + 1):
                phases[f"quiet{n}"] = r.phase(f"quiet{n}", args.quiet, legit_parent, None)
                if rss_before is None:
                    rss_before = eng.rss_mib()
                phases[f"attack{n}"] = r.phase(f"attack{n}", args.attack, legit_parent, attack_parent)
            rss_end = eng.rss_mib()
            legit_parent.send(("stop",))
            attack_parent.send(("stop",))
            r.losses += r.wait({"legit": legit_parent}, "stopped", 60, "stopping")["legit"][1]
        refusals = asyncio.run(eng.refusals())
        orders = eng.work_orders()
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
        eng.stop()
    result = summary(args, r, phases, rss_before or 0.0, rss_end, limits)
    result["details"].update(
        engine_refusals=refusals,
        work_orders_created=orders,
        engine_code=eng.code,
        started_at=started,
        load_average_start=load_start,
        load_average_end=uptime(),
    )
    if args.keep or result["losses"]:
        result["run_dir"] = str(run_dir)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    return result


def summary(
    args: argparse.Namespace,
    r: Run,
    phases: dict[str, dict[str, Any]],
    rss_before: float,
    rss_end: float,
    limits: dict[str, Any],
) -> dict[str, Any]:
    def pooled(prefix: str, key: str) -> list[float]:
        return [d for k, v in phases.items() if k.startswith(prefix) for d in v["report"][key]]

    quiet, attack = pooled("quiet", "delays"), pooled("attack", "delays")
    s99_quiet, s99_attack = pct(pooled("quiet", "from_send"), 0.99), pct(pooled("attack", "from_send"), 0.99)
    s_ratio = round(s99_attack / s99_quiet, 2) if s99_quiet and s99_attack is not None else None
    tallies = merge([v["tallies"] for k, v in phases.items() if "tallies" in v])
    legit_refused = sum(1 for line in r.losses if line.startswith("legit "))  # one line per refusal
    q99, a99 = pct(quiet, 0.99), pct(attack, 0.99)
    ratio = round(a99 / q99, 2) if q99 and a99 is not None else None
    growth = round(rss_end - rss_before, 1)
    attempts = sum(t["attempts"] for t in tallies.values())
    refused = sum(t["refused"] for t in tallies.values())
    admitted = sum(t["admitted_within_limits"] for t in tallies.values())
    failed = attempts - refused - admitted
    losses = list(r.losses)
    if not quiet or not attack:
        losses.append("no offer delays measured in a quiet or an attack phase")
    return {
        "offer_p99_quiet_ms": q99,
        "offer_p99_attack_ms": a99,
        "offer_p99_ratio": ratio,
        # The same offers timed from the citizen's send: the engine often offers a chat before the
        # citizen's ack is back (the ack above is then 0), so this one also shows the storing.
        "offer_from_send_p99_quiet_ms": s99_quiet,
        "offer_from_send_p99_attack_ms": s99_attack,
        "offer_from_send_p99_ratio": s_ratio,
        "rss_growth_mib": growth,
        "attacks": attempts,
        "refused": refused,
        "admitted_within_limits": admitted,
        "attacks_not_refused": failed,
        "legit_refused": legit_refused,
        "targets": {
            # As products, not ratios: when every offer beats the citizen's ack both p99s are 0,
            # which meets the target (a ratio of 0 / 0 would not).
            "p99_ratio_le_1_5": q99 is not None and a99 is not None and a99 <= 1.5 * q99,
            "p99_from_send_ratio_le_1_5": s99_quiet is not None
            and s99_attack is not None
            and s99_attack <= 1.5 * s99_quiet,
            "rss_growth_le_50_mib": growth <= 50,
            "no_legit_refused": legit_refused == 0,
            "every_attack_refused": failed == 0,
        },
        "losses": losses,
        "details": {
            "offer_p50_quiet_ms": pct(quiet, 0.5),
            "offer_p50_attack_ms": pct(attack, 0.5),
            "offer_max_quiet_ms": pct(quiet, 1.0),
            "offer_max_attack_ms": pct(attack, 1.0),
            "offers_measured": {"quiet": len(quiet), "attack": len(attack)},
            "phases": {k: {"counts": v["report"]["counts"], **_p99s(v)} for k, v in phases.items()},
            "per_attack": tallies,
            "rss_mib": {
                "before_attack": round(rss_before, 1),
                "end": round(rss_end, 1),
                "max": round(max(r.rss_samples), 1),
                # Start and end of each phase (a phase ends once its chats are done): growth in a
                # quiet phase is the load's own, not the attackers'.
                "phases": r.rss_phases,
            },
            "engine_cpu_s": r.cpu,
            "machine": machine(),
            "options": {k: v for k, v in vars(args).items() if k not in ("func",)},
            "attack_rates_per_s": {
                k: v * args.attack_scale
                for k, v in attackers.RATES.items()
                if k not in args.skip and (not args.only or k in args.only)
            },
            "settings": {"security": limits, "wechat_mode": "plain", "database": args.database_url or "sqlite"},
        },
    }


def _p99s(phase: dict[str, Any]) -> dict[str, Any]:
    report = phase["report"]
    return {"offer_p99_ms": pct(report["delays"], 0.99), "offer_from_send_p99_ms": pct(report["from_send"], 0.99)}
