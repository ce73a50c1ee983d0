"""IVR benchmark: flow loading and validation, the session interpreter, prompt generation.

``hotline bench ivr --json`` (small: ``--calls 500 --nodes 200 --no-prompts``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from hotline.commands.bench import machine
from ivr.core.flowfile import parse_flow
from ivr.core.messages import (
    CollectDigits,
    DigitsReceived,
    DigitTimeout,
    LookupAnswered,
    LookupWorkOrder,
    PromptFinished,
    RecordingFinished,
    RecordMessage,
)
from ivr.core.session import IvrSession
from ivr.prompts import generate, load_catalog

CITY = Path(__file__).resolve().parents[1] / "ivr" / "flows" / "city.toml"
KEYS = ["0", "1", "2", "3", "4", "9", "7", "20251126001#", None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=20000, help="simulated calls through the city flow")
    parser.add_argument("--nodes", type=int, default=2000, help="nodes of the synthetic flow to validate")
    parser.add_argument("--loads", type=int, default=200, help="times the city flow is parsed and checked")
    parser.add_argument("--no-prompts", action="store_true", help="skip generating the prompt set")
    parser.add_argument("--seed", type=int, default=12345)


def synthetic_flow(n: int) -> str:
    """A chain of menus, each with a way on, a way back and a queue: n nodes in all."""
    lines = ['[flow]\nname = "big"\nstart = "m0"\n']
    menus = max(1, (n - 1) // 2)
    for i in range(menus):
        nxt = f"m{i + 1}" if i + 1 < menus else "q_end"
        back = f"m{i - 1}" if i else "q_end"
        lines.append(
            f'[nodes.m{i}]\ntype = "menu"\nprompt = "menu_main"\n'
            f'choices = {{ 1 = "{nxt}", 2 = "{back}", 0 = "q{i}" }}\non_failure = "q{i}"\n'
            f'[nodes.q{i}]\ntype = "queue"\nqueue = "general"\n'
        )
    lines.append('[nodes.q_end]\ntype = "queue"\nqueue = "general"\n')
    return "\n".join(lines)


def walk(session: IvrSession, rng: random.Random) -> int:
    out = session.start()
    events = 0
    while not session.finished:
        last = out[-1]
        if isinstance(last, CollectDigits):
            key = rng.choice(KEYS)
            out = session.on_event(DigitTimeout() if key is None else DigitsReceived(key))
        elif isinstance(last, LookupWorkOrder):
            out = session.on_event(LookupAnswered(True, "handling"))
        elif isinstance(last, RecordMessage):
            out = session.on_event(RecordingFinished(5.0))
        else:
            out = session.on_event(PromptFinished())
        events += 1
    return events


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    text = CITY.read_text(encoding="utf-8")
    catalog = load_catalog()
    result: dict[str, Any] = {"benchmark": "ivr"}
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("load city flow", total=args.loads)
        times = []
        for _ in range(args.loads):
            t0 = time.perf_counter()
            flow = parse_flow(text, str(CITY), prompts=set(catalog), queues={"general", "business", "dialect"})
            times.append(time.perf_counter() - t0)
            bar.advance(task)
        result["city_flow_load_ms_median"] = round(statistics.median(times) * 1000, 3)

        big = synthetic_flow(args.nodes)
        t0 = time.perf_counter()
        big_flow = parse_flow(big, "big.toml")
        result["synthetic_flow_nodes"] = len(big_flow.nodes)
        result["synthetic_flow_load_ms"] = round((time.perf_counter() - t0) * 1000, 1)

        task = bar.add_task("simulated calls", total=args.calls)
        start = dt.datetime(2026, 11, 23, 0, 0)
        events = 0
        t0 = time.perf_counter()
        for i in range(args.calls):
            now = start + dt.timedelta(minutes=rng.randrange(7 * 24 * 60))
            caller = rng.choice(["13812345678", "13900000000", "13000000000", "02112345678"])
            events += walk(IvrSession(flow, caller, now, calendar=lambda d: d.weekday() < 5), rng)
            if i % 500 == 0:
                bar.update(task, completed=i)
        elapsed = time.perf_counter() - t0
        result["calls"] = args.calls
        result["calls_per_s"] = round(args.calls / elapsed)
        result["events_per_s"] = round(events / elapsed)
        result["us_per_event"] = round(elapsed / max(1, events) * 1e6, 2)

        if not args.no_prompts:
            task = bar.add_task("prompts", total=len(catalog))
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                generate(Path(tmp), catalog, jobs=4, progress=lambda _: bar.advance(task))
                result["prompts"] = len(catalog)
                result["prompt_generation_s"] = round(time.perf_counter() - t0, 2)
    result["machine"] = machine()
    return result
