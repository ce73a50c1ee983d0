"""The period of a KPI report, as every report reads it (work orders', the knowledge base's units')."""

from __future__ import annotations

import datetime as dt


def parse_period(start: str, end: str, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """``--from 2026-03-01 --to 2026-03-31``: dates are whole local days, ``to`` included;
    full ISO-8601 times are taken as they are (``to`` then excluded)."""

    def one(text: str, name: str, end_of_day: bool) -> dt.datetime:
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end_of_day else 0)
                return dt.datetime.combine(day, dt.time(0), tzinfo=tz)
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not an ISO-8601 date (2026-03-01) or time") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)

    a, b = one(start, "from", False), one(end, "to", True)
    if b <= a:
        raise ValueError("to must be after from")
    return a, b
