"""Where the working calendar's data comes from: the chinesecalendar package, years loaded from
a State Council notice (``hotline calendar load FILE``, kept in the database) and the settings'
override table, in that order of precedence (later wins)."""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workorders.core.calendar import WorkCalendar
from workorders.settings import WorkOrderSettings

logger = logging.getLogger(__name__)


class CalendarFileError(ValueError):
    """A calendar file that cannot be loaded; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class YearData:
    year: int
    holidays: dict[dt.date, str]
    workdays: dict[dt.date, str]
    source: str = ""


def package_years() -> YearData | None:
    """The package's data as one block: holidays and make-up workdays of every year it covers."""
    try:
        from chinese_calendar import constants
    except ImportError:  # pragma: no cover - the package is a pinned dependency
        return None
    return YearData(
        0,
        {d: str(v) for d, v in constants.holidays.items()},
        {d: str(v) for d, v in constants.workdays.items()},
    )


def package_year_range() -> range:
    block = package_years()
    if block is None or not block.holidays:
        return range(0)
    return range(min(block.holidays).year, max(block.holidays).year + 1)


def parse_calendar_file(path: Path) -> YearData:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CalendarFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        doc: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalendarFileError(f"{path}: not a UTF-8 TOML file ({exc}); see workorders/calendars/2027.toml") from None
    year = doc.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise CalendarFileError(f"{path}: `year` must be a year such as 2027")
    holidays: dict[dt.date, str] = {}
    workdays: dict[dt.date, str] = {}
    for i, block in enumerate(doc.get("holiday", []), 1):
        start, end, name = block.get("from"), block.get("to", block.get("from")), str(block.get("name", ""))
        if not isinstance(start, dt.date) or not isinstance(end, dt.date) or isinstance(start, dt.datetime):
            raise CalendarFileError(f"{path}: holiday #{i} needs `from` and `to` as TOML dates (2027-01-01)")
        if end < start:
            raise CalendarFileError(f"{path}: holiday #{i} ({name}) ends before it starts")
        day = start
        while day <= end:
            holidays[day] = name
            day += dt.timedelta(days=1)
    for i, block in enumerate(doc.get("workday", []), 1):
        day = block.get("date")
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise CalendarFileError(f"{path}: workday #{i} needs `date` as a TOML date (2027-02-20)")
        workdays[day] = str(block.get("name", ""))
    for day in [*holidays, *workdays]:
        if day.year != year:
            raise CalendarFileError(f"{path}: {day} is not in year {year}; one file describes one year")
    both = set(holidays) & set(workdays)
    if both:
        raise CalendarFileError(f"{path}: {min(both)} is both a holiday and a workday")
    if not holidays:
        raise CalendarFileError(f"{path}: no [[holiday]] entries; a year without holidays is surely a mistake")
    return YearData(year, holidays, workdays, str(doc.get("source", "")))


def build_calendar(
    wo: WorkOrderSettings, loaded: list[YearData] | None = None, use_package: bool = True
) -> WorkCalendar:
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    years: set[int] = set()
    block = package_years() if use_package else None
    if block is not None:
        holidays |= set(block.holidays)
        workdays |= set(block.workdays)
        years |= set(package_year_range())
    for y in loaded or []:
        # A loaded year is authoritative for that year: drop what the package said about it.
        holidays = {d for d in holidays if d.year != y.year} | set(y.holidays)
        workdays = {d for d in workdays if d.year != y.year} | set(y.workdays)
        years.add(y.year)
    for d in wo.extra_holidays:
        holidays.add(d)
        workdays.discard(d)
    for d in wo.extra_workdays:
        workdays.add(d)
        holidays.discard(d)
    return WorkCalendar.build(holidays, workdays, years, wo.hours, wo.tz)
