"""Commands: ``hotline staffing`` (seats for a target) and ``hotline forecast`` (from a CSV history)."""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hotline.errors import CommandError
from scheduling.calendar import is_working_day
from scheduling.core import forecast as fc
from scheduling.core import staffing
from scheduling.inputs import read_history

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "staffing",
        help="seats needed for a service-level target (Erlang C; Erlang A with --patience)",
        description="Seats needed so that TARGET of contacts are answered within WITHIN seconds. "
        "Voice uses Erlang C, or Erlang A when --patience is given; --channel chat treats each "
        "internet seat as CONCURRENCY parallel slots (first-response target).",
    )
    p.add_argument("--arrivals-per-hour", type=float, required=True, help="contacts per hour (来话量/小时)")
    p.add_argument("--aht", type=float, required=True, help="average handle time in seconds (平均处理时长)")
    p.add_argument("--target", type=float, default=0.95, help="service-level target, 0..1 (default 0.95)")
    p.add_argument("--within", type=float, default=None, help="answer threshold in seconds (default 15 voice, 60 chat)")
    p.add_argument("--patience", type=float, default=None, help="mean caller patience in seconds: Erlang A")
    p.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time off the phones, 0..1")
    p.add_argument("--channel", choices=("voice", "chat"), default="voice")
    p.add_argument("--concurrency", type=int, default=None, help="chats one internet seat holds (chat only)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_staffing)

    f = sub.add_parser(
        "forecast",
        help="forecast contacts per 30-minute interval and channel from a CSV history",
        description="Reads CSV rows 'timestamp,channel' (ISO local time, header optional) and forecasts "
        "the following days; --holdout N instead reports MAPE on the last N days.",
    )
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument("--history", type=Path, help="CSV file: timestamp,channel")
    src.add_argument("--from-db", action="store_true", help="stored interactions of the last --weeks weeks")
    f.add_argument("--start", type=date.fromisoformat, default=None, help="first day (default: after history)")
    f.add_argument("--days", type=int, default=7, help="days to forecast (default 7)")
    f.add_argument("--interval", type=int, default=30, help="interval minutes (default 30)")
    f.add_argument("--weeks", type=int, default=8, help="weeks of history for the profile (default 8)")
    f.add_argument("--trend-days", type=int, default=28, help="days for the trend line (0: no trend)")
    f.add_argument("--holdout", type=int, default=0, help="report accuracy on the last N days instead")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.set_defaults(func=_forecast)

    d = sub.add_parser(
        "simulate-day",
        help="one simulated day through the ACD core with the generated roster (and a surge)",
        description="Plans a day (forecast, Erlang seats, roster), plays Poisson calls through the ACD "
        "core and reports the 15-second rate per half hour; --surge-at HH:MM triples arrivals for an "
        "hour and lets the shift manager's desk call cloud seats.",
    )
    d.add_argument("--calls", type=float, default=8000.0, help="calls in the day (default 8000)")
    d.add_argument("--aht", type=float, default=240.0, help="talk time in seconds (wrap-up is added)")
    d.add_argument("--patience", type=float, default=180.0, help="mean caller patience in seconds")
    d.add_argument("--surge-at", default=None, help="start of a one-hour surge, HH:MM on a half hour")
    d.add_argument("--surge-factor", type=float, default=3.0)
    d.add_argument("--no-response", action="store_true", help="the manager does nothing")
    d.add_argument("--seed", type=int, default=12345)
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.set_defaults(func=_simulate_day)

    from scheduling.cli_roster import add_parser

    add_parser(sub)


def _finite(value: Any) -> Any:
    # JSON has no Infinity: an unreachable ASA (overload) is printed as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _staffing(args: argparse.Namespace) -> int:
    channel = args.channel
    if channel == "voice" and args.concurrency not in (None, 1):
        raise CommandError("--concurrency applies to --channel chat; voice seats take one call at a time")
    concurrency = args.concurrency if args.concurrency is not None else 1
    within = args.within if args.within is not None else (15.0 if channel == "voice" else 60.0)
    try:
        result = staffing.plan(
            args.arrivals_per_hour,
            args.aht,
            args.target,
            within,
            patience_s=args.patience,
            shrinkage=args.shrinkage,
            channel=channel,
            concurrency=concurrency,
        )
    except ValueError as exc:
        raise CommandError(f"{exc}; see hotline staffing --help") from exc
    data = {k: _finite(v) for k, v in asdict(result).items()}
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    asa = "unbounded" if not math.isfinite(result.asa_s) else f"{result.asa_s:.1f} s"
    rows = [
        ("model 模型", result.model.replace("_", " ").title()),
        ("traffic 话务量", f"{result.traffic:.2f} Erlang"),
        ("seats on line 在线座席", str(result.seats)),
        ("seats to schedule 排班座席", f"{result.scheduled_seats} (shrinkage {result.shrinkage:.0%})"),
        (f"service level 服务水平 ({within:g} s)", f"{result.service_level:.2%} (target {result.target:.0%})"),
        ("ASA 平均应答速度", asa),
        ("occupancy 占用率", f"{result.occupancy:.1%}"),
        ("wait probability 排队概率", f"{result.wait_probability:.2%}"),
    ]
    if result.abandonment is not None:
        rows.append(("abandonment 放弃率", f"{result.abandonment:.2%}"))
    if channel == "chat":
        rows.insert(3, ("chats per seat 并发数", str(result.concurrency)))
    # rich measures CJK characters as two columns, so the labels line up.
    table = Table(show_header=False, box=None)
    table.add_column(justify="left")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)
    return 0


def _history_from_db(args: argparse.Namespace) -> list[tuple[datetime, str]]:
    from scheduling.inputs import CHINA, run_on_database
    from scheduling.services import load_history

    today = datetime.now(CHINA).date()
    end = args.start or today
    since = datetime.combine(
        end - timedelta(weeks=args.weeks) - timedelta(days=args.holdout), datetime.min.time(), tzinfo=CHINA
    )
    until = datetime.combine(end, datetime.min.time(), tzinfo=CHINA)
    rows: list[tuple[datetime, str]] = run_on_database(lambda sessions: load_history(sessions, since, until, CHINA))
    if not rows:
        raise CommandError("no stored interactions before the forecast start; use --history CSV")
    return rows


def _forecast(args: argparse.Namespace) -> int:
    history = read_history(args.history) if args.history else _history_from_db(args)
    try:
        if args.holdout:
            reports = fc.backtest(
                history,
                args.holdout,
                is_working_day=is_working_day,
                interval_minutes=args.interval,
                weeks=args.weeks,
                trend_days=args.trend_days,
            )
            data: dict[str, Any] = {"holdout_days": args.holdout, "accuracy": [asdict(r) for r in reports]}
            if args.json:
                print(json.dumps(data, ensure_ascii=False))
            else:
                for r in reports:
                    print(
                        f"{r.channel:<8} days {r.days}  interval MAPE {r.interval_mape:.1f}%  "
                        f"daily MAPE {r.daily_mape:.1f}%  WAPE {r.wape:.1f}%"
                    )
            return 0
        start = args.start or (max(at for at, _ in history).date() + timedelta(days=1))
        result = fc.forecast(
            history,
            start,
            args.days,
            is_working_day=is_working_day,
            interval_minutes=args.interval,
            weeks=args.weeks,
            trend_days=args.trend_days,
        )
    except ValueError as exc:
        raise CommandError(f"{exc}") from exc
    if args.json:
        out = {
            "interval_minutes": result.interval_minutes,
            "channels": {
                ch: {d.isoformat(): [round(v, 3) for v in row] for d, row in sorted(days.items())}
                for ch, days in result.values.items()
            },
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    for ch, days in sorted(result.values.items()):
        for d, row in sorted(days.items()):
            peak = max(range(len(row)), key=lambda i: row[i])
            minute = peak * result.interval_minutes
            print(f"{ch:<8} {d}  total {sum(row):8.1f}  peak {minute // 60:02d}:{minute % 60:02d} ({row[peak]:.1f})")
    return 0


def _surge_interval(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        hour, minute = (int(p) for p in text.split(":"))
    except ValueError:
        raise CommandError(f"--surge-at {text!r}: give a time like 10:00 or 14:30") from None
    if not (0 <= hour < 24 and minute in (0, 30)):
        raise CommandError(f"--surge-at {text!r}: give a half hour between 00:00 and 23:30")
    return min(hour * 2 + minute // 30, 46)


def _simulate_day(args: argparse.Namespace) -> int:
    from scheduling.sim import SimConfig, simulate_day

    if args.calls <= 0 or args.aht <= 0 or args.patience <= 0 or args.surge_factor <= 0:
        raise CommandError("--calls, --aht, --patience and --surge-factor must be > 0")
    config = SimConfig(
        calls_per_day=args.calls,
        aht_s=args.aht,
        patience_s=args.patience,
        surge_interval=_surge_interval(args.surge_at),
        surge_factor=args.surge_factor,
        respond_to_surge=not args.no_response,
        seed=args.seed,
    )
    result = simulate_day(config)
    intervals: list[dict[str, Any]] = [
        {
            "start": f"{i // 2:02d}:{i % 2 * 30:02d}",
            "arrivals": v.arrivals,
            "rate_15s": round(v.rate, 4),
            "required": result.required[i],
        }
        for i, v in enumerate(result.intervals)
    ]
    data: dict[str, Any] = {
        "day_rate_15s": round(result.day_rate, 4),
        "arrivals": sum(i.arrivals for i in result.intervals),
        "abandoned": sum(i.abandoned for i in result.intervals),
        "roster_shifts": len(result.roster.shifts),
        "cloud_seats_peak": result.cloud_seats_peak,
        "intervals": intervals,
        "actions": result.actions,
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    table = Table(title=f"15 秒接通率 day {data['day_rate_15s']:.2%}, cloud seats peak {result.cloud_seats_peak}")
    for col in ("时段", "来话", "需座席", "15秒接通率"):
        table.add_column(col, justify="right")
    for row in intervals:
        table.add_row(row["start"], str(row["arrivals"]), str(row["required"]), f"{row['rate_15s']:.1%}")
    Console().print(table)
    for action in result.actions:
        print(f"{action['at_s'] / 3600:5.2f} h  {action['who']}: {action['action']} — {action['why']}")
    return 0
