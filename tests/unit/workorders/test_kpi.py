"""KPI formulas on small hand-built sets whose percentages were worked out by hand."""

import datetime as dt

from tests.unit.workorders.conftest import at
from workorders.core import kpi
from workorders.core.kpi import Contact, KpiOptions, VoiceCall
from workorders.core.model import Assignment, Callback, Order, Satisfaction

START, END, AS_OF = at("2026-03-01 00:00"), at("2026-04-01 00:00"), at("2026-04-05 00:00")


def assign(unit="housing", day=10, signed_after_h=1.0, replied=True, **kw):
    d = at(f"2026-03-{day:02d} 09:00")
    base = {
        "unit": unit,
        "dispatched_at": d,
        "sign_by": d + dt.timedelta(hours=2),
        "return_by": d + dt.timedelta(days=1),
        "reply_by": d + dt.timedelta(days=7),
        "signed_at": d + dt.timedelta(hours=signed_after_h) if signed_after_h is not None else None,
        "replied_at": d + dt.timedelta(days=3) if replied else None,
    }
    base.update(kw)
    return Assignment(**base)


def order(i, *assignments, **kw):
    return Order(id=i, created_at=at("2026-03-01 08:00"), assignments=tuple(assignments), lead_unit="housing", **kw)


def test_dispatch_accuracy_counts_returned_and_redispatched_orders_as_inaccurate():
    d10 = at("2026-03-10 09:00")
    orders = [
        order(1, assign()),
        order(2, assign()),
        order(3, assign()),
        order(4, assign(returned=True, return_requested_at=d10), assign(unit="water", day=11)),  # returned
        order(5, assign(redispatched=True), assign(unit="water", day=12)),  # re-dispatched
        order(6, assign(day=10), assign(day=20, rehandle=True)),  # 重办 is not a re-dispatch
        # dispatched in February: outside the period
        order(
            7,
            Assignment(
                "housing",
                at("2026-02-27 09:00"),
                at("2026-02-27 11:00"),
                at("2026-02-28 09:00"),
                at("2026-03-06 09:00"),
            ),
        ),
    ]
    r = kpi.dispatch_accuracy(orders, START, END)
    assert (r.numerator, r.denominator, r.percent) == (4, 6, 66.67)
    assert kpi.dispatch_accuracy(orders, START, END, unit="water").denominator == 0


def test_on_time_sign_leaves_out_undecided_and_in_time_returns():
    d = at("2026-03-31 17:00")
    orders = [
        order(1, assign(signed_after_h=1.0)),  # on time
        order(2, assign(signed_after_h=2.0)),  # exactly at sign_by: on time
        order(3, assign(signed_after_h=2.5)),  # late
        order(4, assign(signed_after_h=None)),  # never signed, limit passed: late
        order(5, assign(signed_after_h=None, returned=True, return_requested_at=at("2026-03-10 10:00"))),  # left out
        order(6, Assignment("housing", d, d + dt.timedelta(hours=20), d, d)),  # sign_by 04-01 13:00
    ]
    r = kpi.on_time_sign(orders, START, END, AS_OF)
    # order 6: unsigned and its sign_by (04-01 13:00) is before AS_OF (04-05): it counts as late.
    assert (r.numerator, r.denominator, r.percent) == (2, 5, 40.0)
    r_early = kpi.on_time_sign(orders, START, END, at("2026-04-01 00:00"))
    assert (r_early.numerator, r_early.denominator) == (2, 4)  # order 6 is undecided then


def test_on_time_completion_counts_a_late_return_as_overdue():
    orders = [
        order(1, assign()),  # replied day 3 of 7: on time
        order(2, assign(replied_at=at("2026-03-17 09:00"))),  # exactly at reply_by: on time
        order(3, assign(replied_at=at("2026-03-18 09:00"))),  # late
        order(4, assign(returned=True, return_requested_at=at("2026-03-12 09:00"), replied=False)),  # late return
        order(5, assign(returned=True, return_requested_at=at("2026-03-10 10:00"), replied=False)),  # in time: not due
        order(6, assign(day=30, replied=False)),  # due 04-06, after AS_OF... and after END: outside the period
    ]
    r = kpi.on_time_completion(orders, START, END, AS_OF)
    assert (r.numerator, r.denominator, r.percent) == (2, 4, 50.0)


def cb_order(i, reached, sat=None, resolved=None, reasonable=True, unit="housing"):
    closed = at("2026-03-20 10:00")
    cb = Callback(closed, reached, sat, resolved, reasonable)
    return Order(
        id=i,
        created_at=at("2026-03-01 08:00"),
        lead_unit=unit,
        reply_approved_at=closed,
        closed_at=closed,
        callback=cb,
    )


CALLBACKS = [
    cb_order(1, True, Satisfaction.SATISFIED, True),
    cb_order(2, True, Satisfaction.SATISFIED, True),
    cb_order(3, True, Satisfaction.BASICALLY, True),
    cb_order(4, True, Satisfaction.BASICALLY, False),
    cb_order(5, True, Satisfaction.UNSATISFIED, False, reasonable=False),
    cb_order(6, False),
    cb_order(7, True, Satisfaction.UNSATISFIED, False, unit="water"),
    cb_order(8, False, unit="water"),
]


def test_satisfaction_with_and_without_basically_satisfied():
    with_basic = kpi.satisfaction(CALLBACKS, START, END, KpiOptions(count_basically_satisfied=True))
    without = kpi.satisfaction(CALLBACKS, START, END, KpiOptions(count_basically_satisfied=False))
    # reached: 1,2,3,4,5,7 = 6; satisfied 1,2; basically 3,4.
    assert (with_basic.numerator, with_basic.denominator, with_basic.percent) == (4, 6, 66.67)
    assert (without.numerator, without.denominator, without.percent) == (2, 6, 33.33)


def test_callback_rate_and_resolution_per_unit():
    assert kpi.callback_rate(CALLBACKS, START, END).percent == 75.0  # 6 of 8 reached
    assert kpi.callback_rate(CALLBACKS, START, END, "water").percent == 50.0
    # reasonable reached: 1,2,3,4,7 = 5; resolved 1,2,3 = 3.
    r = kpi.resolution(CALLBACKS, START, END)
    assert (r.numerator, r.denominator, r.percent) == (3, 5, 60.0)


def test_repeat_rate_by_number_or_also_by_address():
    c = [
        Contact(at("2026-02-27 10:00"), "138", "A路1号", "噪音"),  # before the period: history only
        Contact(at("2026-03-02 10:00"), "138", "A路1号", "噪音"),  # repeat (3 days after)
        Contact(at("2026-03-05 10:00"), "139", "A路1号", "噪音"),  # repeat by address only
        Contact(at("2026-03-05 11:00"), "138", "A路1号", "供水"),  # other category
        Contact(at("2026-03-20 10:00"), "138", "A路1号", "噪音"),  # 15 days after: outside 7-day window
    ]
    by_phone = kpi.repeat_rate(c, START, END, KpiOptions())
    by_both = kpi.repeat_rate(c, START, END, KpiOptions(repeat_match_address=True))
    assert (by_phone.numerator, by_phone.denominator, by_phone.percent) == (1, 4, 25.0)
    assert (by_both.numerator, by_both.denominator, by_both.percent) == (2, 4, 50.0)


def test_answer_rate_with_and_without_excluding_short_abandons():
    q = at("2026-03-10 09:00")
    s = dt.timedelta(seconds=1)
    calls = [
        VoiceCall(q, answered_at=q + 5 * s),
        VoiceCall(q, answered_at=q + 15 * s),  # exactly 15.0 s counts
        VoiceCall(q, answered_at=q + 16 * s),
        VoiceCall(q, abandoned_at=q + 3 * s),  # short abandon
        VoiceCall(q, abandoned_at=q + 30 * s),
    ]
    plain = kpi.answer_rates(calls, KpiOptions())
    assert plain["answer_rate_15s"].percent == 40.0  # 2 / 5
    assert plain["connection_rate"].percent == 60.0  # 3 / 5
    excl = kpi.answer_rates(calls, KpiOptions(exclude_abandons_shorter_than_s=5))
    assert (excl["answer_rate_15s"].numerator, excl["answer_rate_15s"].denominator) == (2, 4)
    assert excl["answer_rate_15s"].percent == 50.0


def test_the_report_states_its_options_and_handles_an_empty_period():
    rep = kpi.report([], [], START, END, AS_OF, KpiOptions(count_basically_satisfied=False))
    assert rep["options"]["count_basically_satisfied"] is False
    assert rep["kpis"]["satisfaction"] == {"numerator": 0, "denominator": 0, "percent": None}
