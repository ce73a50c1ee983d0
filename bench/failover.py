"""Failover under load: two ``hotline run`` processes in cluster mode (hotline/lease.py) on one
PostgreSQL, behind a real HAProxy (its configuration from ``hotline cluster haproxy``), with the
chaos bench's load through HAProxy: web-chat and WeChat citizens, seats, and callers on the
sandbox Asterisk answered by cloud seats behind the trunk (``bench/chaos.py``).

The same load runs twice: once without kills (``sl15_no_kills``), once with the active engine
killed (SIGKILL) ``--kills`` times at random moments chosen by the seed, one in each equal slice
of the load; each killed engine is started again and becomes the new standby. For each kill it
reports the seconds until the other engine answered ``/cluster/active`` with 200 (the lease
taken and its routing started: ``takeover_s``), until HAProxy sent traffic to it
(``takeover_haproxy_s``), and until the first citizen's message was acknowledged after it
(``recovery_s``). With ``--gateways N`` the sockets are held by N web gateways (hotline/relay.py)
instead of the active engine, and a kill cuts none of them. With ``--asterisks 2`` the citizens
call two Asterisk servers in turn (two sandbox instances peered by the trunk the dialplans render,
bench/_servers.py), both driven by the active engine; the calls are counted per server. Every message, chat and call is accounted for as in the chaos bench: anything
lost or doubled is a line under ``losses`` and the command exits 1. An engine that ends on its
own (fenced, exit 75) is started again as systemd's ``Restart=always`` would, and listed under
``unplanned_exits``.

JSON: ``{"kills": 5, "takeover_p50_s": ..., "takeover_max_s": ..., "lost": 0, "doubled": 0,
"sl15": ..., "sl15_no_kills": ...}`` and the details (the kill log, contacts, messages, calls).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
from typing import Any

from bench import chaos


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=4.0, help="minutes of load with kills (and as many without)")
    p.add_argument("--kills", type=int, default=5, help="times the active engine is killed")
    p.add_argument("--seed", type=int, default=1, help="chooses the kill moments and the citizens")
    p.add_argument("--arrivals-per-min", type=float, default=30.0, help="citizens opening a chat per minute")
    p.add_argument("--messages", type=int, default=3, help="messages each citizen writes")
    p.add_argument("--seats", type=int, default=8, help="seats answering chats (signed in for chats only)")
    p.add_argument("--calls-per-min", type=float, default=20.0, help="citizens calling 12345 per minute (0: none)")
    p.add_argument("--voice-seats", type=int, default=8, help="seats answering calls (cloud seats, calls only)")
    p.add_argument("--hold", default="15:30", help="seconds a caller stays on the line in all, FROM:TO (uniform)")
    p.add_argument("--wechat-share", type=float, default=0.5, help="share of citizens writing through WeChat")
    p.add_argument("--db-url", default="", help="the PostgreSQL server for the run's database (default: DATABASE_URL)")
    p.add_argument("--no-baseline", action="store_true", help="skip the run without kills")
    p.add_argument("--drain", type=float, default=60.0, help="seconds to wait for answers after the load")
    p.add_argument("--keep", action="store_true", help="keep each run's folder (the engines' and HAProxy's logs)")
    p.add_argument(
        "--asterisks",
        type=int,
        default=1,
        choices=(1, 2),
        help="Asterisk servers the citizens call, in turn (2: two sandbox instances peered by the trunk,"
        " the engines drive both; 1: the sandbox's own)",
    )
    p.add_argument(
        "--steady-calls",
        action="store_true",
        help="one sipp per Asterisk places the calls at a steady rate (arrivals even, not Poisson): a"
        " sipp process per call costs this machine more than the engines past 2 calls/s",
    )
    p.add_argument(
        "--gateways",
        type=int,
        default=0,
        help="web gateways holding the sockets (hotline/relay.py; 0: the active engine holds them)",
    )


def kill_moments(seed: int, kills: int, length_s: float) -> list[float]:
    """One moment in each equal slice of the load, leaving 10 s at the start and 20 s at the end."""
    rng = random.Random(f"kills-{seed}")
    first, last = 10.0, max(10.0, length_s - 20.0)
    width = (last - first) / kills
    return [round(first + k * width + rng.uniform(0.1, 0.9) * width, 1) for k in range(kills)]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from hotline.errors import CommandError

    if args.kills < 1 or args.minutes <= 0 or args.seats < 1 or args.messages < 1:
        raise CommandError("--kills, --minutes, --seats and --messages must be positive")
    if not 0 <= args.gateways <= 8:
        raise CommandError("--gateways: 0 to 8")
    if args.gateways and shutil.which("redis-server") is None:
        raise CommandError("--gateways: the engines reach the gateways' sockets through Redis (no redis-server here)")
    if args.minutes * 60 < 30 + args.kills * 8:
        raise CommandError(f"--minutes: too short for {args.kills} kills (8 s each, 30 s around them)")
    if not (args.db_url or os.environ.get("DATABASE_URL", "")).startswith("postgres"):
        raise CommandError("the cluster's lease lives in PostgreSQL: give --db-url or DATABASE_URL")
    if shutil.which("haproxy") is None:
        raise CommandError("no haproxy on this machine (Debian: apt-get install haproxy; make setup installs it)")
    lo, _, hi = args.hold.partition(":")
    try:
        args.hold_s = (float(lo), float(hi or lo))
    except ValueError:
        raise CommandError("--hold: FROM:TO in seconds") from None
    if not 5 <= args.hold_s[0] <= args.hold_s[1] or args.calls_per_min < 0 or args.voice_seats < 1:
        raise CommandError("--hold: 5 <= FROM <= TO; --calls-per-min >= 0; --voice-seats >= 1")
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    from rich.console import Console

    from hotline.commands.bench import machine

    console = Console(stderr=True)
    skipped: dict[str, str] = {}
    voice: Any = None
    if args.calls_per_min > 0:
        from bench import chaos_voice
        from hotline.settings import load_settings

        voice = load_settings()
        why = chaos_voice.unavailable(voice)
        if why:
            skipped["voice"] = why
            voice = None
    length = args.minutes * 60
    moments = kill_moments(args.seed, args.kills, length)
    baseline: dict[str, Any] | None = None
    if not args.no_baseline:
        console.print(f"failover: {args.minutes:g} min on two engines without kills (the baseline)")
        baseline = await chaos._one_run(args, [], (1.0, 1.0), skipped, console, voice, "1390", kill_times=[])
    console.print(f"failover: {args.minutes:g} min, the active engine killed at {moments} s")
    killed = await chaos._one_run(args, ["failover"], (1.0, 1.0), skipped, console, voice, "1391", kill_times=moments)
    kills = [f for f in killed["fault_log"] if f["kind"] == "failover"]
    takeovers = [f["takeover_s"] for f in kills]
    behind = [f["takeover_haproxy_s"] for f in kills]
    out: dict[str, Any] = {
        "kills": len(kills),
        "takeover_p50_s": round(statistics.median(takeovers), 3) if takeovers else None,
        "takeover_max_s": max(takeovers) if takeovers else None,
        "takeover_haproxy_p50_s": round(statistics.median(behind), 3) if behind else None,
        "takeover_haproxy_max_s": max(behind) if behind else None,
        "lost": killed["lost"] + (baseline["lost"] if baseline else 0),
        "doubled": killed["doubled"] + (baseline["doubled"] if baseline else 0),
        "sl15": killed.get("sl15"),
        "sl15_no_kills": baseline.get("sl15") if baseline else None,
        "first_reply_60s": killed["first_reply_60s"],
        "first_reply_60s_no_kills": baseline["first_reply_60s"] if baseline else None,
        # Engines that ended on their own (fenced: exit 75) and were started again, as systemd would.
        "unplanned_exits": killed.get("unplanned_exits", [])
        + (baseline.get("unplanned_exits", []) if baseline else []),
        "recovery_p50_s": killed["recovery_p50_s"],
        "recovery_max_s": killed["recovery_max_s"],
        "minutes": args.minutes,
        "seed": args.seed,
        "kill_log": kills,
        "contacts": killed["contacts"],
        "messages": killed["messages"],
        "calls": killed.get("calls"),
        "calls_answered": killed.get("calls_answered"),
        "calls_queued": killed.get("calls_queued"),
        "voice_wait_p50_s": killed.get("voice_wait_p50_s"),
        "voice_skipped": skipped.get("voice"),
        "gateways": args.gateways,
        "asterisks": args.asterisks,
        "calls_by_server": killed.get("calls_by_server"),
        "calls_unreached": killed.get("calls_unreached"),
        "calls_unreached_why": killed.get("calls_unreached_why"),
        "calls_per_min": args.calls_per_min,
        "voice_seats": args.voice_seats,
        "steady_calls": args.steady_calls,
    }
    if len(kills) != args.kills:
        killed["losses"].append(f"{args.kills} kills planned, {len(kills)} done")
    # No Asterisk is killed here: a citizen whose call no Asterisk answered was lost too (the
    # chaos bench counts such calls apart only while its Asterisk is down).
    for run in (killed, baseline or {}):
        if run.get("calls_unreached"):
            run["losses"].append(
                f"{run['calls_unreached']} calls never answered by Asterisk: {run.get('calls_unreached_why')}"
            )
            out["lost"] += run["calls_unreached"]
    out["losses"] = killed["losses"] + (baseline["losses"] if baseline else [])
    out["load_average"] = round(os.getloadavg()[0], 2)
    out["machine"] = machine()
    return out
