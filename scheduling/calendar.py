"""Default working-day calendar for forecasts: the chinese_calendar package, strict about coverage.

The work-order package keeps the authoritative calendar (with the administrator's override table);
the forecast takes any ``is_working_day(date) -> bool``, and this one serves until that is wired in.
"""

from __future__ import annotations

import logging
from datetime import date

import chinese_calendar

logger = logging.getLogger(__name__)


class CalendarYearMissing(ValueError):
    """The calendar does not cover a year; never guess, name the year."""


def is_working_day(day: date) -> bool:
    """True on State Council working days, make-up workdays (调休上班) included."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        raise CalendarYearMissing(
            f"the working-day calendar has no data for {day.year}; load that year's State Council notice"
        ) from exc
