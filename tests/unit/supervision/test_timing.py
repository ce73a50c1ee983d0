"""督办 deadlines in working days on the work orders' calendar: weekends, holidays, make-up days."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervision.core.letter import PREFIX_RE, letter_number, parse_number
from supervision.core.timing import days_left, deadline
from workorders.core.calendar import CHINA_TZ, WorkCalendar, YearNotCovered

# 2026: 国庆 1–7 October off, Saturday 10 October a make-up working day (a calendar as loaded).
HOLIDAYS = [dt.date(2026, 10, d) for d in range(1, 8)]
CAL = WorkCalendar.build(HOLIDAYS, [dt.date(2026, 10, 10)], [2026])


def cn(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHINA_TZ)


def test_one_working_day_from_friday_afternoon_is_monday_afternoon() -> None:
    assert deadline(CAL, cn(2026, 3, 13, 16, 30), 1).at == cn(2026, 3, 16, 16, 30)


def test_opened_in_the_evening_counts_from_the_next_morning() -> None:
    assert deadline(CAL, cn(2026, 3, 10, 20, 0), 1).at == cn(2026, 3, 11, 17, 30)


def test_three_working_days_skip_the_national_holiday_and_count_the_make_up_saturday() -> None:
    # Opened Wednesday 30 September 10:00: Oct 1-7 off, then Thu 8, Fri 9, Sat 10 (make-up day),
    # and Sunday 11 is off again.
    assert deadline(CAL, cn(2026, 9, 30, 10, 0), 1).at == cn(2026, 10, 8, 10, 0)
    assert deadline(CAL, cn(2026, 9, 30, 10, 0), 3).at == cn(2026, 10, 10, 10, 0)
    assert deadline(CAL, cn(2026, 9, 30, 10, 0), 4).at == cn(2026, 10, 12, 10, 0)


def test_a_year_the_calendar_lacks_is_named_not_guessed() -> None:
    with pytest.raises(YearNotCovered) as err:
        deadline(CAL, cn(2026, 12, 30, 10, 0), 5)
    assert err.value.year == 2027


@pytest.mark.parametrize("days", [0, -1, 61])
def test_a_deadline_out_of_range_is_refused(days: float) -> None:
    with pytest.raises(ValueError):
        deadline(CAL, cn(2026, 3, 10, 10, 0), days)


def test_days_left_count_working_days_and_turn_negative_when_overdue() -> None:
    due = cn(2026, 3, 16, 16, 30)
    left = days_left(CAL, cn(2026, 3, 13, 16, 30), due)
    assert (left.days, left.overdue, left.provisional) == (1.0, False, False)
    late = days_left(CAL, cn(2026, 3, 18, 16, 30), due)
    assert (late.days, late.overdue) == (-2.0, True)


def test_days_left_over_a_year_not_loaded_are_provisional_not_an_error() -> None:
    left = days_left(CAL, cn(2026, 12, 31, 9, 0), cn(2027, 1, 4, 9, 0))
    assert left.provisional and left.days == 1.0  # 31 Dec 9:00 → 4 Jan 9:00: 1 Jan off, a weekend


@settings(max_examples=300, deadline=None)
@given(
    opened=st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 11, 30)),
    tenths=st.integers(1, 200),
)
def test_days_left_at_opening_are_the_days_given_and_the_deadline_is_on_working_time(
    opened: dt.datetime, tenths: int
) -> None:
    start = opened.replace(tzinfo=CHINA_TZ)
    due = deadline(CAL, start, tenths / 10).at
    assert due > start and CAL.is_workday(due.date())
    assert days_left(CAL, start, due).days == tenths / 10


@given(
    prefix=st.text(min_size=1, max_size=12).filter(PREFIX_RE.fullmatch),
    year=st.integers(1900, 9999),
    seq=st.integers(1, 10**6),
)
def test_a_letter_number_reads_back_as_its_parts(prefix: str, year: int, seq: int) -> None:
    assert parse_number(letter_number(prefix, year, seq)) == (prefix, year, seq)
