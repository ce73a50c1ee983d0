"""``hotline bench sla``: one simulated day of a city hotline, this router against an app_queue-like one.

The day (fixed seed): calls and chats arrive over 24 hours along a typical 12345 curve;
voice handle times are exponential (AHT 240 s), chats 600 s with up to 3 at once; callers
hang up after an exponential patience. Every seat has the general skill at proficiency 1-5;
29 specialist skills (6 languages or dialects, the business desk and domains) are each held
by 2-6 seats. 70% of calls are general (proficiency 3 wanted), 30% prefer a specialist, and a
language or dialect call requires one.

Seats on duty per 15 minutes = 1.10 x what Erlang C says one fully pooled group would need
for 95% of calls within 15 s (chats count as 1/3 of a call). Both runs get the same arrivals,
patience, handle times and seats; they differ only in queue settings:

- router: widening when the projected wait would break the target, freed seats take the
  caller least likely to be reached in time by another seat, and a call goes to the ready
  seat with the fewest skills (keeping language and specialist seats free for their calls);
- baseline (app_queue-like): fixed penalty timers (30/60 s) and the oldest caller first, ring
  the longest idle member.
"""

from __future__ import annotations

import argparse
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
from hotline.commands.bench import machine
from hotline.errors import CommandError
from scheduling.core.erlang import erlang_c_agents_for_service_level

HOURLY = (0.4, 0.25, 0.2, 0.15, 0.15, 0.3, 0.8, 2.0, 4.5, 6.5, 7.0, 6.5,
          4.5, 4.0, 5.5, 6.5, 6.2, 5.0, 3.5, 3.0, 2.8, 2.2, 1.5, 0.8)  # fmt: skip
LANGUAGES = ("lang:yue", "lang:wu", "lang:min", "lang:en", "lang:ja", "lang:ko")
SPECIALISTS = (*LANGUAGES, "business", *(f"domain{i}" for i in range(22)))
AHT_VOICE, AHT_CHAT, MAX_CHATS, INTERVAL = 240.0, 600.0, 3, 900
ANSWER_DELAY, FIRST_REPLY = 2.0, 8.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--chats", type=int, default=1500)
    parser.add_argument("--patience", type=float, default=120.0, help="mean caller patience, seconds")
    parser.add_argument("--seed", type=int, default=12345)


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


def _staffing(arrivals: list[Arrival]) -> tuple[list[int], list[int]]:
    """Erlang C seats per interval for the pooled group, and 1.10 x that (rounded up)."""
    counts = [[0.0, 0.0] for _ in range(86400 // INTERVAL)]
    for a in arrivals:
        counts[int(a.t // INTERVAL)][0 if a.channel == "voice" else 1] += 1
    erlang, scheduled = [], []
    for voice, chat in counts:
        traffic = (voice * AHT_VOICE + chat * AHT_CHAT / MAX_CHATS) / INTERVAL
        need = erlang_c_agents_for_service_level(traffic, AHT_VOICE, 0.95, 15.0) if traffic > 0 else 1
        erlang.append(max(1, need))
        scheduled.append(max(1, math.ceil(1.10 * need)))
    return erlang, scheduled


def _roster(rng: random.Random, size: int) -> list[tuple[tuple[str, int], ...]]:
    skills: list[dict[str, int]] = [{"general": rng.randint(1, 5)} for _ in range(size)]
    for special in SPECIALISTS:
        for seat in rng.sample(range(size), min(size, rng.randint(2, 6))):
            skills[seat][special] = rng.randint(2, 5)
    return [tuple(sorted(s.items())) for s in skills]


def _simulate(queue: QueueConfig, arrivals: list[Arrival], roster: list[Any], scheduled: list[int]) -> dict[str, Any]:
    acd = Acd(AcdSettings(max_chats=MAX_CHATS, wrap_up_s={"voice": 10.0, "chat": 0.0}))
    acd.handle(QueueConfigured(0.0, queue))
    by_id = {a.cid: a for a in arrivals}
    heap: list[tuple[float, int, str, str, str]] = []  # time, seq, kind, contact, seat
    seq = 0

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

    def feed(event: Any) -> None:
        nonlocal seat_seconds
        for cmd in acd.handle(event):
            if isinstance(cmd, Offer):
                push(event.now + ANSWER_DELAY, "accept", cmd.contact_id, cmd.seat_id)
            elif isinstance(cmd, SeatStateChanged) and cmd.seat_id in leaving and cmd.state == "not_ready":
                push(event.now, "logout", "", cmd.seat_id)

    while heap:
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
            contact = acd.contacts.get(cid)
            if contact is not None and contact.state in ("waiting", "offered"):
                feed(ContactAbandoned(t, cid))
        elif kind == "accept":
            contact = acd.contacts.get(cid)
            if contact is not None and contact.state == "offered" and contact.seat == seat:
                feed(OfferAccepted(t, cid, seat))
                push(t + by_id[cid].handle, "end", cid)
                if contact.media == "chat":
                    push(t + FIRST_REPLY, "reply", cid)
        elif kind == "reply":
            if cid in acd.contacts and acd.contacts[cid].state == "connected":
                feed(SeatReplied(t, cid))
        elif kind == "end":
            if cid in acd.contacts:
                feed(ContactEnded(t, cid))
        elif kind == "logout":
            if seat in leaving and seat in acd.index.seats and acd.index.seats[seat].state == "not_ready":
                feed(SeatLoggedOut(t, seat))
                seat_seconds += t - on.pop(seat)
                leaving.discard(seat)
        else:  # shift change: bring the seats on duty to the scheduled number
            want = scheduled[int(cid)]
            active = sorted((s for s in on if s not in leaving), key=lambda x: int(x[1:]))
            for s in active[want:]:  # finish the contact in hand, then log out
                leaving.add(s)
                feed(SeatNotReady(t, s, "shift_end"))
            need = want - len(active)
            for s in sorted(leaving, key=lambda x: int(x[1:]))[: max(0, need)]:
                leaving.discard(s)  # still on duty after all
                feed(SeatReady(t, s))
                need -= 1
            for i in range(len(roster)):
                if need <= 0:
                    break
                if f"s{i}" not in on:
                    feed(SeatLoggedIn(t, f"s{i}", roster[i], ready=True))
                    on[f"s{i}"] = t
                    need -= 1
    end = max(86400.0, acd.now)
    seat_seconds += sum(end - since for since in on.values())
    rows = {r["channel"]: r for r in acd.stats.report(by=("channel",))}
    voice, chat = rows.get("voice", {}), rows.get("webchat", {})
    return {
        "sl15": round(voice.get("sl15") or 0.0, 4),
        "seat_hours": round(seat_seconds / 3600.0, 1),
        "connection_rate": round(voice.get("connection_rate") or 0.0, 4),
        "abandoned": voice.get("abandoned", 0),
        "asa_s": round(voice.get("asa_s") or 0.0, 1),
        "internet_response_rate": round(chat.get("internet_response_rate") or 0.0, 4),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.calls <= 0 or args.chats < 0 or args.patience <= 0:
        raise CommandError("--calls must be > 0, --chats >= 0 and --patience > 0")
    started = time.perf_counter()
    rng = random.Random(args.seed)
    arrivals = _arrivals(rng, args.calls, "voice", AHT_VOICE, args.patience)
    arrivals += _arrivals(rng, args.chats, "webchat", AHT_CHAT, args.patience)
    arrivals.sort()
    erlang, scheduled = _staffing(arrivals)
    roster = _roster(rng, max(scheduled))
    router = QueueConfig("hotline", strategy="least_skilled", widen_after_s=(30.0, 60.0, 60.0, 60.0))
    baseline = QueueConfig("hotline", selection="fifo", widen_on_projection=False,
                           widen_after_s=(30.0, 60.0, 60.0, 60.0))  # fmt: skip
    out: dict[str, Any] = {}
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("simulating the day twice", total=2)
        for name, queue in (("router", router), ("baseline", baseline)):
            out[name] = _simulate(queue, arrivals, roster, scheduled)
            progress.advance(task)
    out["erlang_seat_hours"] = round(sum(erlang) * INTERVAL / 3600.0, 1)
    out["scheduled_seat_hours"] = round(sum(scheduled) * INTERVAL / 3600.0, 1)
    out["calls"] = sum(1 for a in arrivals if a.channel == "voice")
    out["chats"] = len(arrivals) - out["calls"]
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["machine"] = machine()
    return out
