"""Hand-computed deadlines on the official 2025 and 2026 calendars (7.5 h working days,
08:30-12:00 and 13:30-17:30). Every expected value below was worked out on paper."""

import datetime as dt

import pytest

from tests.unit.workorders.conftest import at
from workorders.core.calendar import WorkCalendar, WorkingHours, YearNotCovered
from workorders.core.deadlines import Limits, OrderType, Urgency, compute_deadlines

L = Limits()


def dl(cal: WorkCalendar, when: str, t: OrderType = OrderType.HELP, u: Urgency = Urgency.GENERAL):
    return compute_deadlines(cal, L, t, u, at(when))


SIGN_CASES = [
    # (dispatched, sign_by, why)
    ("2025-03-04 09:00", "2025-03-04 11:00", "plain morning"),
    ("2025-03-04 11:00", "2025-03-04 14:30", "runs over the lunch break"),
    ("2025-03-04 12:30", "2025-03-04 15:30", "dispatched during lunch counts from 13:30"),
    ("2025-03-04 17:00", "2025-03-05 10:00", "half an hour today, the rest tomorrow"),
    ("2025-03-04 20:00", "2025-03-05 10:30", "evening dispatch counts from the next opening"),
    ("2025-03-07 16:30", "2025-03-10 09:30", "Friday afternoon over the weekend"),
    ("2025-01-26 09:00", "2025-01-26 11:00", "Sunday make-up workday before Spring Festival 2025"),
    ("2025-02-07 16:30", "2025-02-08 09:30", "Saturday 2025-02-08 is a make-up workday"),
    ("2025-04-26 14:00", "2025-04-27 10:30", "Saturday dispatch, Sunday 2025-04-27 make-up workday"),
    ("2025-09-30 17:00", "2025-10-09 10:00", "over National Day 2025 (Oct 1-8)"),
    ("2025-10-10 17:30", "2025-10-11 10:30", "at closing; Saturday 2025-10-11 make-up workday"),
    ("2026-03-10 11:30", "2026-03-10 15:00", "lunch break in 2026"),
    ("2026-03-10 12:00", "2026-03-10 15:30", "exactly at noon counts from 13:30"),
    ("2026-03-10 08:00", "2026-03-10 10:30", "before opening"),
    ("2026-03-10 10:00", "2026-03-10 12:00", "ends exactly at noon, not at 13:30"),
    ("2026-04-30 17:00", "2026-05-06 10:00", "over Labour Day 2026 (May 1-5)"),
    ("2026-09-19 12:00", "2026-09-20 10:30", "Sunday 2026-09-20 make-up workday"),
]


@pytest.mark.parametrize(("dispatched", "expected", "why"), SIGN_CASES, ids=[c[2] for c in SIGN_CASES])
def test_sign_by_is_two_working_hours_after_dispatch(cal, dispatched, expected, why):
    assert dl(cal, dispatched).sign_by == at(expected)


RETURN_CASES = [
    ("2025-03-07 16:30", "2025-03-10 16:30", "16:30 Friday -> 16:30 next working day"),
    ("2025-03-08 10:00", "2025-03-10 17:30", "weekend dispatch -> close of next working day"),
    ("2025-01-27 10:00", "2025-02-05 10:00", "over Spring Festival 2025 (Jan 28-Feb 4)"),
    ("2025-04-03 15:00", "2025-04-07 15:00", "over Qingming 2025 (Apr 4-6)"),
    ("2025-12-31 16:00", "2026-01-04 16:00", "New Year 2026 and the Sunday make-up workday Jan 4"),
    ("2026-05-08 16:00", "2026-05-09 16:00", "Saturday 2026-05-09 make-up workday"),
    ("2026-06-18 17:30", "2026-06-22 17:30", "Dragon Boat 2026 (Jun 19-21) from closing time"),
]


@pytest.mark.parametrize(("dispatched", "expected", "why"), RETURN_CASES, ids=[c[2] for c in RETURN_CASES])
def test_return_by_is_one_working_day_after_dispatch(cal, dispatched, expected, why):
    assert dl(cal, dispatched).return_by == at(expected)


REPLY_CASES = [
    (OrderType.CONSULT, "2025-09-30 09:00", "2025-10-09 09:00", "consult over National Day 2025"),
    (OrderType.CONSULT, "2026-09-24 14:00", "2026-09-28 14:00", "consult over Mid-Autumn 2026"),
    (OrderType.CONSULT, "2026-09-30 09:00", "2026-10-08 09:00", "consult over National Day 2026"),
    (OrderType.HELP, "2025-03-10 09:00", "2025-03-17 09:00", "five plain working days"),
    (OrderType.COMPLAINT, "2025-04-30 16:00", "2025-05-12 16:00", "complaint over Labour Day 2025"),
    (OrderType.SUGGESTION, "2026-02-13 10:00", "2026-02-27 10:00", "Spring Festival 2026 with Saturday make-up"),
    (OrderType.REPORT, "2026-04-03 16:00", "2026-04-13 16:00", "report over Qingming 2026"),
]


@pytest.mark.parametrize(("kind", "dispatched", "expected", "why"), REPLY_CASES, ids=[c[3] for c in REPLY_CASES])
def test_reply_by_follows_the_type_limit(cal, kind, dispatched, expected, why):
    assert dl(cal, dispatched, kind).reply_by == at(expected)


def test_extension_deadlines_over_labour_day_2025(cal):
    d = dl(cal, "2025-04-30 16:00", OrderType.COMPLAINT)
    assert d.extension_apply_by == at("2025-05-09 16:00")
    assert d.extension_latest_reply_by == at("2025-05-19 16:00")


def test_extension_deadlines_over_spring_festival_2026_with_both_make_up_saturdays(cal):
    d = dl(cal, "2026-02-13 10:00", OrderType.HELP)
    assert d.extension_apply_by == at("2026-02-26 10:00")
    assert d.extension_latest_reply_by == at("2026-03-05 10:00")


def test_consult_orders_have_no_extension_deadlines(cal):
    d = dl(cal, "2026-03-10 09:00", OrderType.CONSULT)
    assert d.extension_apply_by is None and d.extension_latest_reply_by is None


def test_special_urgent_clock_hours_cross_midnight_into_a_holiday(cal):
    d = dl(cal, "2026-02-14 22:00", OrderType.HELP, Urgency.SPECIAL_URGENT)
    assert d.initial_feedback_by == at("2026-02-15 00:00")
    assert d.progress_by == at("2026-02-25 17:30")


def test_special_feedback_runs_on_a_holiday_and_progress_waits_for_working_days(cal):
    d = dl(cal, "2026-10-01 10:00", OrderType.COMPLAINT, Urgency.SPECIAL)
    assert d.initial_feedback_by == at("2026-10-01 14:00")
    assert d.progress_by == at("2026-10-10 17:30")


def test_special_feedback_runs_through_the_night(cal):
    d = dl(cal, "2026-03-10 22:30", OrderType.HELP, Urgency.SPECIAL)
    assert d.initial_feedback_by == at("2026-03-11 02:30")


def test_general_orders_have_no_feedback_deadlines(cal):
    d = dl(cal, "2026-03-10 22:30")
    assert d.initial_feedback_by is None and d.progress_by is None


def test_a_dispatch_given_in_utc_is_computed_in_local_time(cal):
    d = compute_deadlines(cal, L, OrderType.HELP, Urgency.GENERAL, dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC))
    assert d.sign_by == at("2026-03-10 11:00")
    assert d.sign_by.utcoffset() == dt.timedelta(hours=8)


def test_a_year_the_calendar_does_not_cover_is_an_error_for_queries(cal):
    with pytest.raises(YearNotCovered, match="2027"):
        dl(cal, "2026-12-31 16:00")


def test_the_running_engine_gets_a_provisional_deadline_for_an_uncovered_year(cal):
    d = compute_deadlines(cal, L, OrderType.HELP, Urgency.GENERAL, at("2026-12-31 16:00"), allow_provisional=True)
    # 1.5 h on Dec 31; Jan 1 2027 is a fixed-date holiday; Jan 4-7 full days; 6 h on Fri Jan 8.
    assert d.reply_by == at("2027-01-08 16:00")
    assert d.provisional is True


def test_a_deadline_inside_covered_years_is_not_provisional(cal):
    d = compute_deadlines(cal, L, OrderType.HELP, Urgency.GENERAL, at("2026-03-10 09:00"), allow_provisional=True)
    assert d.provisional is False


def test_working_hours_are_configurable():
    cal = WorkCalendar.build([], [], [2026], WorkingHours.parse("09:00-17:00"))
    d = compute_deadlines(cal, L, OrderType.CONSULT, Urgency.GENERAL, at("2026-03-10 16:00"))
    assert d.sign_by == at("2026-03-11 10:00")
    assert d.reply_by == at("2026-03-11 16:00")


def test_working_time_between_skips_lunch_nights_and_holidays(cal):
    assert cal.working_between(at("2026-04-30 17:00"), at("2026-05-06 10:00")) == dt.timedelta(hours=2)
    assert cal.working_between(at("2026-05-06 10:00"), at("2026-04-30 17:00")) == -dt.timedelta(hours=2)
