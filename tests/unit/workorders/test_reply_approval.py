"""答复须经分管领导审核: which replies wait for the unit's leader, who may sign them, and what the
order keeps of it."""

import dataclasses

import pytest

from tests.unit.workorders.conftest import at
from tests.unit.workorders.test_lifecycle import CTX, LEADER, SUPERVISED, VALID, ctx, order_in, run
from workorders.calendar_source import build_calendar
from workorders.core.approval import approval_reasons, reason_text
from workorders.core.deadlines import Limits, OrderType, RuleViolation, Urgency, compute_deadlines
from workorders.core.lifecycle import TRANSITIONS, Forbidden, IllegalAction, allowed, decide
from workorders.core.model import Actor, Role, State, order_from_dict, order_to_dict
from workorders.core.warnings import AlertKind, DeadlineKind, OrderView, Policy
from workorders.core.warnings import decide as alerts
from workorders.settings import WorkOrderSettings

HANDLER = Actor("housing1", Role.UNIT, "housing")
OTHER_LEADER = Actor("water-boss", Role.UNIT, "water", leader=True)
MAJOR = ("special", "special_urgent")


def waiting():
    return order_in(State.LEADER_REVIEW)


def test_the_leader_review_state_has_exactly_its_table_row():
    assert TRANSITIONS[State.LEADER_REVIEW] == {
        "leader_approve": State.REPLIED,
        "leader_return": State.HANDLING,
        "feedback": State.LEADER_REVIEW,
        "mark_unclosed": State.LEADER_REVIEW,
        "supervise": State.LEADER_REVIEW,
    }
    assert TRANSITIONS[State.HANDLING]["submit_reply"] is State.LEADER_REVIEW
    assert TRANSITIONS[State.EXTENSION_REQUESTED]["submit_reply"] is State.LEADER_REVIEW


def test_a_supervised_orders_reply_waits_for_the_leader_and_is_not_yet_given():
    d = run(order_in(State.HANDLING), "submit_reply")
    assert d.order.state is State.LEADER_REVIEW
    assert d.order.current.replied_at is None  # not counted as replied while it waits
    assert d.order.reply["approval_reasons"] == ["supervised"] and d.order.reply["by"] == "housing1"


def test_the_leaders_approval_gives_the_reply_to_the_platform_and_is_kept_with_it():
    later = ctx(now=at("2026-03-10 15:00"))
    d = decide(waiting(), "leader_approve", {"opinion": "同意答复"}, LEADER, later)
    assert d.order.state is State.REPLIED
    assert d.order.reply["approval"] == {
        "by": "housing-boss",
        "at": at("2026-03-10 15:00").isoformat(),
        "opinion": "同意答复",
    }
    # The time waiting for the leader counts in the unit's reply limit: replied when approved.
    assert d.order.current.replied_at == at("2026-03-10 15:00")
    assert (d.audit.actor, d.audit.action, d.audit.data) == ("housing-boss", "leader_approve", {"opinion": "同意答复"})
    assert order_from_dict(order_to_dict(d.order)) == d.order


def test_the_leader_sends_a_reply_back_with_a_reason_and_the_handler_submits_again():
    d = decide(waiting(), "leader_return", {"reason": "联系情况不具体"}, LEADER, CTX)
    assert d.order.state is State.HANDLING and d.order.reply is None
    assert d.audit.reason == "联系情况不具体"
    again = run(d.order, "submit_reply")
    assert again.order.state is State.LEADER_REVIEW


def test_sending_back_without_a_reason_is_refused():
    with pytest.raises(RuleViolation) as err:
        decide(waiting(), "leader_return", {"reason": " "}, LEADER, CTX)
    assert err.value.rule == "approval.reason"


@pytest.mark.parametrize("action", ["leader_approve", "leader_return"])
def test_a_handler_who_is_not_a_leader_may_not_sign_even_their_own_reply(action):
    with pytest.raises(Forbidden, match="分管领导"):
        decide(waiting(), action, VALID[action], HANDLER, CTX)


@pytest.mark.parametrize("action", ["leader_approve", "leader_return"])
def test_another_units_leader_may_not_sign(action):
    with pytest.raises(Forbidden, match="主办单位"):
        decide(waiting(), action, VALID[action], OTHER_LEADER, CTX)


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN])
def test_the_platform_may_not_sign_for_the_unit(role):
    with pytest.raises(Forbidden):
        decide(waiting(), "leader_approve", {}, Actor("x", role), CTX)


def test_an_order_that_needs_approval_cannot_be_replied_directly():
    with pytest.raises(RuleViolation, match="督办件") as err:
        run(order_in(State.HANDLING), "reply", c=SUPERVISED)
    assert err.value.rule == "reply.approval"


def test_a_plain_order_is_replied_directly_and_cannot_be_sent_to_the_leader():
    assert run(order_in(State.HANDLING), "reply").order.state is State.REPLIED
    with pytest.raises(RuleViolation) as err:
        run(order_in(State.HANDLING), "submit_reply", c=CTX)
    assert err.value.rule == "approval.not_required"


def test_a_submitted_reply_needs_the_three_elements_and_the_evidence_like_a_reply():
    with pytest.raises(RuleViolation) as err:
        run(order_in(State.HANDLING), "submit_reply", {**VALID["submit_reply"], "contact": ""})
    assert err.value.rule == "reply.elements"
    with pytest.raises(RuleViolation) as err:
        run(order_in(State.HANDLING), "submit_reply", c=ctx(approval=("unit",), attachment_kinds=frozenset()))
    assert err.value.rule == "reply.evidence"


@pytest.mark.parametrize("state", [State.REPLIED, State.LEADER_REVIEW, State.DISPATCHED, State.CALLBACK])
def test_submitting_or_signing_outside_the_table_is_an_illegal_action(state):
    o = order_in(state)
    for action in ("submit_reply", "leader_approve", "leader_return"):
        if action in TRANSITIONS[state]:
            continue
        with pytest.raises(IllegalAction):
            decide(o, action, VALID[action], LEADER, SUPERVISED)


def test_a_reply_the_platform_sends_back_needs_the_leader_again():
    o = run(run(waiting(), "leader_approve").order, "reject_reply").order
    assert o.state is State.HANDLING and o.current.replied_at is None
    assert run(o, "submit_reply").order.state is State.LEADER_REVIEW


def test_allowed_shows_the_one_reply_path_the_order_takes_and_the_leader_buttons_to_leaders_only():
    o = order_in(State.HANDLING)
    assert "submit_reply" not in allowed(o, HANDLER, approval_required=False)
    assert "reply" in allowed(o, HANDLER, approval_required=False)
    assert "reply" not in allowed(o, HANDLER, approval_required=True)
    assert "submit_reply" in allowed(o, HANDLER, approval_required=True)
    w = waiting()
    assert allowed(w, LEADER) == ["leader_approve", "leader_return", "feedback"]
    assert allowed(w, HANDLER) == ["feedback"]
    assert allowed(w, OTHER_LEADER) == []


def test_which_orders_need_the_leader():
    o = order_in(State.HANDLING)
    plain = {"major_urgencies": MAJOR, "units": ()}
    assert approval_reasons(o, supervised=False, **plain) == ()
    assert approval_reasons(o, supervised=True, **plain) == ("supervised",)
    assert approval_reasons(run(o, "supervise").order, supervised=False, **plain) == ("supervised",)
    special = dataclasses.replace(o, urgency=Urgency.SPECIAL_URGENT)
    assert approval_reasons(special, supervised=False, **plain) == ("major",)
    assert approval_reasons(o, supervised=False, major_urgencies=MAJOR, units=("housing",)) == ("unit",)
    assert approval_reasons(o, supervised=False, major_urgencies=MAJOR, units=("water",)) == ()
    assert reason_text(("supervised", "major")) == "督办件、重大/特殊件"


def test_the_reply_deadline_keeps_running_while_the_leader_reads():
    cal = build_calendar(WorkOrderSettings())
    d = compute_deadlines(cal, Limits(), OrderType.CONSULT, Urgency.GENERAL, at("2026-03-10 16:30"))
    order = OrderView(id=1, state="leader_review", unit="housing", tier=3, deadlines=d)
    got = {(c.deadline, c.kind) for c in alerts(cal, Policy(), order, at("2026-03-11 16:31"), frozenset())}
    assert got == {(DeadlineKind.REPLY, AlertKind.ESCALATE)}  # past reply_by while waiting: escalated
    warned = {(c.deadline, c.kind) for c in alerts(cal, Policy(), order, at("2026-03-11 15:00"), frozenset())}
    assert warned == {(DeadlineKind.REPLY, AlertKind.WARN)}
