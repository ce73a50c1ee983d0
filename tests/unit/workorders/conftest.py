import datetime as dt

import pytest

from workorders.calendar_source import build_calendar
from workorders.core.calendar import WorkCalendar
from workorders.settings import WorkOrderSettings

CST = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """Local China time from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.fixture(scope="session")
def cal() -> WorkCalendar:
    return build_calendar(WorkOrderSettings())
