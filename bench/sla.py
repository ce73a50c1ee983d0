"""``hotline bench sla``: one simulated day of a city hotline, on seats scheduled within a budget of
Erlang C seat-hours: this router against an app_queue-like one, then the router on a tighter budget.

The day (--seed): calls and chats arrive over 24 hours along a typical 12345 curve; voice handle
times are exponential (AHT 240 s) plus 10 s wrap-up, chats 600 s with up to 3 at once; a seat
answers 2 s after the offer; callers hang up after an exponential patience (mean 120 s). Every seat
has the general skill at proficiency 1-5; 29 specialist skills (6 languages or dialects, the
business desk and domains) are each held by 2-6 seats. 70% of calls are general (proficiency 3
wanted), 30% prefer a specialist, and a language or dialect call requires one.

Staffing. Erlang C gives each 15-minute interval the fewest seats for 95% of calls within 15 s if
every seat took every contact (pooled, from the interval's own arrivals; a chat counts 1/3 of a
call): their sum is ``erlang_seat_hours``. The schedule spends at most factor x that (--factor
1.10): each interval its Erlang C seats, then the rest one seat at a time where Erlang C says one
more seat answers the most more calls in time (``seats_within_budget``). Night: the plan's 24-hour
service (全时段接通率; 7x24 human service, 国办发〔2020〕53号) needs one seat on duty at all times, so
an interval with no contact at all, where Erlang C asks for none, still gets one, inside the
budget. There is no other night minimum.

Duty. The team is drawn once (as many seats as the busiest interval at --factor). The shift
manager's duty list puts first the seats that cover each language or dialect twice, then the rest;
each interval brings the first seats of the list on duty. A seat going off duty at an interval
boundary first finishes the contact in hand: it is logged in until then, so ``seat_hours``
(logged in) exceed the scheduled seat-hours.

Runs (the same arrivals, patience, handle times, team and duty list):
- router: least_skilled, widening on projected wait, the most-at-risk caller first,
  keep_language_seat and pack_chats;
- baseline (app_queue-like): fixed penalty timers (30/60 s), the oldest caller first, the longest
  idle member; on the router's schedule;
- tight: the router on --tight-factor (1.05) x the Erlang C seat-hours, and on the same seats with
  every contact able to take any seat (``pooled_sl15``, what Erlang C assumes): the gap is what
  specialisation costs.

Figures (DOMAIN.md): sl15 = voice contacts answered within 15.0 s of entering the seat queue ÷
voice contacts that asked for a seat, abandons included (short_abandon_s = 0), by the ACD's own
statistics; ``sl15_by_need`` splits it into general, specialist preferred and language calls.
``engine_cpu_ms_per_contact`` = process CPU time of the ACD core (every ``handle`` and
``next_deadline`` call of the run, replayed alone into a new engine) ÷ contacts. Every contact is
accounted for per run and channel (arrived = answered + abandoned + waiting at the end, the same in
the ACD's statistics); one lost or doubled fails the benchmark after the result is printed, naming
the run, the channel and the contacts.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import Progress

from acd.core import (
    Acd,
    AcdSettings,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    Event,
    Offer,
    OfferAccepted,
    QueueConfig,
    QueueConfigured,
    SeatLoggedIn,
    SeatLoggedOut,
    SeatNotReady,
    SeatReady,
    SeatReplied,
    SeatStateChanged,
    Tick,
)
from bench.sla_ledger import NEEDS, Outcome, account
from hotline.commands.bench import machine
from hotline.errors import CommandError
from scheduling.core.erlang import erlang_c_agents_for_service_level
from scheduling.core.staffing import seats_within_budget

HOURLY = (0.4, 0.25, 0.2, 0.15, 0.15, 0.3, 0.8, 2.0, 4.5, 6.5, 7.0, 6.5,
          4.5, 4.0, 5.5, 6.5, 6.2, 5.0, 3.5, 3.0, 2.8, 2.2, 1.5, 0.8)  # fmt: skip
LANGUAGES = ("lang:yue", "lang:wu", "lang:min", "lang:en", "lang:ja", "lang:ko")
SPECIALISTS = (*LANGUAGES, "business", *(f"domain{i}" for i in range(22)))
AHT_VOICE, AHT_CHAT, MAX_CHATS, INTERVAL = 240.0, 600.0, 3, 900
ANSWER_DELAY, FIRST_REPLY, WRAP_VOICE = 2.0, 8.0, 10.0
TARGET, WITHIN = 0.95, 15.0
MIN_SEATS = 1  # the 24-hour service: one seat on duty in every interval
SETTINGS = AcdSettings(max_chats=MAX_CHATS, wrap_up_s={"voice": WRAP_VOICE, "chat": 0.0})
FALLBACK = (30.0, 60.0, 60.0, 60.0)  # fixed widening timers, as app_queue's penalty rules
ROUTER = QueueConfig("hotline", strategy="least_skilled", widen_after_s=FALLBACK, keep_language_seat=True,
                     pack_chats=True)  # fmt: skip
BASELINE = QueueConfig("hotline", selection="fifo", widen_on_projection=False, widen_after_s=FALLBACK)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--chats", type=int, default=1500)
    parser.add_argument("--patience", type=float, default=120.0, help="mean caller patience, seconds")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--factor", type=float, default=1.10, help="scheduled ÷ Erlang C seat-hours at most")
    parser.add_argument("--tight-factor", type=float, default=1.05, help="the same for the tight run")


@dataclass(order=True)
class Arrival:
    t: float
    cid: str = field(compare=False)
    channel: str = field(compare=False)
    skills: tuple[tuple[str, int], ...] = field(compare=False)
    preferred: tuple[tuple[str, int], ...] = field(compare=False)
    language: str | None = field(compare=False)
    patience: float = field(compare=False)
    handle: float = field(compare=False)

    @property
    def need(self) -> str:
        return NEEDS[2] if self.language else NEEDS[1] if self.preferred else NEEDS[0]


def _arrivals(rng: random.Random, total: int, channel: str, mean_handle: float, patience: float) -> list[Arrival]:
    weights = [w / sum(HOURLY) for w in HOURLY]
    out: list[Arrival] = []
    for hour, w in enumerate(weights):
        rate = total * w / 3600.0
        t = hour * 3600.0
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= (hour + 1) * 3600.0:
                break
            skills: tuple[tuple[str, int], ...] = (("general", 3),)
            preferred: tuple[tuple[str, int], ...] = ()
            language = None
            if rng.random() < 0.30:
                special = rng.choice(SPECIALISTS)
                if special in LANGUAGES:
                    language, skills = special[5:], (("general", 1),)
                else:
                    preferred = ((special, 1),)
            out.append(Arrival(t, f"{channel[0]}{len(out)}", channel, skills, preferred, language,
                               rng.expovariate(1 / patience), rng.expovariate(1 / mean_handle)))  # fmt: skip
    return out


def _erlang(arrivals: list[Arrival]) -> tuple[list[int], list[float], list[float]]:
    """Per interval: Erlang C seats of the pooled group (0 without traffic), traffic, voice calls."""
    counts = [[0.0, 0.0] for _ in range(86400 // INTERVAL)]
    for a in arrivals:
        counts[int(a.t // INTERVAL)][0 if a.channel == "voice" else 1] += 1
    traffic = [(voice * AHT_VOICE + chat * AHT_CHAT / MAX_CHATS) / INTERVAL for voice, chat in counts]
    need = [erlang_c_agents_for_service_level(a, AHT_VOICE, TARGET, WITHIN) for a in traffic]
    return need, traffic, [voice for voice, _ in counts]


def _schedule(need: list[int], traffic: list[float], calls: list[float], factor: float) -> list[int]:
    """Seats per interval within factor x the Erlang C seat-intervals (never below each interval's own)."""
    floor = sum(max(MIN_SEATS, n) for n in need)
    total = max(floor, math.floor(factor * sum(need) + 1e-9))
    return seats_within_budget(need, traffic, calls, total, AHT_VOICE, WITHIN, minimum=MIN_SEATS)


def _roster(rng: random.Random, size: int) -> list[tuple[tuple[str, int], ...]]:
    skills: list[dict[str, int]] = [{"general": rng.randint(1, 5)} for _ in range(size)]
    for special in SPECIALISTS:
        for seat in rng.sample(range(size), min(size, rng.randint(2, 6))):
            skills[seat][special] = rng.randint(2, 5)
    return [tuple(sorted(s.items())) for s in skills]


def _duty_list(roster: list[tuple[tuple[str, int], ...]]) -> list[int]:
    """Seats in the order they come on duty: first those covering each language twice (each time the
    seat covering the most languages still short, the earlier on ties), then the rest in order."""
    held = [{name for name, _ in skills if name in LANGUAGES} for skills in roster]
    order: list[int] = []
    cover = dict.fromkeys(LANGUAGES, 0)
    for depth in (1, 2):
        while True:
            rest = (i for i in range(len(roster)) if i not in order)
            gain, pick = max(((sum(cover[lang] < depth for lang in held[i]), -i) for i in rest), default=(0, 0))
            if gain == 0:
                break
            order.append(-pick)
            for lang in held[-pick]:
                cover[lang] += 1
    return order + [i for i in range(len(roster)) if i not in order]


def _simulate(
    queue: QueueConfig, arrivals: list[Arrival], roster: list[Any], duty: list[int], scheduled: list[int]
) -> tuple[dict[str, Any], Outcome, list[Event | None]]:
    """The day through the ACD core; the figures, every contact's outcome, and the core calls made
    (events, and None for a next_deadline query) to replay for its CPU time."""
    acd = Acd(SETTINGS)
    calls: list[Event | None] = []
    by_id = {a.cid: a for a in arrivals}
    rank = {f"s{i}": r for r, i in enumerate(duty)}
    heap: list[tuple[float, int, str, str, str]] = []  # time, seq, kind, contact, seat
    seq = 0
    outcome = Outcome()

    def push(t: float, kind: str, cid: str = "", seat: str = "") -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, seq, kind, cid, seat))

    for a in arrivals:
        push(a.t, "arrive", a.cid)
    for i in range(len(scheduled)):
        push(i * INTERVAL, "shift", str(i))
    on: dict[str, float] = {}  # seat -> logged in since
    leaving: set[str] = set()
    seat_seconds = 0.0

    def feed(event: Event) -> None:
        calls.append(event)
        for cmd in acd.handle(event):
            if isinstance(cmd, Offer):
                push(event.now + ANSWER_DELAY, "accept", cmd.contact_id, cmd.seat_id)
            elif isinstance(cmd, SeatStateChanged) and cmd.seat_id in leaving and cmd.state == "not_ready":
                push(event.now, "logout", "", cmd.seat_id)

    feed(QueueConfigured(0.0, queue))
    while heap:
        calls.append(None)
        deadline = acd.next_deadline()
        if deadline is not None and deadline < heap[0][0]:
            feed(Tick(deadline))
            continue
        t, _, kind, cid, seat = heapq.heappop(heap)
        if kind == "arrive":
            a = by_id[cid]
            feed(ContactArrived(t, cid, a.channel, queue.name, "normal", a.skills, a.preferred, a.language))
            if a.channel == "voice":
                push(t + a.patience, "abandon", cid)
        elif kind == "abandon":
            contact = acd.contact(cid)
            if contact is not None and contact.state in ("waiting", "offered"):
                feed(ContactAbandoned(t, cid))
                outcome.abandon(cid)
        elif kind == "accept":
            contact = acd.contact(cid)
            if contact is not None and contact.state == "offered" and contact.seat == seat:
                feed(OfferAccepted(t, cid, seat))
                outcome.answer(cid, t - by_id[cid].t)
                push(t + by_id[cid].handle, "end", cid)
                if contact.media == "chat":
                    push(t + FIRST_REPLY, "reply", cid)
        elif kind == "reply":
            held = acd.contact(cid)
            if held is not None and held.state == "connected":
                feed(SeatReplied(t, cid))
        elif kind == "end":
            if acd.has_contact(cid):
                feed(ContactEnded(t, cid))
        elif kind == "logout":
            if seat in leaving and (held_seat := acd.seat(seat)) is not None and held_seat.state == "not_ready":
                feed(SeatLoggedOut(t, seat))
                seat_seconds += t - on.pop(seat)
                leaving.discard(seat)
        else:  # shift change: bring the seats on duty to the scheduled number, in duty-list order
            want = scheduled[int(cid)]
            active = sorted((s for s in on if s not in leaving), key=rank.__getitem__)
            for s in active[want:]:  # finish the contact in hand, then log out
                leaving.add(s)
                feed(SeatNotReady(t, s, "shift_end"))
            need = want - len(active)
            for s in sorted(leaving, key=rank.__getitem__)[: max(0, need)]:
                leaving.discard(s)  # still on duty after all
                feed(SeatReady(t, s))
                need -= 1
            for i in duty:
                if need <= 0:
                    break
                if f"s{i}" not in on:
                    feed(SeatLoggedIn(t, f"s{i}", roster[i], ready=True))
                    on[f"s{i}"] = t
                    need -= 1
    end = max(86400.0, acd.now)
    seat_seconds += sum(end - since for since in on.values())
    report = acd.stats.report(by=("channel",))
    outcome.finish({c.id: c for c in acd.all_contacts()}, report)
    rows = {r["channel"]: r for r in report}
    voice, chat = rows.get("voice", {}), rows.get("webchat", {})
    figures = {
        "sl15": round(voice.get("sl15") or 0.0, 4),
        "seat_hours": round(seat_seconds / 3600.0, 1),
        "connection_rate": round(voice.get("connection_rate") or 0.0, 4),
        "abandoned": voice.get("abandoned", 0),
        "asa_s": round(voice.get("asa_s") or 0.0, 1),
        "internet_response_rate": round(chat.get("internet_response_rate") or 0.0, 4),
        "sl15_by_need": outcome.sl15_by_need(arrivals, WITHIN),
    }
    return figures, outcome, calls


def _core_cpu_s(calls: list[Event | None]) -> tuple[float, Acd]:
    """Process CPU time of the ACD core alone: the run's calls replayed into a new engine (returned:
    it decides as the run's did, the core being deterministic)."""
    acd = Acd(SETTINGS)
    started = time.process_time()
    for event in calls:
        if event is None:
            acd.next_deadline()
        else:
            acd.handle(event)
    return time.process_time() - started, acd


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.calls <= 0 or args.chats < 0 or args.patience <= 0:
        raise CommandError("--calls must be > 0, --chats >= 0 and --patience > 0")
    if not 1.0 <= args.tight_factor <= args.factor:
        raise CommandError("--tight-factor must be at least 1.0 and at most --factor")
    started = time.perf_counter()
    rng = random.Random(args.seed)
    arrivals = _arrivals(rng, args.calls, "voice", AHT_VOICE, args.patience)
    arrivals += _arrivals(rng, args.chats, "webchat", AHT_CHAT, args.patience)
    arrivals.sort()
    need, traffic, calls = _erlang(arrivals)
    scheduled = _schedule(need, traffic, calls, args.factor)
    tight = _schedule(need, traffic, calls, args.tight_factor)
    roster = _roster(rng, max(scheduled))
    duty = _duty_list(roster)
    pooled = [dataclasses.replace(a, skills=(("general", 1),), preferred=(), language=None) for a in arrivals]
    runs = (("router", ROUTER, arrivals, scheduled), ("baseline", BASELINE, arrivals, scheduled),
            ("tight", ROUTER, arrivals, tight), ("pooled", ROUTER, pooled, tight))  # fmt: skip
    out: dict[str, Any] = {}
    problems: list[str] = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("simulating the day", total=len(runs))
        for name, queue, day, seats in runs:
            figures, outcome, core_calls = _simulate(queue, day, roster, duty, seats)
            cpu_s, _ = _core_cpu_s(core_calls)
            figures["engine_cpu_ms_per_contact"] = round(cpu_s * 1000 / len(day), 4)
            figures["contacts"], found = account(name, day, outcome)
            problems += found
            out[name] = figures
            progress.advance(task)
    pooled_run = out.pop("pooled")
    hours = INTERVAL / 3600.0
    out["scheduled_seat_hours"] = round(sum(scheduled) * hours, 2)
    out["erlang_seat_hours"] = round(sum(need) * hours, 2)
    out["factor"] = args.factor
    out["scheduled_ratio"] = round(sum(scheduled) / sum(need), 4)
    out["minimum_seat_intervals"] = sum(1 for n in need if n < MIN_SEATS)  # raised to the 24-hour minimum
    out["tight"] = {
        "factor": args.tight_factor,
        "scheduled_seat_hours": round(sum(tight) * hours, 2),
        "scheduled_ratio": round(sum(tight) / sum(need), 4),
        **out["tight"],
        "pooled_sl15": pooled_run["sl15"],
        "pooled_contacts": pooled_run["contacts"],
    }
    out["options"] = {
        "sl15": f"answered within {WITHIN} s of entering the seat queue / voice contacts that asked for a seat",
        "short_abandon_s": SETTINGS.short_abandon_s,
        "erlang": f"C, pooled, {TARGET:.0%} within {WITHIN:g} s, AHT {AHT_VOICE:g} s, a chat = 1/{MAX_CHATS} call",
        "min_seats_per_interval": MIN_SEATS,
    }
    out["seed"] = args.seed
    out["calls"] = sum(1 for a in arrivals if a.channel == "voice")
    out["chats"] = len(arrivals) - out["calls"]
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["machine"] = machine()
    out["losses"] = problems  # contacts lost or counted twice: the command fails after printing
    return out
