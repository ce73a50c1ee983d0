"""The capacity phase of ``hotline bench voice``: the call rate raised step by step for both
engines (alternating which goes first) until each one fails twice in a row, and each one's
knee: the highest rate it carried with no failed call, no CANCEL to a seat and p99 within the
limit. Above the knee failed calls are the measurement, not losses; a caller answered by two
seats at once is never acceptable."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from bench.voice.plan import CAPACITY_PATIENCE_MS, Plan, cap_rates, steady

RunPlan = Callable[[Plan], Awaitable[tuple[dict[str, Any], list[str]]]]
STEP_KEYS = (
    "calls",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "failed",
    "lost",
    "doubled",
    "seat_cancels",
    "engine_cpu_ms_per_call",
    "asterisk_cpu_ms_per_call",
    "asterisk_overload",
)


def step_ok(metrics: dict[str, Any], p99_limit_ms: float) -> bool:
    """A step carried: every call connected, no seat's ring cancelled (overload on the seat
    side: a caller who gave up while it rang), and p99 within the limit."""
    p99 = metrics.get("p99_ms")
    return (
        metrics.get("failed", 1) == 0
        and metrics.get("seat_cancels", 1) == 0
        and p99 is not None
        and p99 <= p99_limit_ms
    )


def knee(steps: list[dict[str, Any]], engine: str) -> float | None:
    """The highest rate the engine carried (None if it carried none)."""
    carried = [s["rate"] for s in steps if engine in s and s[engine].get("ok")]
    return max(carried) if carried else None


async def ramp(args: argparse.Namespace, engines: list[str], run_plan: RunPlan) -> tuple[dict[str, Any], list[str]]:
    failing = dict.fromkeys(engines, 0)
    steps: list[dict[str, Any]] = []
    losses: list[str] = []
    for i, rate in enumerate(cap_rates(args.cap_rates)):
        going = [e for e in (engines if i % 2 == 0 else engines[::-1]) if failing[e] < args.cap_stop_after]
        if not going:
            break
        step: dict[str, Any] = {"rate": rate}
        for engine in going:
            plan = steady(args, engine, f"cap@{rate:g}", rate, args.cap_seconds, CAPACITY_PATIENCE_MS)
            metrics, lines = await run_plan(plan)
            losses += lines  # only doubled callers and a crashed engine: failures here are the measure
            row = {k: metrics.get(k) for k in STEP_KEYS}
            row["ok"] = step_ok(metrics, args.cap_p99_ms)
            failing[engine] = 0 if row["ok"] else failing[engine] + 1
            step[engine] = row
        steps.append(step)
    out = {f"{e}_knee_cps": knee(steps, e) for e in engines}
    out.update(
        {
            "p99_limit_ms": args.cap_p99_ms,
            "step_seconds": args.cap_seconds,
            "patience_s": CAPACITY_PATIENCE_MS / 1000,
            "stop_after_failed_steps": args.cap_stop_after,
            "steps": steps,
        }
    )
    return out, losses
