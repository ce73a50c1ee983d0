"""What ``hotline bench voice`` runs: its options, the runs they make (who routes, how many
seats, when each caller dials, how the seats behave) and the callers' numbers."""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass

from hotline.errors import CommandError

ENGINES = ("engine", "app_queue")
LAUNCH_RATE = 500  # calls/s at which sipp creates the (paused) calls before the first INVITE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--phases", default="1,2", help="phases to run: 1, 2 or 1,2 (default)")
    a("--engines", default="engine,app_queue", help="engine, app_queue or both (default)")
    a("--rates", default="20,50", help="phase 1 new calls per second; the first one goes in the summary")
    a("--phase1-seconds", type=float, default=60.0, help="phase 1 length per rate (default 60)")
    a("--repeat", type=int, default=1, help="phase 1 runs per rate and engine, alternating (summary: medians)")
    a("--seats1", type=int, default=200, help="phase 1 seats; raised if the rate would keep >80%% busy")
    a("--answer-min", type=float, default=1.0, help="seat answers after uniform [min, max] s (default 1-3)")
    a("--answer-max", type=float, default=3.0)
    a("--talk1", type=float, default=3.0, help="phase 1 talk seconds (default 3)")
    a("--phase2-minutes", type=float, default=20.0, help="phase 2 arrivals last this long (default 20)")
    a("--seats2", type=int, default=50, help="phase 2 seats (default 50)")
    a("--talk2-min", type=float, default=20.0, help="phase 2 talk uniform [min, max] s (default 20-60)")
    a("--talk2-max", type=float, default=60.0)
    a("--load", type=float, default=0.9, help="phase 2 offered load / capacity (default 0.9)")
    a("--patience", type=float, default=40.0, help="phase 2 caller patience in s (default 40)")
    a("--seed", type=int, default=12345, help="random seed of the phase 2 arrivals")
    a("--keep", default="", help="keep the sipp traces in this folder")
    a("--no-records", action="store_true", help="run the engine without writing interaction records")
    a(
        "--load-nice",
        type=int,
        default=0,
        help="niceness of the sipp callers and seats (default 0: they compete with Asterisk and the"
        " engine as equals; 10 lets the load yield the cores, as phones on other machines would)",
    )


@dataclass(frozen=True)
class Plan:
    """One run: who routes, how many seats, when each caller dials, how seats behave."""

    engine: str
    label: str
    seats: int
    starts_ms: tuple[int, ...]
    answer_ms: tuple[int, int]
    talk_ms: tuple[int, int]
    patience_ms: int


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CommandError(f"{name} must be numbers separated by commas, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise CommandError(f"{name} needs at least one positive number, got {text!r}")
    return values


def check(args: argparse.Namespace) -> tuple[list[int], list[str], list[float]]:
    phases = sorted({int(x) for x in _floats(args.phases, "--phases")})
    if not set(phases) <= {1, 2}:
        raise CommandError("--phases takes 1, 2 or 1,2")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or any(e not in ENGINES for e in engines):
        raise CommandError(f"--engines takes {', '.join(ENGINES)} (comma separated), got {args.engines!r}")
    rates = _floats(args.rates, "--rates")
    positive = (
        "phase1_seconds",
        "repeat",
        "seats1",
        "talk1",
        "phase2_minutes",
        "seats2",
        "load",
        "patience",
        "talk2_min",
    )
    for name in positive:
        if getattr(args, name) <= 0:
            raise CommandError(f"--{name.replace('_', '-')} must be positive")
    if not 0 <= args.answer_min <= args.answer_max or args.talk2_max < args.talk2_min:
        raise CommandError("--answer-min <= --answer-max and --talk2-min <= --talk2-max, all >= 0")
    if args.load >= 1.5 or args.seats1 > 999 or args.seats2 > 999:
        raise CommandError("--load must be below 1.5 and seats at most 999")
    if not 0 <= args.load_nice <= 19:
        raise CommandError("--load-nice takes 0 (as Asterisk) to 19 (lowest)")
    return phases, engines, rates


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def plans(args: argparse.Namespace, phases: list[int], engines: list[str], rates: list[float]) -> list[Plan]:
    out: list[Plan] = []
    answer = (_ms(args.answer_min), _ms(args.answer_max))
    if 1 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + args.talk1
        for rate in rates:
            n = max(1, int(rate * args.phase1_seconds))
            seats = max(args.seats1, math.ceil(rate * hold / 0.8))  # "always free": at most 80% busy
            lead = n / LAUNCH_RATE + 1
            starts = tuple(_ms(lead + i / rate) for i in range(n))
            for r in range(args.repeat):
                # On a shared machine the tails drift with whatever else runs: repeats alternate
                # which engine goes first, and each pair shares its seat draws.
                label = f"p1@{rate:g}" + (f"#{r + 1}" if args.repeat > 1 else "")
                for engine in engines if r % 2 == 0 else engines[::-1]:
                    # Patience is long here: every call must reach a seat, or it failed.
                    out.append(Plan(engine, label, seats, starts, answer, (_ms(args.talk1),) * 2, 60_000))
    if 2 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + (args.talk2_min + args.talk2_max) / 2
        rate = args.load * args.seats2 / hold
        rng = random.Random(args.seed)
        t, times = 0.0, []
        while t < args.phase2_minutes * 60:
            times.append(t)
            t += rng.expovariate(rate)
        lead = len(times) / LAUNCH_RATE + 1
        starts = tuple(_ms(lead + x) for x in times)
        talk = (_ms(args.talk2_min), _ms(args.talk2_max))
        for engine in engines:
            out.append(Plan(engine, "p2", args.seats2, starts, answer, talk, _ms(args.patience)))
    return out


def rtp_sessions_needed(args: argparse.Namespace, phases: list[int], rates: list[float]) -> int:
    """The most RTP sessions Asterisk holds at once in these runs: every call up has two legs
    (caller and seat, each with its RTP); phase 1 keeps ``rate × (ring + talk + 1 s)`` calls up,
    phase 2 its seats busy and the callers waiting (at most a patience's worth of arrivals)."""
    need = 0
    if 1 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + args.talk1 + 1.0
        need = max(need, math.ceil(2 * max(rates) * hold))
    if 2 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + (args.talk2_min + args.talk2_max) / 2
        arrivals = args.load * args.seats2 / hold
        need = max(need, 2 * args.seats2 + math.ceil(arrivals * args.patience))
    return need


def seat_ids(n: int) -> list[str]:
    return [f"bench{i:03d}" for i in range(1, n + 1)]


DRAW_BITS = 5  # 3 pick one of 8 ring times, 2 one of 4 talk times for that ring time (32 in all)


def caller_numbers(plan: Plan) -> list[str]:
    """One number per call: a prefix per engine, the call's ring and talk draw as five 0/1
    digits, then its index. The draws come from the run's label, so the engine and app_queue
    get the same seat behaviour for the same caller: the phase-2 comparison is paired."""
    rng = random.Random(f"seat-draws-{plan.label}")
    prefix = "139" if plan.engine == "engine" else "138"
    return [f"{prefix}{rng.getrandbits(DRAW_BITS):0{DRAW_BITS}b}{i + 1:06d}" for i in range(len(plan.starts_ms))]
