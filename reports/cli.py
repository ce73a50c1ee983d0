"""Commands: ``hotline reports daily --date 2026-03-10 [--out r.pdf]``, ``hotline reports monthly
--month 2026-03``, ``hotline reports alerts``, ``hotline reports quality --date 2026-03-10``. A
report (or a day's quality run) already stored is printed as stored; ``--replace`` makes it again
from the stored data."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from hotline.errors import CommandError
from hotline.settings import load_settings

T = TypeVar("T")
WRITERS = {".json", ".html", ".pdf", ".xlsx"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("reports", help="reports (运行日报, 月度通报) and spike alerts")
    rsub = p.add_subparsers(dest="reports_command", metavar="ACTION")
    rsub.required = True
    d = rsub.add_parser("daily", help="the daily report of a date (made and stored if not yet)")
    d.add_argument("--date", required=True, help="YYYY-MM-DD")
    m = rsub.add_parser("monthly", help="the monthly unit report of a month (made and stored if not yet)")
    m.add_argument("--month", required=True, help="YYYY-MM")
    for q in (d, m):
        q.add_argument("--replace", action="store_true", help="make it again from the stored data")
        q.add_argument("--out", type=Path, help="write it as .json, .html, .pdf or .xlsx (default: JSON on stdout)")
    d.set_defaults(func=_daily)
    m.set_defaults(func=_monthly)
    a = rsub.add_parser("alerts", help="the latest spike alerts as JSON")
    a.set_defaults(func=_alerts)
    q = rsub.add_parser(
        "quality", help="a day's data quality findings (数据质检) as JSON, checked and stored if not yet"
    )
    q.add_argument("--date", required=True, help="YYYY-MM-DD")
    q.add_argument("--replace", action="store_true", help="check the day again")
    q.set_defaults(func=_quality)


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    from hotline.storage import make_engine, make_sessionmaker
    from reports.services import ReportService
    from reports.settings import load_report_settings

    async def go() -> T:
        settings = load_settings()
        engine = make_engine(settings.effective_database_url)
        try:
            return await work(ReportService(make_sessionmaker(engine), load_report_settings(settings)))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _write(data: dict[str, Any], out: Path | None) -> int:
    from reports import render

    if out is None:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return 0
    if out.suffix not in WRITERS:
        raise CommandError(f"--out: write .json, .html, .pdf or .xlsx, not {out.suffix or 'no suffix'}", 2)
    if out.suffix == ".json":
        out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    elif out.suffix == ".html":
        out.write_text(render.html(data), encoding="utf-8")
    else:
        out.write_bytes(render.pdf(data) if out.suffix == ".pdf" else render.xlsx(data))
    print(f"written {out}")
    return 0


def _daily(args: argparse.Namespace) -> int:
    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        raise CommandError(f"--date: {args.date!r} is not YYYY-MM-DD", 2) from None
    data = _run(lambda svc: svc.daily(day, replace=args.replace, by="cli"))
    return _write(data, args.out)


def _monthly(args: argparse.Namespace) -> int:
    try:
        year, month = (int(x) for x in args.month.split("-"))
        dt.date(year, month, 1)
    except ValueError:
        raise CommandError(f"--month: {args.month!r} is not YYYY-MM", 2) from None
    data = _run(lambda svc: svc.monthly(year, month, replace=args.replace, by="cli"))
    return _write(data, args.out)


def _alerts(args: argparse.Namespace) -> int:
    alerts = _run(lambda svc: svc.alerts())
    sys.stdout.write(json.dumps({"alerts": alerts}, ensure_ascii=False) + "\n")
    return 0


def _quality(args: argparse.Namespace) -> int:
    """Exit 0 with the findings as JSON; 1 when there is any (a script can tell a clean day)."""
    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        raise CommandError(f"--date: {args.date!r} is not YYYY-MM-DD", 2) from None
    data = _run(lambda svc: svc.quality.run(day, replace=args.replace, by="cli"))
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    return 1 if any(data["counts"].values()) else 0
