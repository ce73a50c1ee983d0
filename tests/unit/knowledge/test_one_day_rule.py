"""The one-working-day-ahead rule on the official calendar: weekends, holidays, make-up workdays."""

import datetime as dt
from pathlib import Path

import pytest

from knowledge.core import lifecycle as lc
from knowledge.core.model import Actor, Content, State
from knowledge.core.timing import check_submission, submit_deadline
from workorders.calendar_source import build_calendar, parse_calendar_file
from workorders.core.calendar import WorkCalendar
from workorders.settings import WorkOrderSettings

CST = dt.timezone(dt.timedelta(hours=8))
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    year = parse_calendar_file(ROOT / "workorders" / "calendars" / "2027.toml")
    return build_calendar(WorkOrderSettings(), [year])


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


def test_for_a_monday_the_deadline_is_the_friday_before_at_the_start_of_work(cal):
    deadline, provisional = submit_deadline(cal, dt.date(2026, 3, 16))
    assert deadline == at("2026-03-13 08:30") and not provisional
    assert not check_submission(cal, dt.date(2026, 3, 16), at("2026-03-12 17:00")).late
    assert not check_submission(cal, dt.date(2026, 3, 16), at("2026-03-13 08:30")).late
    assert check_submission(cal, dt.date(2026, 3, 16), at("2026-03-13 09:00")).late
    # The weekend between is no working time.
    assert check_submission(cal, dt.date(2026, 3, 16), at("2026-03-14 10:00")).late


def test_a_holiday_before_the_effective_date_moves_the_deadline_back(cal):
    # 2026 National Day: 10-01..10-07 off. A policy taking effect on Thursday 10-08 must be
    # submitted before work starts on the last working day before the holiday: Wednesday 09-30.
    deadline, provisional = submit_deadline(cal, dt.date(2026, 10, 8))
    assert deadline == at("2026-09-30 08:30") and not provisional
    assert not check_submission(cal, dt.date(2026, 10, 8), at("2026-09-29 17:00")).late
    assert check_submission(cal, dt.date(2026, 10, 8), at("2026-10-05 10:00")).late


def test_a_make_up_saturday_is_the_working_day_before_a_monday(cal):
    # Saturday 2026-10-10 is a make-up workday (国庆调休): for Monday 10-12 it is the last one.
    assert cal.is_workday(dt.date(2026, 10, 10))
    assert submit_deadline(cal, dt.date(2026, 10, 12))[0] == at("2026-10-10 08:30")
    assert not check_submission(cal, dt.date(2026, 10, 12), at("2026-10-09 16:00")).late


def test_a_make_up_workday_counts_as_a_working_day(cal):
    # 2027 sample calendar: Saturday 2027-02-20 is a make-up workday (春节调休).
    assert cal.is_workday(dt.date(2027, 2, 20))
    deadline, _ = submit_deadline(cal, dt.date(2027, 2, 22))  # Monday
    assert deadline == at("2027-02-20 08:30")
    assert not check_submission(cal, dt.date(2027, 2, 22), at("2027-02-19 16:00")).late
    assert check_submission(cal, dt.date(2027, 2, 22), at("2027-02-20 10:00")).late


def test_no_effective_date_means_the_rule_does_not_apply(cal):
    assert check_submission(cal, None, at("2026-03-13 09:00")) is None


def test_a_year_the_calendar_does_not_know_gives_a_provisional_deadline():
    deadline, provisional = submit_deadline(WorkCalendar(), dt.date(2031, 3, 17))  # a Monday
    assert provisional and deadline == at("2031-03-14 08:30")


def test_a_late_submission_is_accepted_flagged_and_counted(cal):
    content = Content(
        question="新政策",
        answer="内容",
        category="社会保障",
        scope="city",
        unit="hrss",
        effective_date=dt.date(2026, 3, 16),
    )
    unit = Actor("hr1", "unit", "hrss")
    draft = lc.decide(None, lc.Create("kb-1", content), unit, lc.Context(at("2026-03-10 09:00"), cal)).entry
    late = lc.decide(draft, lc.Submit(), unit, lc.Context(at("2026-03-13 10:00"), cal))
    assert late.entry.state is State.SUBMITTED and late.entry.late
    assert late.entry.submit_by == at("2026-03-13 08:30")
    assert [type(c) for c in late.commands] == [lc.LateSubmission]
    on_time = lc.decide(draft, lc.Submit(), unit, lc.Context(at("2026-03-12 10:00"), cal))
    assert not on_time.entry.late and not on_time.commands
