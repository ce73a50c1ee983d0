"""The one-working-day-ahead rule: a unit submits an entry whose policy takes effect on day D at
least one working day before D, on the official working calendar (make-up workdays included).

"One working day before D" is one working day's length of working time (7.5 h by default) before
D begins, the engine's convention for every working-day limit (docs/knowledge.md): for a Monday D
the deadline is Friday at the start of working hours; Thursday 17:00 is on time, Friday 09:00 is late.
A late submission is accepted, flagged and counted, never refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from workorders.core.calendar import WorkCalendar


@dataclass(frozen=True)
class SubmitCheck:
    deadline: dt.datetime
    late: bool
    provisional: bool  # the deadline rests on a year the calendar does not know yet


def submit_deadline(cal: WorkCalendar, takes_effect: dt.date, days: float = 1.0) -> tuple[dt.datetime, bool]:
    start = dt.datetime.combine(takes_effect, dt.time(0, 0), tzinfo=cal.tz)
    instant = cal.sub_working_days(start, days, allow_provisional=True)
    return instant.at, instant.provisional


def check_submission(
    cal: WorkCalendar, takes_effect: dt.date | None, submitted_at: dt.datetime, days: float = 1.0
) -> SubmitCheck | None:
    """None when the entry names no effective date (the rule does not apply)."""
    if takes_effect is None:
        return None
    deadline, provisional = submit_deadline(cal, takes_effect, days)
    return SubmitCheck(deadline, cal.local(submitted_at) > deadline, provisional)
