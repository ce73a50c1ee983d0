"""Invariants of working-time arithmetic over the whole of 2025-2026."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.workorders.conftest import CST
from workorders.calendar_source import build_calendar
from workorders.settings import WorkOrderSettings

CAL = build_calendar(WorkOrderSettings())
starts = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 11, 30)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=CST)
)
amounts = st.integers(min_value=0, max_value=10 * 450).map(lambda m: dt.timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(starts, amounts)
def test_adding_working_time_adds_exactly_that_much_working_time(start, amount):
    end = CAL.add_working(start, amount).at
    assert end >= start
    assert CAL.working_between(start, end) == amount


@settings(max_examples=150, deadline=None)
@given(starts, amounts)
def test_subtracting_working_time_leaves_exactly_that_much_before_the_end(end, amount):
    start = CAL.sub_working(end, amount).at
    assert start <= end
    assert CAL.working_between(start, end) == amount


@settings(max_examples=100, deadline=None)
@given(starts, amounts, amounts)
def test_a_longer_limit_never_ends_earlier(start, a, b):
    lo, hi = sorted((a, b))
    assert CAL.add_working(start, lo).at <= CAL.add_working(start, hi).at


@settings(max_examples=100, deadline=None)
@given(starts, st.integers(min_value=1, max_value=10 * 450).map(lambda m: dt.timedelta(minutes=m)))
def test_a_positive_limit_always_ends_on_a_working_day_inside_working_hours(start, amount):
    end = CAL.add_working(start, amount).at
    assert CAL.is_workday(end.date())
    assert any(a < end.time() <= b for a, b in CAL.hours.periods)
