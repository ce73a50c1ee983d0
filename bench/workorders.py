"""Work-order core speed: deadlines computed per second, and a whole lifecycle (intake to archive)
decided per second, on the official calendar. Pure core only: no database, no event loop."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from typing import Any

from rich.console import Console
from rich.progress import Progress

from hotline.commands.bench import machine
from workorders.calendar_source import build_calendar
from workorders.core.deadlines import Limits, OrderType, Urgency, compute_deadlines
from workorders.core.lifecycle import RuleContext, Unit, decide
from workorders.core.model import Actor, Order, Role
from workorders.settings import WorkOrderSettings

CST = dt.timezone(dt.timedelta(hours=8))
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("seat", "classify", {"type": "complaint", "category": "城建/物业"}),
    ("seat", "submit", {}),
    ("dispatcher", "dispatch", {"lead_unit": "housing"}),
    ("unit", "sign", {}),
    ("unit", "apply_extension", {"days": 2, "reason": "勘查"}),
    ("dispatcher", "approve_extension", {}),
    ("unit", "reply", {"handling": "a", "resolution": "b", "contact": "c"}),
    ("dispatcher", "approve_reply", {"elements_complete": True, "evidence_matches": True, "measures_clear": True}),
    ("seat", "record_callback", {"reached": True, "satisfaction": "satisfied", "resolved": True}),
    ("dispatcher", "close", {}),
    ("dispatcher", "archive", {}),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deadlines", type=int, default=20000, help="deadline computations")
    parser.add_argument("--orders", type=int, default=5000, help="orders walked through the whole lifecycle")
    parser.add_argument("--seed", type=int, default=12345)


def run(args: argparse.Namespace) -> dict[str, Any]:
    rnd = random.Random(args.seed)
    cal = build_calendar(WorkOrderSettings())
    limits = Limits()
    base = dt.datetime(2025, 1, 1, tzinfo=CST)
    # Random dispatch times over 2025-2026 (before December 2026 so every due date is covered).
    times = [base + dt.timedelta(minutes=rnd.randrange(0, 700 * 24 * 60)) for _ in range(args.deadlines)]
    kinds = [rnd.choice(list(OrderType)) for _ in range(args.deadlines)]
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("deadlines", total=args.deadlines)
        t0 = time.perf_counter()
        for i, (when, kind) in enumerate(zip(times, kinds, strict=True)):
            compute_deadlines(cal, limits, kind, Urgency.SPECIAL, when)
            if i % 1000 == 0:
                progress.update(task, completed=i)
        dl_s = time.perf_counter() - t0
        actors = {
            "seat": Actor("seat", Role.SEAT),
            "dispatcher": Actor("disp", Role.DISPATCHER),
            "unit": Actor("u", Role.UNIT, "housing"),
        }
        directory = {"housing": Unit("housing", "住建局", 1)}
        kinds_attached = frozenset({"evidence"})
        task2 = progress.add_task("lifecycles", total=args.orders)
        t1 = time.perf_counter()
        for n in range(args.orders):
            now = times[n % len(times)]
            order = Order(id=n + 1, created_at=now)
            ctx = RuleContext(
                calendar=cal, now=now, limits=limits, directory=directory, attachment_kinds=kinds_attached
            )
            for role, action, data in STEPS:
                order = decide(order, action, data, actors[role], ctx).order
            if n % 500 == 0:
                progress.update(task2, completed=n)
        lc_s = time.perf_counter() - t1
    return {
        "deadline_sets_per_s": round(args.deadlines / dl_s),
        "deadline_set_us": round(dl_s / args.deadlines * 1e6, 1),
        "lifecycles_per_s": round(args.orders / lc_s),
        "actions_per_s": round(args.orders * len(STEPS) / lc_s),
        "deadlines": args.deadlines,
        "orders": args.orders,
        "machine": machine(),
    }
