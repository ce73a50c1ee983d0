"""``hotline roster``: forecast from history (CSV or the database), staff, roster, optionally publish."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from typing import Any

from rich.console import Console
from rich.table import Table

from hotline.errors import CommandError
from scheduling.calendar import is_working_day
from scheduling.core.shifts import Roster, Seat
from scheduling.inputs import CHINA, run_on_database
from scheduling.planning import PlanOptions, plan_roster

logger = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "roster",
        help="forecast, staff and roster the coming days from the interaction history",
        description="History comes from --history CSV (timestamp,channel) or --from-db (stored "
        "interactions). Voice is staffed for TARGET within WITHIN s; web chat and WeChat pool into "
        "the 'internet' group, staffed for the first response with chat concurrency.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--history", help="CSV file: timestamp,channel")
    src.add_argument("--from-db", action="store_true", help="read stored interactions (last 8 weeks)")
    p.add_argument("--start", type=dt.date.fromisoformat, default=None, help="first day (default: tomorrow)")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--voice-seats", type=int, default=0, help="seats with the voice skill only")
    p.add_argument("--internet-seats", type=int, default=0, help="seats with the internet skill only")
    p.add_argument("--blended-seats", type=int, default=0, help="seats that may work either group")
    p.add_argument("--aht", type=float, default=240.0)
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--within", type=float, default=15.0)
    p.add_argument("--patience", type=float, default=None)
    p.add_argument("--chat-aht", type=float, default=300.0)
    p.add_argument("--concurrency", type=int, default=3)
    p.add_argument("--publish", default=None, help="store the roster under this name (database)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _seats(args: argparse.Namespace) -> list[Seat]:
    counts = (args.voice_seats, args.internet_seats, args.blended_seats)
    if min(counts) < 0 or sum(counts) == 0:
        raise CommandError("give the team: --voice-seats, --internet-seats and/or --blended-seats (>= 0, not all 0)")
    seats = [Seat(f"V{i:04d}", frozenset({"voice"})) for i in range(args.voice_seats)]
    seats += [Seat(f"I{i:04d}", frozenset({"internet"})) for i in range(args.internet_seats)]
    seats += [Seat(f"B{i:04d}", frozenset({"voice", "internet"})) for i in range(args.blended_seats)]
    return seats


def summary(need: dict[str, list[int]], roster: Roster) -> dict[str, Any]:
    short = roster.shortfall(need)
    groups = {}
    for group, line in sorted(need.items()):
        on_seat = sum(s.on_seat_slots for s in roster.shifts if s.group == group and s.seat is not None) / 2
        required = sum(line) / 2
        groups[group] = {
            "required_seat_hours": required,
            "on_seat_hours": on_seat,
            "ratio": round(on_seat / required, 4) if required else None,
            "peak_required": max(line, default=0),
            "short_slots": len(short.get(group, [])),
        }
    return {"groups": groups, "shifts": len(roster.shifts), "unassigned_shifts": len(roster.unassigned())}


def run(args: argparse.Namespace) -> int:
    if args.days < 1 or args.days > 62:
        raise CommandError("--days must be between 1 and 62")
    seats = _seats(args)
    start = args.start or (dt.datetime.now(CHINA).date() + dt.timedelta(days=1))
    if args.history:
        from pathlib import Path

        from scheduling.inputs import read_history

        history = read_history(Path(args.history))
    else:
        from scheduling.services import load_history

        since = dt.datetime.combine(start - dt.timedelta(weeks=8), dt.time(), tzinfo=CHINA)
        until = dt.datetime.combine(start, dt.time(), tzinfo=CHINA)
        history = run_on_database(lambda sessions: load_history(sessions, since, until, CHINA))
        if not history:
            raise CommandError("no stored interactions in the 8 weeks before --start; use --history CSV")
    options = PlanOptions(
        aht_s=args.aht,
        target=args.target,
        within_s=args.within,
        patience_s=args.patience,
        chat_aht_s=args.chat_aht,
        concurrency=args.concurrency,
    )
    try:
        need, roster, arrivals = plan_roster(
            history, start, args.days, seats, is_working_day=is_working_day, options=options
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    data = {"start": start.isoformat(), "days": args.days, "seats": len(seats), **summary(need, roster)}
    if args.publish:
        from scheduling.services import publish_roster

        day0 = dt.datetime.combine(start, dt.time(), tzinfo=CHINA)
        data["published"] = run_on_database(
            lambda sessions: publish_roster(sessions, args.publish, roster, day0, need, arrivals)
        )
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    table = Table(title=f"roster {start} + {args.days} days, {len(seats)} seats, {data['shifts']} shifts")
    for col in ("group 技能组", "required h 需求工时", "on seat h 在席工时", "ratio", "peak 峰值", "short 缺员时段"):
        table.add_column(col, justify="right")
    for group, g in data["groups"].items():
        table.add_row(
            group,
            f"{g['required_seat_hours']:.1f}",
            f"{g['on_seat_hours']:.1f}",
            str(g["ratio"]),
            str(g["peak_required"]),
            str(g["short_slots"]),
        )
    Console().print(table)
    if data["unassigned_shifts"]:
        print(f"{data['unassigned_shifts']} shifts found no seat within the rules: add seats or relax the rules")
    if args.publish:
        print(f"published as {args.publish!r}: see /scheduling?roster={args.publish}")
    return 0
