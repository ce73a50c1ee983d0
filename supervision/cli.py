"""Commands: ``hotline supervision closure --from --to`` (the 督办 closure measure); the measure is
also added to ``hotline kpi``."""

from __future__ import annotations

import argparse
import json

from hotline.errors import CommandError
from supervision.kpi import cli_section, lines, register_cli
from workorders.api import parse_period
from workorders.core.calendar import CHINA_TZ


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("supervision", help="supervision (督办): the closure measure")
    ssub = p.add_subparsers(dest="supervision_command", metavar="ACTION")
    ssub.required = True
    c = ssub.add_parser("closure", help="supervisions closed by their deadline ÷ supervisions due in the period")
    c.add_argument("--from", dest="start", required=True, help="first day (2026-03-01) or ISO-8601 time")
    c.add_argument("--to", dest="end", required=True, help="last day, included (2026-03-31) or ISO-8601 time, excluded")
    c.add_argument("--unit", help="member unit code")
    c.add_argument("--resolved-only", action="store_true", help="count only closures with the result 办结")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_closure)
    register_cli()


def _closure(args: argparse.Namespace) -> int:
    try:
        start, end = parse_period(args.start, args.end, CHINA_TZ)
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None
    _, data, text = cli_section(start, end, args.unit, resolved_only=args.resolved_only)
    if "error" in data:
        raise CommandError(f"database error ({data['error']}); run `hotline db upgrade` first")
    if args.json:
        print(json.dumps(data["closure"], ensure_ascii=False))
        return 0
    print(f"period {start.isoformat()} .. {end.isoformat()} (end excluded), unit {args.unit or 'all'}")
    print("\n".join(text))
    print(data["closure"]["formula"])
    return 0


__all__ = ["lines", "register"]
