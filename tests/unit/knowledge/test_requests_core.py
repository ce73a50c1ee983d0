"""The questions' and corrections' tables, their working-day limits and the units' KPI formulas."""

import datetime as dt

import pytest

from knowledge.core import requests as rq
from knowledge.core import unit_kpi as uk
from knowledge.core.lifecycle import Forbidden, IllegalEvent
from knowledge.core.model import Actor
from workorders.core.calendar import WorkCalendar

TZ = dt.timezone(dt.timedelta(hours=8))
# 2026 National Day: 1-7 October off, Saturday 10 October a make-up workday (调休上班).
CAL = WorkCalendar.build(
    holidays=[dt.date(2026, 10, d) for d in range(1, 8)], workdays=[dt.date(2026, 10, 10)], years=[2026]
)
SEAT, SUP, HR, WATER, ADMIN = (
    Actor("s1", "seat"),
    Actor("sup", "supervisor"),
    Actor("hr1", "unit", "hrss"),
    Actor("w1", "unit", "water"),
    Actor("adm", "admin"),
)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)


def ctx(now: dt.datetime) -> rq.Context:
    return rq.Context(now, CAL, 1.0)


def ask(now: dt.datetime, unit: str = "hrss") -> rq.Query:
    return rq.decide_query(None, rq.Ask("q1", "问题", unit), SEAT, ctx(now))


def flag(now: dt.datetime) -> rq.Flag:
    return rq.decide_flag(None, rq.Raise("f1", "e1", "hrss", "电话号码已变"), SEAT, ctx(now))


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        (at(10, 16, 30), at(11, 16, 30)),  # Tuesday 16:30 -> Wednesday 16:30
        (at(13, 16, 30), at(16, 16, 30)),  # Friday -> Monday: the weekend does not count
        (at(13, 20, 0), at(16, 17, 30)),  # Friday evening -> close of Monday
        (at(14, 10, 0), at(16, 17, 30)),  # Saturday -> close of Monday
        (at(30, 16, 30, month=9), at(8, 16, 30, month=10)),  # before the National Day holidays
        (at(9, 16, 30, month=10), at(10, 16, 30, month=10)),  # Friday -> the make-up Saturday
    ],
)
def test_a_question_and_a_flag_are_due_one_working_day_later(asked, due):
    assert ask(asked).due_at == due
    assert flag(asked).due_at == due
    assert not ask(asked).provisional


def test_a_year_the_calendar_lacks_gives_a_provisional_due_time_not_a_refusal():
    q = ask(dt.datetime(2027, 3, 5, 16, 30, tzinfo=TZ))  # Friday
    assert q.provisional and q.due_at == dt.datetime(2027, 3, 8, 16, 30, tzinfo=TZ)


def test_every_entry_of_the_query_table_is_reachable_and_others_raise():
    q = ask(at(10, 9))
    assert q.state is rq.QueryState.OPEN
    done = rq.decide_query(q, rq.Answer("答复"), HR, ctx(at(10, 11)))
    assert done.state is rq.QueryState.ANSWERED and not done.late and done.answered_by == "hr1"
    seen = {(None, rq.Ask), (rq.QueryState.OPEN, rq.Answer)}
    assert seen == {(s, e) for s, row in rq.QUERY_TRANSITIONS.items() for e in row}
    with pytest.raises(IllegalEvent):
        rq.decide_query(done, rq.Answer("再答"), HR, ctx(at(10, 12)))
    with pytest.raises(IllegalEvent):
        rq.decide_query(q, rq.Ask("q2", "x", "hrss"), SEAT, ctx(at(10, 12)))


def test_every_entry_of_the_flag_table_is_reachable_and_others_raise():
    f = flag(at(10, 9))
    fixed = rq.decide_flag(f, rq.Resolve("已改", at(10, 10)), HR, ctx(at(10, 11)))
    gone = rq.decide_flag(f, rq.Dismiss("条目无误"), SUP, ctx(at(10, 11)))
    assert (fixed.state, gone.state) == (rq.FlagState.CORRECTED, rq.FlagState.DISMISSED)
    seen = {(None, rq.Raise), (rq.FlagState.OPEN, rq.Resolve), (rq.FlagState.OPEN, rq.Dismiss)}
    assert seen == {(s, e) for s, row in rq.FLAG_TRANSITIONS.items() for e in row}
    for closed in (fixed, gone):
        for event in (rq.Resolve("x", at(10, 12)), rq.Dismiss("x")):
            with pytest.raises(IllegalEvent):
                rq.decide_flag(closed, event, ADMIN, ctx(at(10, 13)))


def test_roles_and_units_are_checked_before_anything_changes():
    q, f = ask(at(10, 9)), flag(at(10, 9))
    with pytest.raises(Forbidden):
        rq.decide_query(None, rq.Ask("q", "x", "hrss"), HR, ctx(at(10, 9)))  # units do not ask
    with pytest.raises(Forbidden):
        rq.decide_query(q, rq.Answer("x"), WATER, ctx(at(10, 10)))  # another unit
    with pytest.raises(Forbidden):
        rq.decide_query(q, rq.Answer("x"), SEAT, ctx(at(10, 10)))
    with pytest.raises(Forbidden):
        rq.decide_flag(f, rq.Resolve("x", at(10, 10)), WATER, ctx(at(10, 11)))
    with pytest.raises(Forbidden):
        rq.decide_flag(f, rq.Dismiss("x"), HR, ctx(at(10, 11)))  # a unit cannot dismiss its own flag
    with pytest.raises(Forbidden):
        rq.decide_flag(None, rq.Raise("f", "e", "hrss", "x"), HR, ctx(at(10, 9)))


def test_a_flag_is_resolved_only_after_the_entry_was_edited_since_it_was_raised():
    f = flag(at(10, 9))
    for edited in (None, at(10, 8), at(10, 9)):
        with pytest.raises(rq.NotCorrected):
            rq.decide_flag(f, rq.Resolve("改好了", edited), HR, ctx(at(10, 11)))


def test_an_answer_or_correction_after_the_due_time_is_late():
    q, f = ask(at(10, 9)), flag(at(10, 9))
    assert rq.decide_query(q, rq.Answer("x"), HR, ctx(at(11, 9))).late is False  # due exactly then
    assert rq.decide_query(q, rq.Answer("x"), HR, ctx(at(11, 9, 1))).late is True
    assert rq.decide_flag(f, rq.Resolve("x", at(11, 9)), ADMIN, ctx(at(11, 10))).late is True
    assert q.overdue(at(11, 9, 1)) and not q.overdue(at(11, 9))


def test_the_response_rate_counts_answers_within_the_limit_over_questions_asked_in_the_period():
    start, end, as_of = at(1, 0), at(31, 0), at(31, 0)

    def q(i: int, asked: dt.datetime, answered: dt.datetime | None, unit: str = "hrss") -> rq.Query:
        base = rq.decide_query(None, rq.Ask(f"q{i}", "x", unit), SEAT, ctx(asked))
        return base if answered is None else rq.decide_query(base, rq.Answer("a"), ADMIN, ctx(answered))

    qs = [
        q(1, at(10, 9), at(10, 10)),  # in time
        q(2, at(10, 9), at(11, 9)),  # in time, at the limit
        q(3, at(10, 9), at(12, 9)),  # late
        q(4, at(10, 9), None),  # never answered: overdue
        q(5, at(10, 9), at(10, 10), unit="water"),
        q(6, at(2, 9, month=4), at(2, 10, month=4)),  # after the period
    ]
    assert uk.response_rate(qs, start, end, as_of, "hrss").rate.as_dict() == {
        "numerator": 2,
        "denominator": 4,
        "percent": 50.0,
    }
    assert uk.response_rate(qs, start, end, as_of).rate.numerator == 3
    # Asked an hour before the report, unanswered and not yet due: left out, counted as pending.
    pending = uk.response_rate([q(7, at(30, 16), None)], start, end, at(30, 17))
    assert (pending.rate.denominator, pending.pending) == (0, 1)


def test_the_correction_rate_counts_corrections_within_the_limit_and_leaves_dismissed_flags_out():
    start, end, as_of = at(1, 0), at(31, 0), at(31, 0)
    f = flag(at(10, 9))
    flags = [
        rq.decide_flag(f, rq.Resolve("x", at(10, 10)), HR, ctx(at(10, 11))),  # in time
        rq.decide_flag(f, rq.Resolve("x", at(12, 10)), HR, ctx(at(12, 11))),  # late
        f,  # still open and past due
        rq.decide_flag(f, rq.Dismiss("无误"), SUP, ctx(at(10, 11))),  # not an error
    ]
    got = uk.correction_rate(flags, start, end, as_of, "hrss")
    assert (got.rate.numerator, got.rate.denominator, got.rate.percent) == (1, 3, 33.33)


def test_on_time_submission_and_expiring_entries():
    subs = [uk.Submission("hrss", at(5, 9), False), uk.Submission("hrss", at(6, 9), True)]
    subs += [uk.Submission("water", at(6, 9), False), uk.Submission("hrss", at(2, 9, month=4), False)]
    rate = uk.on_time_submission(subs, at(1, 0), at(31, 0), "hrss")
    assert (rate.numerator, rate.denominator) == (1, 2)
    today = dt.date(2026, 3, 10)
    ends = [dt.date(2026, 3, 10), dt.date(2026, 4, 9), dt.date(2026, 4, 10), dt.date(2026, 3, 9), None]
    assert uk.expiring(ends, today) == 2
