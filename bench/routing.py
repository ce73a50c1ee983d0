"""``hotline bench routing``: events per second and latency of the ACD core with many waiting.

For each size: log in the seats (random skills out of ``--skills``, proficiency 1-5), fill the
queue until ``waiting`` contacts wait with every seat busy, then drive a steady mix in which
the number waiting stays put: a contact ends and its seat takes the next one (offer, accept),
a new contact arrives, one in ten arrivals is matched by an abandon, and a seat pauses and
comes back now and then, with a Tick every 100 events. The clock advances 1/``--rate`` s per
event (default 20,000/s, the target), so time-driven work is shared as it would be at that
load. Each ``handle()`` call is timed.
Memory is the growth of resident memory during the fill, divided by the contacts waiting.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from array import array
from collections import deque
from typing import Any

from rich.console import Console
from rich.progress import Progress

from acd.core import (
    AcdSettings,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    Offer,
    OfferAccepted,
    QueueConfig,
    QueueConfigured,
    SeatLoggedIn,
    SeatNotReady,
    SeatReady,
    Tick,
)
from acd.core.engine import Acd
from hotline.commands.bench import machine
from hotline.gcpolicy import GcPolicy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1000,50000,500000", help="waiting contacts, comma separated")
    parser.add_argument("--seats", type=int, default=10_000)
    parser.add_argument("--skills", type=int, default=300)
    parser.add_argument("--events", type=int, default=200_000, help="measured events per size")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--rate", type=float, default=20_000.0, help="simulated events per second of clock")
    parser.add_argument("--gc-default", action="store_true", help="Python's collector as is, not the engine's policy")


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Driver:
    """Plays the adapter: turns the engine's offers into acceptances and keeps the mix going."""

    def __init__(self, acd: Acd, rng: random.Random, skills: int, timings: array[int] | None, rate: float) -> None:
        self.acd = acd
        # the clock advances as if events came at ``rate`` per second: time-driven work (ring
        # timeouts, widening re-checks) is then shared by that many events, as in real service
        self.dt = 1.0 / rate
        self.rng = rng
        self.skills = skills
        self.timings = timings
        self.now = 0.0
        self.n = 0
        self.connected: list[str] = []
        self.recent: deque[str] = deque(maxlen=20_000)

    def feed(self, event: Any) -> None:
        if self.timings is not None:
            t0 = time.perf_counter_ns()
            out = self.acd.handle(event)
            self.timings.append(time.perf_counter_ns() - t0)
        else:
            out = self.acd.handle(event)
        for cmd in out:
            if isinstance(cmd, Offer):
                self.now += self.dt
                self.feed(OfferAccepted(self.now, cmd.contact_id, cmd.seat_id))
                self.connected.append(cmd.contact_id)

    def arrive(self) -> None:
        self.n += 1
        cid = f"c{self.n}"
        rng = self.rng
        # needs come from IVR menus: one skill of many; three in ten would rather have the
        # specialist desk of that domain (one of 29), and may widen away from it
        k = rng.randrange(self.skills)
        skill = f"k{k}"
        preferred = ((f"k{k % min(29, self.skills)}", 3),) if rng.random() < 0.3 and k >= 29 else ()
        channel = "webchat" if rng.random() < 0.2 else "voice"
        priority = "repeat" if rng.random() < 0.05 else "normal"
        self.now += self.dt
        event = ContactArrived(self.now, cid, channel, "main", priority, ((skill, 2),), preferred)
        self.recent.append(cid)
        self.feed(event)

    def step(self, i: int, waiting: int) -> None:
        rng = self.rng
        self.now += self.dt
        if i % 100 == 0:
            self.feed(Tick(self.now))
        elif i % 10 == 3 and self.recent:
            cid = self.recent.popleft()
            held = self.acd.contact(cid)
            if held is not None and held.state == "waiting":
                self.feed(ContactAbandoned(self.now, cid))
                self.arrive()
        elif i % 500 == 7:
            seat_id = f"s{rng.randrange(self.acd.seat_count())}"
            seat = self.acd.seat(seat_id)
            if seat is not None:
                self.feed(SeatNotReady(self.now, seat_id, "break") if seat.state == "ready" or seat.state == "busy"
                          else SeatReady(self.now, seat_id))  # fmt: skip
        elif self.acd.waiting_in("main") >= waiting and self.connected:
            j = rng.randrange(len(self.connected))
            self.connected[j], self.connected[-1] = self.connected[-1], self.connected[j]
            self.feed(ContactEnded(self.now, self.connected.pop()))
        else:
            self.arrive()


def _one(
    waiting: int,
    seats: int,
    skills: int,
    events: int,
    seed: int,
    rate: float,
    progress: Progress,
    gc_policy: bool = True,
) -> dict[str, Any]:
    rng = random.Random(seed)
    settings = AcdSettings(wrap_up_s={"voice": 0.0, "chat": 0.0}, max_chats=2)
    acd = Acd(settings)
    driver = Driver(acd, rng, skills, None, rate)
    acd.handle(QueueConfigured(0.0, QueueConfig("main", widen_after_s=(30.0, 60.0, 90.0, 120.0))))
    for s in range(seats):
        names = rng.sample(range(skills), 4)
        seat_skills = tuple((f"k{k}", rng.randint(1, 5)) for k in names)
        kind = "cloud" if s % 10 == 9 else "onsite"
        driver.feed(SeatLoggedIn(0.0, f"s{s}", seat_skills, kind=kind, ready=True))
    gc.collect()
    before = _rss()
    task = progress.add_task(f"fill {waiting:,}", total=waiting)
    while acd.waiting_in("main") < waiting:
        driver.arrive()
        if driver.n % 5000 == 0:
            progress.update(task, completed=acd.waiting_in("main"))
    progress.update(task, completed=waiting)
    gc.collect()
    grown = _rss() - before
    # warm-up, not measured: the needs met in the steady mix get their buckets once
    i = 0
    for i in range(events // 5):
        driver.step(i, waiting)
    gc.collect()
    # The engine's collector policy (hotline run): what is alive now is frozen, and every 10 s
    # what survived since; --gc-default measures Python's own collector instead.
    policy = GcPolicy(10.0, 3600.0) if gc_policy else None
    if policy is not None:
        gc.freeze()
    last_step = time.monotonic()
    timings: array[int] = array("q")
    driver.timings = timings
    task = progress.add_task(f"run {waiting:,}", total=events)
    start = time.perf_counter()
    while len(timings) < events:
        driver.step(i, waiting)
        i += 1
        if i % 5000 == 0:
            progress.update(task, completed=min(len(timings), events))
            if policy is not None and time.monotonic() - last_step >= policy.freeze_every:
                policy.step()
                last_step = time.monotonic()
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    progress.update(task, completed=events)
    ordered = sorted(timings)
    waiting_now = acd.waiting_in("main")
    return {
        "waiting": waiting,
        "seats": seats,
        "events_per_s": round(len(timings) / (sum(timings) / 1e9)),  # time inside handle() only
        "wall_events_per_s": round(len(timings) / elapsed),  # with the driver playing the adapter
        "p50_ms": round(ordered[len(ordered) // 2] / 1e6, 4),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] / 1e6, 4),
        "max_ms": round(ordered[-1] / 1e6, 3),
        "bytes_per_contact": round(grown / waiting),
        "waiting_at_end": waiting_now,
        "events": len(timings),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        sizes = [int(x) for x in str(args.sizes).split(",") if x.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) <= 0 or min(args.seats, args.skills, args.events, args.rate) <= 0:
        from hotline.errors import CommandError

        raise CommandError("--sizes needs positive integers (e.g. 1000,50000) and seats, skills, events, rate > 0")
    out = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        for size in sizes:
            out.append(
                _one(size, args.seats, args.skills, args.events, args.seed, args.rate, progress, not args.gc_default)
            )
            gc.collect()
    policy = "python default" if args.gc_default else "engine (freeze every 10 s)"
    return {"sizes": out, "gc": policy, "machine": {**machine(), "python_loop_10m_s": _calibrate()}}


def _calibrate() -> float:
    """Seconds for a plain 10-million-step Python loop: to compare machines (a recent desktop
    core takes about 0.4 s)."""
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return round(time.perf_counter() - start, 2)
