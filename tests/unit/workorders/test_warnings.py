"""Warning and escalation times on the official 2025 and 2026 calendars (08:30-12:00, 13:30-17:30).

Leads by default: 25% of the limit, at least 30 minutes, at most half the limit. Every expected
time below was worked out by hand."""

import datetime as dt
from dataclasses import replace

import pytest

from tests.unit.workorders.conftest import at
from workorders.core.deadlines import Limits, OrderType, Urgency, compute_deadlines
from workorders.core.warnings import (
    DEADLINE_LABELS,
    RULES,
    AlertKind,
    DeadlineKind,
    Escalate,
    OrderView,
    Policy,
    Warn,
    decide,
    plan,
    warn_at,
)

P = Policy()
L = Limits()


def view(cal, dispatched, state="dispatched", tier=3, t=OrderType.HELP, u=Urgency.GENERAL, **kw):
    d = compute_deadlines(cal, L, t, u, at(dispatched))
    if kw.pop("onsite", False):
        d = replace(d, onsite_by=d.dispatched_at + dt.timedelta(minutes=30))
    return OrderView(id=kw.pop("id", 1), state=state, unit="housing", tier=tier, deadlines=d, **kw)


def alerts(cal, order, now, sent=frozenset()):
    return {(c.deadline.value, c.kind.value, c.due) for c in decide(cal, P, order, at(now), sent)}


def first_moment(cal, order, deadline, kind):
    """The first minute from dispatch on at which ``kind`` of ``deadline`` is commanded."""

    def hit(t):
        return any(c.deadline is deadline and c.kind is kind for c in decide(cal, P, order, t, frozenset()))

    # Five-minute steps (every warning window here is at least 15 minutes), then minute by minute.
    t = order.deadlines.dispatched_at
    for _ in range(12 * 24 * 20):
        if hit(t):
            t -= dt.timedelta(minutes=5)
            while not hit(t):
                t += dt.timedelta(minutes=1)
            return t.strftime("%Y-%m-%d %H:%M")
        t += dt.timedelta(minutes=5)
    raise AssertionError("never")


SIGN_WARNINGS = [
    # (dispatched, warned at, escalated at (first minute after sign_by), why)
    ("2026-03-10 09:00", "2026-03-10 10:30", "2026-03-10 11:01", "plain Tuesday morning, sign by 11:00"),
    ("2025-03-04 20:00", "2025-03-05 10:00", "2025-03-05 10:31", "evening dispatch, sign by 10:30 next day"),
    ("2025-03-07 16:30", "2025-03-10 09:00", "2025-03-10 09:31", "Friday 16:30: the weekend does not count"),
    ("2025-02-07 16:30", "2025-02-08 09:00", "2025-02-08 09:31", "Saturday 2025-02-08 is a make-up workday"),
    ("2025-09-30 17:00", "2025-10-09 09:30", "2025-10-09 10:01", "over National Day 2025 (Oct 1-8)"),
    ("2026-04-30 17:00", "2026-05-06 09:30", "2026-05-06 10:01", "over Labour Day 2026 (May 1-5)"),
    ("2026-03-10 11:30", "2026-03-10 14:30", "2026-03-10 15:01", "lead taken before the lunch break ends"),
    ("2026-03-10 10:45", "2026-03-10 13:45", "2026-03-10 14:16", "30 working minutes back over lunch: 13:45"),
]


@pytest.mark.parametrize(("dispatched", "warned", "escalated", "why"), SIGN_WARNINGS)
def test_sign_off_is_warned_in_working_time_and_escalated_once_past(cal, dispatched, warned, escalated, why):
    order = view(cal, dispatched)
    assert first_moment(cal, order, DeadlineKind.SIGN, AlertKind.WARN) == warned, why
    assert first_moment(cal, order, DeadlineKind.SIGN, AlertKind.ESCALATE) == escalated, why


def test_one_working_day_reply_dispatched_at_16_30_is_warned_a_quarter_day_before(cal):
    # Due 2026-03-11 16:30; a quarter of 7.5 h is 1 h 52 min 30 s, all in the afternoon period.
    order = view(cal, "2026-03-10 16:30", state="handling", t=OrderType.CONSULT)
    assert first_moment(cal, order, DeadlineKind.REPLY, AlertKind.WARN) == "2026-03-11 14:38"
    assert first_moment(cal, order, DeadlineKind.REPLY, AlertKind.ESCALATE) == "2026-03-11 16:31"
    # The return window (1 working day too) closes at the same time: warned, never escalated.
    assert alerts(cal, order, "2026-03-11 16:31") == {("reply", "escalate", at("2026-03-11 16:30"))}


def test_one_working_day_reply_dispatched_at_20_00_is_due_at_the_next_close(cal):
    order = view(cal, "2026-03-10 20:00", state="handling", t=OrderType.CONSULT)
    assert order.deadlines.reply_by == at("2026-03-11 17:30")
    assert warn_at(cal, P, RULES[4], order.deadlines.dispatched_at, order.deadlines.reply_by) == at(
        "2026-03-11 15:37:30"
    )


def test_reply_warning_of_a_five_day_limit_skips_the_spring_festival_2026(cal):
    # Dispatched Fri 2026-02-13 16:30; 37.5 working hours over the holiday (Feb 15-23) and the
    # make-up Saturdays Feb 14 and Feb 28: due Mon 2026-03-02 16:30 by the deadline tests.
    order = view(cal, "2026-02-13 16:30", state="handling")
    due = order.deadlines.reply_by
    lead = cal.working_between(warn_at(cal, P, RULES[4], order.deadlines.dispatched_at, due), due)
    assert lead == dt.timedelta(hours=37.5) * 0.25
    assert alerts(cal, order, "2026-02-18 10:00") == set()


def test_special_urgent_feedback_runs_on_the_clock_through_the_night(cal):
    order = view(cal, "2026-03-10 23:00", state="handling", u=Urgency.SPECIAL_URGENT)
    due = at("2026-03-11 01:00")
    assert order.deadlines.initial_feedback_by == due
    assert alerts(cal, order, "2026-03-11 00:29") == set()
    assert alerts(cal, order, "2026-03-11 00:30") == {("feedback", "warn", due)}
    assert ("feedback", "escalate", due) in alerts(cal, order, "2026-03-11 01:01")


def test_special_feedback_of_four_clock_hours_runs_over_a_friday_night_into_saturday(cal):
    order = view(cal, "2026-03-13 22:00", state="dispatched", u=Urgency.SPECIAL)
    due = at("2026-03-14 02:00")
    assert first_moment(cal, order, DeadlineKind.FEEDBACK, AlertKind.WARN) == "2026-03-14 01:00"
    assert first_moment(cal, order, DeadlineKind.FEEDBACK, AlertKind.ESCALATE) == "2026-03-14 02:01"
    met = replace(order, feedback_kinds=frozenset({"initial"}))
    assert ("feedback", "escalate", due) not in alerts(cal, met, "2026-03-14 02:01")


def test_tier_one_on_site_arrival_is_warned_at_half_time_and_escalated_after_30_minutes(cal):
    order = view(cal, "2026-03-14 03:10", state="dispatched", tier=1, onsite=True)  # a Saturday night
    assert first_moment(cal, order, DeadlineKind.ONSITE, AlertKind.WARN) == "2026-03-14 03:25"
    assert first_moment(cal, order, DeadlineKind.ONSITE, AlertKind.ESCALATE) == "2026-03-14 03:41"
    arrived = replace(order, feedback_kinds=frozenset({"progress"}))
    assert not any(a[0] == "onsite" for a in alerts(cal, arrived, "2026-03-14 03:41"))


def test_tier_one_and_two_respond_around_the_clock_tier_three_in_working_hours(cal):
    for tier in (1, 2):
        order = view(cal, "2026-03-10 20:00", tier=tier)
        assert first_moment(cal, order, DeadlineKind.RESPOND, AlertKind.WARN) == "2026-03-10 21:30"
        assert first_moment(cal, order, DeadlineKind.RESPOND, AlertKind.ESCALATE) == "2026-03-10 22:01"
    tier3 = view(cal, "2026-03-10 20:00", tier=3)
    assert not any(a[0] == "respond" for a in alerts(cal, tier3, "2026-03-11 09:00"))
    # In working hours the clock limit is no earlier than the sign-off: one warning, not two.
    daytime = view(cal, "2026-03-10 09:00", tier=1)
    assert alerts(cal, daytime, "2026-03-10 10:30") == {("sign", "warn", at("2026-03-10 11:00"))}


def test_a_signed_order_is_no_longer_warned_for_sign_off(cal):
    order = view(cal, "2026-03-10 09:00", state="handling")
    assert not any(a[0] == "sign" for a in alerts(cal, order, "2026-03-10 12:00"))


def test_return_and_extension_windows_are_warned_but_never_escalated(cal):
    order = view(cal, "2026-03-10 09:00", state="handling")  # help: 5 days, extension by 03-16 09:00
    assert ("return", "warn", at("2026-03-11 09:00")) in alerts(cal, order, "2026-03-11 08:00")
    later = alerts(cal, order, "2026-03-16 10:00")
    assert not any(a[0] in ("return", "extension") for a in later)
    assert ("extension", "warn", at("2026-03-16 09:00")) in alerts(cal, order, "2026-03-13 16:00")


def test_consult_orders_have_no_extension_warning(cal):
    order = view(cal, "2026-03-10 09:00", state="handling", t=OrderType.CONSULT)
    assert not any(a[0] == "extension" for a in alerts(cal, order, "2026-03-11 08:45"))


def test_each_alert_is_commanded_once_and_a_new_due_time_is_a_new_alert(cal):
    order = view(cal, "2026-03-10 09:00", state="handling", t=OrderType.CONSULT)
    # Reply and return both due 2026-03-11 09:00; 1 h 52.5 min back is 16:07:30 the day before.
    first = decide(cal, P, order, at("2026-03-10 16:10"), frozenset())
    assert {(c.deadline, c.kind) for c in first} == {
        (DeadlineKind.REPLY, AlertKind.WARN),
        (DeadlineKind.RETURN, AlertKind.WARN),
    }
    sent = frozenset(c.key for c in first)
    assert decide(cal, P, order, at("2026-03-10 17:10"), sent) == []
    extended = replace(order, deadlines=replace(order.deadlines, reply_by=at("2026-03-13 09:00")))
    again = decide(cal, P, extended, at("2026-03-13 08:40"), sent)
    assert [(c.deadline, c.kind) for c in again] == [(DeadlineKind.REPLY, AlertKind.WARN)]


def test_a_warning_missed_while_the_engine_was_down_is_not_sent_late(cal):
    order = view(cal, "2026-03-10 09:00")
    cmds = decide(cal, P, order, at("2026-03-10 11:30"), frozenset())
    assert {type(c) for c in cmds if c.deadline is DeadlineKind.SIGN} == {Escalate}


def test_a_backlog_is_capped_escalations_first_then_the_earliest_due(cal):
    orders = [view(cal, "2026-03-02 09:00", id=i) for i in range(1, 1001)]
    orders.append(view(cal, "2026-03-10 09:00", id=5000))  # only warned at 10:40
    out = plan(cal, P, orders, at("2026-03-10 10:40"), frozenset(), cap=50)
    assert len(out.commands) == 50 and out.pending == 1001 - 50 + 1000  # sign and reply per old order
    assert all(isinstance(c, Escalate) for c in out.commands)
    rest = plan(cal, P, orders[-1:], at("2026-03-10 10:40"), frozenset(), cap=50)
    assert [type(c) for c in rest.commands] == [Warn]


def test_the_lead_is_a_share_of_the_limit_at_least_the_minimum_at_most_half():
    assert P.lead(dt.timedelta(hours=2)) == dt.timedelta(minutes=30)
    assert P.lead(dt.timedelta(hours=8)) == dt.timedelta(hours=2)
    assert P.lead(dt.timedelta(minutes=30)) == dt.timedelta(minutes=15)
    assert Policy(share=0.5, min_lead_minutes=0).lead(dt.timedelta(hours=4)) == dt.timedelta(hours=2)


def test_every_rule_of_the_table_has_a_label_and_a_deadline_field(cal):
    order = view(cal, "2026-03-10 20:00", u=Urgency.SPECIAL, onsite=True)
    for rule in RULES:
        assert DEADLINE_LABELS[rule.kind]
        assert rule.due(order.deadlines, P) is not None, rule.kind


def test_deadlines_left_out_of_the_policy_are_neither_warned_nor_escalated(cal):
    order = view(cal, "2026-03-10 09:00", state="handling", t=OrderType.CONSULT)
    quiet = Policy(kinds=frozenset(DeadlineKind) - {DeadlineKind.RETURN})
    cmds = decide(cal, quiet, order, at("2026-03-10 16:10"), frozenset())
    assert [(c.deadline, c.kind) for c in cmds] == [(DeadlineKind.REPLY, AlertKind.WARN)]
