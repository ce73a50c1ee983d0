"""Commands: ``hotline deadlines``, ``hotline calendar load|years``, ``hotline kpi``, ``hotline directory load``."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from hotline.errors import CommandError
from hotline.settings import Settings, load_settings
from workorders.api import KPI_CLI_SECTIONS
from workorders.calendar_source import CalendarFileError, package_year_range, parse_calendar_file
from workorders.core import deadlines as dl
from workorders.core import kpi
from workorders.core.calendar import CalendarError, YearNotCovered

logger = logging.getLogger(__name__)

FIELDS = (
    "dispatched_at",
    "sign_by",
    "return_by",
    "reply_by",
    "extension_apply_by",
    "extension_latest_reply_by",
    "initial_feedback_by",
    "progress_by",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("deadlines", help="when is a work order due? (the engine's own deadline code)")
    p.add_argument("--type", required=True, choices=[t.value for t in dl.OrderType])
    p.add_argument("--urgency", default="general", choices=["general", "special", "special_urgent"])
    p.add_argument("--dispatched", required=True, help="ISO-8601 time, e.g. 2026-03-10T16:30 (local time if no offset)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_deadlines)

    c = sub.add_parser("calendar", help="working calendar: load a year's holidays, list covered years")
    csub = c.add_subparsers(dest="calendar_command", metavar="ACTION")
    csub.required = True
    load = csub.add_parser(
        "load", help="load one year's holidays and make-up workdays (TOML, see workorders/calendars/)"
    )
    load.add_argument("file", type=Path)
    load.set_defaults(func=_calendar_load)
    years = csub.add_parser("years", help="list the years the calendar covers")
    years.set_defaults(func=_calendar_years)

    k = sub.add_parser("kpi", help="work-order KPIs for a period")
    k.add_argument("--from", dest="start", required=True, help="first day (2026-03-01) or ISO-8601 time")
    k.add_argument("--to", dest="end", required=True, help="last day, included (2026-03-31) or ISO-8601 time, excluded")
    k.add_argument("--unit", help="member unit code")
    k.add_argument("--no-basic-satisfied", action="store_true", help="satisfaction counts 满意 only, not 基本满意")
    k.add_argument("--repeat-by-address", action="store_true", help="repeat contacts also match on the same address")
    k.add_argument("--json", action="store_true")
    k.set_defaults(func=_kpi)

    d = sub.add_parser("directory", help="dispatch directory (units with linkage tier) and category tree")
    dsub = d.add_subparsers(dest="directory_command", metavar="ACTION")
    dsub.required = True
    dload = dsub.add_parser("load", help="add or update units and categories from a TOML file")
    dload.add_argument("file", type=Path)
    dload.set_defaults(func=_directory_load)


def _service(settings: Settings) -> Any:
    from hotline.storage import make_engine, make_sessionmaker
    from workorders.services import WorkOrderService
    from workorders.settings import load_workorder_settings

    engine = make_engine(settings.effective_database_url)
    svc = WorkOrderService(make_sessionmaker(engine), load_workorder_settings(settings), settings.data_dir)
    return svc, engine


def _db(coro_factory: Any) -> Any:
    async def run() -> Any:
        settings = load_settings()
        svc, engine = _service(settings)
        try:
            return await coro_factory(svc)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"database error ({type(exc).__name__}); run `hotline db upgrade` first") from None


def _parse_when(text: str, tz: dt.tzinfo) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--dispatched {text!r} is not ISO-8601; write e.g. 2026-03-10T16:30+08:00", 2) from None
    return when if when.tzinfo else when.replace(tzinfo=tz)


def _deadlines(args: argparse.Namespace) -> int:
    from workorders.settings import load_workorder_settings

    settings = load_settings()
    wo = load_workorder_settings(settings)
    when = _parse_when(args.dispatched, wo.tz)
    try:
        cal = _db(lambda svc: svc.refresh_calendar())
    except CommandError:
        # Without a database only the package's years are known; say so if that is the cause.
        from workorders.calendar_source import build_calendar

        logger.info("no database: using the package calendar only")
        cal = build_calendar(wo)
    try:
        result = dl.compute_deadlines(cal, wo.limits(), dl.OrderType(args.type), dl.Urgency(args.urgency), when)
    except (YearNotCovered, CalendarError) as exc:
        raise CommandError(str(exc), 2) from None
    out = {k: v for k, v in result.as_dict().items() if k in FIELDS}
    if args.json:
        print(json.dumps(out))
    else:
        for key in FIELDS:
            print(f"{key:>26}: {out[key] or '-'}")
    return 0


def _calendar_load(args: argparse.Namespace) -> int:
    try:
        year = parse_calendar_file(args.file)
    except CalendarFileError as exc:
        raise CommandError(str(exc), 2) from None

    async def go(svc: Any) -> int:
        await svc.refresh_calendar()
        before = svc.loaded_years
        await svc.store_year(year)
        return len(svc.loaded_years) - len(before)

    _db(go)
    print(
        f"calendar {year.year} loaded: {len(year.holidays)} holiday days, {len(year.workdays)} make-up workdays"
        f" (source: {year.source or 'not given'}); provisional deadlines recomputed"
    )
    return 0


def _calendar_years(args: argparse.Namespace) -> int:
    rng = package_year_range()
    loaded = _db(lambda svc: _loaded(svc))
    print(f"package chinesecalendar: {rng.start}-{rng.stop - 1}")
    print("loaded: " + (", ".join(str(y) for y in loaded) or "none"))
    return 0


async def _loaded(svc: Any) -> tuple[int, ...]:
    await svc.refresh_calendar()
    return tuple(svc.loaded_years)


def _kpi(args: argparse.Namespace) -> int:
    from workorders.reports import kpi_report, parse_period
    from workorders.settings import load_workorder_settings

    wo = load_workorder_settings(load_settings())
    try:
        start, end = parse_period(args.start, args.end, wo.tz)
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None
    options = kpi.KpiOptions(
        count_basically_satisfied=not args.no_basic_satisfied,
        repeat_window_days=wo.repeat_window_days,
        repeat_match_address=args.repeat_by_address,
    )
    rep = _db(lambda svc: kpi_report(svc, start, end, args.unit, options))
    extra = [section(start, end, args.unit) for section in KPI_CLI_SECTIONS]  # other features'
    rep.update({key: data for key, data, _ in extra})
    if args.json:
        print(json.dumps(rep, ensure_ascii=False))
        return 0
    print(f"period {rep['from']} .. {rep['to']} (end excluded), unit {rep['unit'] or 'all'}, as of {rep['as_of']}")
    for name, r in rep["kpis"].items():
        pct = "n/a" if r["percent"] is None else f"{r['percent']:.2f}%"
        print(f"{name:>20}: {pct:>8}  ({r['numerator']}/{r['denominator']})")
    print("options: " + ", ".join(f"{k}={v}" for k, v in rep["options"].items()))
    for _key, _data, lines in extra:
        print("\n".join(lines))
    return 0


def _directory_load(args: argparse.Namespace) -> int:
    try:
        doc = tomllib.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CommandError(f"{args.file}: {exc}; see workorders/samples/directory.toml", 2) from None
    units, cats = doc.get("unit", []), doc.get("category", [])
    from workorders.admin import InputError

    try:
        _db(lambda svc: svc.put_directory(units, cats))
    except InputError as exc:
        raise CommandError(f"{args.file}: {exc}", 2) from None
    print(f"directory: {len(units)} units, {len(cats)} categories loaded")
    return 0
