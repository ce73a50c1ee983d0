"""What ``hotline bench voice`` runs: its options, the runs they make (who routes, how many
seats, when each caller dials, how the seats behave) and the callers' numbers."""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass, replace

from hotline.errors import CommandError

ENGINES = ("engine", "app_queue")
PHASES = ("1", "2", "capacity")
LAUNCH_RATE = 500  # calls/s at which sipp creates the (paused) calls before the first INVITE
PHASE1_PATIENCE_MS = 60_000  # seats are free in phase 1: a caller still waiting after this was lost
CAPACITY_PATIENCE_MS = 10_000  # a capacity step's caller not connected by then failed; shorter drains


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--phases", default="1,2", help="phases to run, comma separated: 1, 2, capacity (default 1,2)")
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
    # At 0.9 of capacity hardly a caller waits 30 s, the first announcement: the busy hour at
    # capacity makes a few hundred wait that long, and 60 s lets them hear it to its end.
    a("--load", type=float, default=1.0, help="phase 2 offered load / capacity (default 1.0)")
    a("--patience", type=float, default=60.0, help="phase 2 caller patience in s (default 60)")
    a(
        "--announce-every",
        type=float,
        default=None,
        help="phase 2: position, expected wait and call-back offer every S s while a caller waits"
        " (default: the general queue's announce_every_s in acd/queues/city.toml; 0: none)",
    )
    a("--cap-rates", default="20:150:10", help="capacity steps in calls/s: FROM:TO:STEP or a list (default 20:150:10)")
    a("--cap-seconds", type=float, default=30.0, help="capacity: length of each step (default 30)")
    a("--cap-p99-ms", type=float, default=100.0, help="capacity: a step passes with p99 at most this (default 100)")
    a("--cap-stop-after", type=int, default=2, help="capacity: an engine stops after this many failed steps in a row")
    a(
        "--after-restart",
        action="store_true",
        help="restart the sandbox Asterisk right before every phase 1 run (its first minute after a restart)",
    )
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
    announce_every_s: float = 0.0  # the waiting experience (music, announcements, call-back offer); 0: music only
    restart: bool = False  # restart the sandbox Asterisk right before this run

    @property
    def phase(self) -> str:
        return "capacity" if self.label.startswith("cap") else self.label[1]


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CommandError(f"{name} must be numbers separated by commas, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise CommandError(f"{name} needs at least one positive number, got {text!r}")
    return values


def cap_rates(text: str) -> list[float]:
    """FROM:TO:STEP (both ends included) or a comma list."""
    if ":" not in text:
        return sorted(set(_floats(text, "--cap-rates")))
    try:
        lo, hi, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise CommandError(f"--cap-rates takes FROM:TO:STEP or a comma list, got {text!r}") from None
    if lo <= 0 or hi < lo or step <= 0:
        raise CommandError(f"--cap-rates: 0 < FROM <= TO and STEP > 0, got {text!r}")
    return [round(lo + i * step, 6) for i in range(int((hi - lo) / step + 1e-9) + 1)]


def city_announce_every() -> float:
    """The announcement interval the city configured for its general queue (0 if none)."""
    from acd.queues import load_queues

    general = [q for q in load_queues() if q.name == "general"]
    return float(general[0].announce_every_s or 0.0) if general else 0.0


def check(args: argparse.Namespace) -> tuple[list[str], list[str], list[float]]:
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    if not phases or any(p not in PHASES for p in phases):
        raise CommandError(f"--phases takes {', '.join(PHASES)} (comma separated), got {args.phases!r}")
    phases = [p for p in PHASES if p in phases]
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
    if args.announce_every is None:
        args.announce_every = city_announce_every()
    if args.announce_every < 0:
        raise CommandError("--announce-every takes seconds, 0 for no announcements")
    if args.cap_seconds <= 0 or args.cap_p99_ms <= 0 or args.cap_stop_after < 1:
        raise CommandError("--cap-seconds and --cap-p99-ms must be positive, --cap-stop-after at least 1")
    if "capacity" in phases and steady_seats(args, max(cap_rates(args.cap_rates))) > 999:
        raise CommandError("--cap-rates: the highest step needs more than 999 seats")
    return phases, engines, rates


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def steady_seats(args: argparse.Namespace, rate: float) -> int:
    """Seats enough to be "always free" at this rate: at most 80% of them busy."""
    hold = (args.answer_min + args.answer_max) / 2 + args.talk1
    return max(args.seats1, math.ceil(rate * hold / 0.8))


def steady(args: argparse.Namespace, engine: str, label: str, rate: float, seconds: float, patience_ms: int) -> Plan:
    """Calls at a fixed rate to seats that are always free."""
    n = max(1, int(rate * seconds))
    seats = steady_seats(args, rate)
    lead = n / LAUNCH_RATE + 1
    starts = tuple(_ms(lead + i / rate) for i in range(n))
    answer = (_ms(args.answer_min), _ms(args.answer_max))
    return Plan(engine, label, seats, starts, answer, (_ms(args.talk1),) * 2, patience_ms)


def plans(args: argparse.Namespace, phases: list[str], engines: list[str], rates: list[float]) -> list[Plan]:
    """Phases 1 and 2 (the capacity phase is planned step by step, as its ramp goes)."""
    out: list[Plan] = []
    answer = (_ms(args.answer_min), _ms(args.answer_max))
    if "1" in phases:
        for rate in rates:
            for r in range(args.repeat):
                # On a shared machine the tails drift with whatever else runs: repeats alternate
                # which engine goes first, and each pair shares its seat draws.
                label = f"p1@{rate:g}" + (f"#{r + 1}" if args.repeat > 1 else "")
                for engine in engines if r % 2 == 0 else engines[::-1]:
                    # Patience is long here: every call must reach a seat, or it was lost.
                    run = steady(args, engine, label, rate, args.phase1_seconds, PHASE1_PATIENCE_MS)
                    out.append(replace(run, restart=args.after_restart))
    if "2" in phases:
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
            out.append(
                Plan(engine, "p2", args.seats2, starts, answer, talk, _ms(args.patience), args.announce_every or 0.0)
            )
    return out


def rtp_sessions_needed(args: argparse.Namespace, phases: list[str], rates: list[float]) -> int:
    """The most RTP sessions Asterisk holds at once in these runs: every call up has two legs
    (caller and seat, each with its RTP); phase 1 and the capacity steps keep
    ``rate × (ring + talk + 1 s)`` calls up, phase 2 its seats busy and the callers waiting (at
    most a patience's worth of arrivals)."""
    need = 0
    hold = (args.answer_min + args.answer_max) / 2 + args.talk1 + 1.0
    if "1" in phases:
        need = max(need, math.ceil(2 * max(rates) * hold))
    if "capacity" in phases:
        need = max(need, math.ceil(2 * max(cap_rates(args.cap_rates)) * hold))
    if "2" in phases:
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
