"""The JSON of ``hotline bench voice``: each engine's figures in the issue's shape, every run's
details, the capacity knees, the cost per call, and the losses."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from bench.voice.plan import ENGINES
from hotline.commands.bench import machine

_P1 = ("p50_ms", "p99_ms")
_P2 = ("sl15", "reuse_gap_p50_ms", "connect_p50_ms", "connect_p99_ms", "connect_max_ms", "announcements")


def _median(values: list[Any]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def summary(
    args: argparse.Namespace,
    results: dict[str, dict[str, Any]],
    engines: list[str],
    rates: list[float],
    capacity: dict[str, Any] | None = None,
    losses: list[str] | None = None,
) -> dict[str, Any]:
    """``results`` maps ``<label>/<engine>`` to one run's figures (phases 1 and 2)."""
    out: dict[str, Any] = {}
    first = f"p1@{rates[0]:g}"
    for engine in ENGINES:
        # the first rate's runs (one, or --repeat): the median of their p50s and p99s
        runs = [
            r
            for label, r in results.items()
            if label.split("#")[0].split("/")[0] == first and label.endswith(f"/{engine}")
        ]
        mine = [r for label, r in results.items() if label.endswith(f"/{engine}")]
        p2 = results.get(f"p2/{engine}", {})
        row: dict[str, Any] = {k: (round(statistics.median(r[k] for r in runs), 2) if runs else None) for k in _P1}
        row["failed"] = sum(r["failed"] for r in runs) if runs else None
        # lost and doubled over every run of phases 1 and 2, not the first rate's only
        row["lost"] = sum(r.get("lost", 0) for r in mine) if mine else None
        row["doubled"] = sum(r.get("doubled", 0) for r in mine) if mine else None
        row.update({k: p2.get(k) for k in _P2})
        # Cost per call routed: the phase 1 runs of the first rate, else whatever ran.
        costed = runs or mine
        if engine == "engine":
            row["engine_cpu_ms_per_call"] = _median([r.get("engine_cpu_ms_per_call") for r in costed])
        row["asterisk_cpu_ms_per_call"] = _median([r.get("asterisk_cpu_ms_per_call") for r in costed])
        out[engine] = row
    e, q = out["engine"]["p99_ms"], out["app_queue"]["p99_ms"]
    out["p99_ratio"] = round(e / q, 2) if e is not None and q else None
    if args.repeat > 1:  # each pair's own ratio, to see the spread
        out["p99_ratios"] = [
            round(results[f"{first}#{r + 1}/engine"]["p99_ms"] / results[f"{first}#{r + 1}/app_queue"]["p99_ms"], 2)
            for r in range(args.repeat)
            if f"{first}#{r + 1}/engine" in results and f"{first}#{r + 1}/app_queue" in results
        ]
    # The cost per contact: the engine's own process, per call routed end to end;
    # Asterisk's share beside it for both engines (app_queue routes inside Asterisk).
    out["engine_cpu_ms_per_call"] = out["engine"]["engine_cpu_ms_per_call"]
    out["asterisk_cpu_ms_per_call"] = {k: out[k]["asterisk_cpu_ms_per_call"] for k in ENGINES}
    if capacity is not None:
        out["capacity"] = capacity
        if out["engine_cpu_ms_per_call"] is None:  # only the capacity phase ran: its lowest step
            low = [s["engine"] for s in capacity["steps"] if "engine" in s]
            out["engine_cpu_ms_per_call"] = low[0].get("engine_cpu_ms_per_call") if low else None
    out["losses"] = losses or []
    out["machine"] = machine()
    out["phase1"] = {label: r for label, r in results.items() if label.startswith("p1")}
    out["phase2"] = {label: r for label, r in results.items() if label.startswith("p2")}
    hold2 = (args.answer_min + args.answer_max) / 2 + (args.talk2_min + args.talk2_max) / 2
    out["params"] = {
        "rates": rates,
        "phase1_seconds": args.phase1_seconds,
        "repeat": args.repeat,
        "seats1": args.seats1,
        "answer_s": [args.answer_min, args.answer_max],
        "talk1_s": args.talk1,
        "phase2_minutes": args.phase2_minutes,
        "seats2": args.seats2,
        "talk2_s": [args.talk2_min, args.talk2_max],
        "load": args.load,
        "arrivals_per_s": round(args.load * args.seats2 / hold2, 4),
        "patience_s": args.patience,
        "announce_every_s": args.announce_every,
        "sl_target_s": 15.0,
        "sl_formula": "answered by a seat within 15 s of the INVITE / all calls (abandons included)",
        "engines": engines,
        "engine_records": not args.no_records,
        "load_nice": args.load_nice,
        "after_restart": args.after_restart,
        "seed": args.seed,
    }
    return out
