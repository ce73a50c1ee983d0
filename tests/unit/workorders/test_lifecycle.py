"""Every entry of the lifecycle table, every pair outside it, and every refusal the seed names."""

import dataclasses

import pytest

from tests.unit.workorders.conftest import at
from workorders.core.deadlines import OrderType, RuleViolation, SourceLevel, Urgency
from workorders.core.lifecycle import (
    ACTIONS,
    ATTACHABLE,
    LEADER_ACTIONS,
    ROLES,
    TRANSITIONS,
    Forbidden,
    IllegalAction,
    RuleContext,
    Unit,
    allowed,
    decide,
    may_attach,
)
from workorders.core.model import Actor, Order, Role, State, order_from_dict, order_to_dict

NOW = at("2026-03-10 09:00")  # a Tuesday without holidays around it
UNITS = {
    "housing": Unit("housing", "住建局", 1),
    "water": Unit("water", "水务公司", 1),
    "edu": Unit("edu", "教育局", 2),
    "old": Unit("old", "撤销的单位", 3, active=False),
}
ALL_KINDS = frozenset({"return_approval", "extension_request", "evidence"})
ACTORS = {
    Role.SEAT: Actor("seat1", Role.SEAT),
    Role.DISPATCHER: Actor("disp1", Role.DISPATCHER),
    Role.SUPERVISOR: Actor("sup1", Role.SUPERVISOR),
    Role.MANAGER: Actor("mgr1", Role.MANAGER),
    Role.ADMIN: Actor("admin", Role.ADMIN),
    Role.UNIT: Actor("housing1", Role.UNIT, "housing"),
}
VALID = {
    "classify": {"type": "complaint", "urgency": "general", "category": "城建/物业"},
    "answer_now": {"note": "已告知办事流程"},
    "transfer_emergency": {"target": "110"},
    "not_accept": {"route": "litigation", "note": "已告知可向法院起诉"},
    "submit": {},
    "merge": {"into": 99},
    "dispatch": {"lead_unit": "housing"},
    "sign": {},
    "request_return": {"reason": "不属本单位职责", "basis": "三定方案第三条", "suggested_unit": "water"},
    "approve_return": {},
    "reject_return": {"reason": "属本单位职责"},
    "feedback": {"kind": "initial", "text": "已联系群众"},
    "co_reply": {"text": "协办意见"},
    "apply_extension": {"days": 2, "reason": "需现场勘查"},
    "approve_extension": {},
    "reject_extension": {"reason": "理由不充分"},
    "reply": {"handling": "已现场核查", "resolution": "已解决", "contact": "3月10日电话告知张先生，满意"},
    "submit_reply": {"handling": "已现场核查", "resolution": "已解决", "contact": "3月10日电话告知张先生，满意"},
    "leader_approve": {"opinion": "同意"},
    "leader_return": {"reason": "联系情况不具体"},
    "approve_reply": {"elements_complete": True, "evidence_matches": True, "measures_clear": True},
    "reject_reply": {"reason": "缺少联系情况"},
    "record_callback": {"reached": True, "satisfaction": "satisfied", "resolved": True},
    "close": {},
    "rehandle": {"reason": "群众不满意"},
    "final_answer": {"reason": "诉求超出政策"},
    "mark_unclosed": {"reason": "需跨年施工"},
    "supervise": {"reason": "多次来电"},
    "archive": {},
}


def ctx(now=NOW, **kw):
    from workorders.calendar_source import build_calendar
    from workorders.settings import WorkOrderSettings

    base = {"calendar": build_calendar(WorkOrderSettings()), "now": now, "directory": UNITS}
    base["attachment_kinds"] = ALL_KINDS
    base["merge_target_state"] = "handling"  # order 99 exists and stands on its own
    base.update(kw)
    return RuleContext(**base)


CTX = ctx()
SUPERVISED = ctx(approval=("supervised",))  # the reply needs the leader
LEADER = Actor("housing-boss", Role.UNIT, "housing", leader=True)


def run(order, action, data=None, actor=None, c=None):
    role = next(iter(sorted(ROLES[action])))
    actor = actor or (LEADER if action in LEADER_ACTIONS else ACTORS[role])
    c = c or (SUPERVISED if action == "submit_reply" else CTX)
    return decide(order, action, VALID[action] if data is None else data, actor, c)


def fresh() -> Order:
    return Order(id=1, created_at=NOW)


def order_in(state: State) -> Order:
    """Reach ``state`` through the real actions, so the fixtures obey the rules too."""
    o = run(fresh(), "classify").order
    paths = {
        State.INTAKE: [],
        State.ANSWERED: ["answer_now"],
        State.TRANSFERRED: ["transfer_emergency"],
        State.NOT_ACCEPTED: ["not_accept"],
        State.MERGED: ["merge"],
        State.PENDING_DISPATCH: ["submit"],
        State.DISPATCHED: ["submit", "dispatch"],
        State.RETURN_REQUESTED: ["submit", "dispatch", "request_return"],
        State.HANDLING: ["submit", "dispatch", "sign"],
        State.EXTENSION_REQUESTED: ["submit", "dispatch", "sign", "apply_extension"],
        State.LEADER_REVIEW: ["submit", "dispatch", "sign", "submit_reply"],
        State.REPLIED: ["submit", "dispatch", "sign", "reply"],
        State.CALLBACK: ["submit", "dispatch", "sign", "reply", "approve_reply"],
        State.VISITED: ["submit", "dispatch", "sign", "reply", "approve_reply", "record_callback"],
        State.CLOSED: ["submit", "dispatch", "sign", "reply", "approve_reply", "record_callback", "close"],
        State.ARCHIVED: ["answer_now", "archive"],
    }
    for step in paths[state]:
        o = run(o, step).order
    assert o.state is state
    return o


TABLE = [(s, a, t) for s, row in TRANSITIONS.items() for a, t in row.items()]


@pytest.mark.parametrize(("state", "action", "target"), TABLE, ids=[f"{s.value}-{a}" for s, a, _ in TABLE])
def test_every_table_entry_moves_to_its_target_and_is_audited(state, action, target):
    o = order_in(state)
    if action == "co_reply":
        o = dataclasses.replace(o, co_units=("water",))
        d = decide(o, action, VALID[action], Actor("water1", Role.UNIT, "water"), CTX)
    else:
        d = run(o, action)
    assert d.order.state is target
    assert (d.audit.action, d.audit.from_state, d.audit.to_state) == (action, state, target)
    assert d.audit.at == NOW


MISSING = [(s, a) for s in State for a in sorted(ACTIONS) if a not in TRANSITIONS[s]]


@pytest.mark.parametrize(("state", "action"), MISSING, ids=[f"{s.value}-{a}" for s, a in MISSING])
def test_every_pair_outside_the_table_is_refused(state, action):
    o = order_in(state)
    with pytest.raises(IllegalAction):
        run(o, action)


def test_an_unknown_action_is_refused():
    with pytest.raises(IllegalAction, match="未知操作"):
        decide(fresh(), "teleport", {}, ACTORS[Role.ADMIN], CTX)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_action_refuses_every_role_not_allowed(action):
    state = next(s for s, row in TRANSITIONS.items() if action in row)
    o = order_in(state)
    for role, actor in ACTORS.items():
        if role in ROLES[action]:
            continue
        with pytest.raises(Forbidden):
            decide(o, action, VALID[action], actor, CTX)


def test_only_the_lead_unit_may_sign():
    o = order_in(State.DISPATCHED)
    with pytest.raises(Forbidden, match="主办单位"):
        decide(o, "sign", {}, Actor("water1", Role.UNIT, "water"), CTX)


def test_only_a_co_unit_may_give_a_co_unit_answer():
    with pytest.raises(Forbidden, match="协办"):
        run(order_in(State.HANDLING), "co_reply")


def test_allowed_lists_only_what_the_role_and_unit_may_do():
    o = order_in(State.DISPATCHED)
    assert allowed(o, ACTORS[Role.UNIT]) == ["sign", "request_return"]
    assert allowed(o, Actor("water1", Role.UNIT, "water")) == []
    assert allowed(o, ACTORS[Role.SUPERVISOR]) == ["supervise"]


@pytest.mark.parametrize("missing", ["reason", "basis", "suggested_unit"])
def test_a_return_without_a_required_field_is_refused_and_names_it(missing):
    data = {k: v for k, v in VALID["request_return"].items() if k != missing}
    with pytest.raises(RuleViolation, match=missing) as err:
        run(order_in(State.DISPATCHED), "request_return", data)
    assert err.value.rule == "return.fields"


def test_a_return_without_the_signed_approval_is_refused():
    with pytest.raises(RuleViolation, match="return_approval"):
        run(order_in(State.DISPATCHED), "request_return", c=ctx(attachment_kinds=frozenset()))


def test_a_late_return_is_accepted_but_marked_late():
    o = order_in(State.DISPATCHED)
    d = run(o, "request_return", c=ctx(now=at("2026-03-11 09:30")))  # return_by was 03-11 09:00
    assert d.order.return_request["late"] is True
    early = run(o, "request_return", c=ctx(now=at("2026-03-10 17:00")))
    assert early.order.return_request["late"] is False


def test_a_unit_may_not_return_an_order_of_a_matter_it_leads_by_precedent():
    with pytest.raises(RuleViolation) as err:
        run(order_in(State.DISPATCHED), "request_return", c=ctx(precedent_unit="housing"))
    assert err.value.rule == "return.precedent"


def test_dispatch_follows_the_precedent_and_can_set_it():
    o = order_in(State.PENDING_DISPATCH)
    with pytest.raises(RuleViolation, match="water"):
        run(o, "dispatch", {"lead_unit": "housing"}, c=ctx(precedent_unit="water"))
    d = run(o, "dispatch", {"lead_unit": "housing", "set_precedent": True})
    assert d.set_precedent == "housing"


@pytest.mark.parametrize(
    "data", [{"lead_unit": "nowhere"}, {"lead_unit": "old"}, {"lead_unit": "housing", "co_units": ["housing"]}]
)
def test_dispatch_outside_the_active_directory_is_refused(data):
    with pytest.raises(RuleViolation, match=r"目录|无效"):
        run(order_in(State.PENDING_DISPATCH), "dispatch", data)


def test_dispatch_computes_deadlines_and_an_approved_return_then_redispatch_keeps_both_assignments():
    o = run(order_in(State.PENDING_DISPATCH), "dispatch").order
    assert o.deadlines.sign_by == at("2026-03-10 11:00")
    assert o.deadlines.reply_by == at("2026-03-17 09:00")
    o = run(o, "request_return").order
    o = run(o, "approve_return").order
    assert o.lead_unit is None and o.current.returned
    o = run(o, "dispatch", {"lead_unit": "water"}, c=ctx(now=at("2026-03-10 14:00"))).order
    assert [a.unit for a in o.assignments] == ["housing", "water"]
    assert o.deadlines.sign_by == at("2026-03-10 16:00")


def test_a_second_extension_is_refused():
    o = run(order_in(State.EXTENSION_REQUESTED), "approve_extension").order
    with pytest.raises(RuleViolation) as err:
        run(o, "apply_extension")
    assert err.value.rule == "extension.once"


def test_an_extension_past_ten_working_days_from_dispatch_is_refused():
    # Dispatched Tue 03-10 09:00: reply_by 03-17 09:00, latest 03-24 09:00 (10 working days).
    with pytest.raises(RuleViolation) as err:
        run(order_in(State.HANDLING), "apply_extension", {"days": 6, "reason": "x"})
    assert err.value.rule == "extension.total"
    ok = run(order_in(State.HANDLING), "apply_extension", {"days": 5, "reason": "x"})
    assert ok.order.extension_request["new_reply_by"] == at("2026-03-24 09:00").isoformat()


def test_an_extension_filed_less_than_one_working_day_before_due_is_refused():
    o = order_in(State.HANDLING)
    with pytest.raises(RuleViolation) as err:
        run(o, "apply_extension", c=ctx(now=at("2026-03-16 09:01")))  # apply_by 03-16 09:00
    assert err.value.rule == "extension.too_late"
    assert run(o, "apply_extension", c=ctx(now=at("2026-03-16 09:00"))).order.state is State.EXTENSION_REQUESTED


def test_a_consult_order_cannot_be_extended():
    o = run(fresh(), "classify", {"type": "consult", "category": "x"}).order
    for step in ("submit", "dispatch", "sign"):
        o = run(o, step).order
    with pytest.raises(RuleViolation) as err:
        run(o, "apply_extension")
    assert err.value.rule in ("extension.type",)


def test_a_provincial_order_needs_a_signed_extension_request():
    o = run(fresh(), "classify", {"type": "help", "category": "x", "source_level": "provincial"}).order
    for step in ("submit", "dispatch", "sign"):
        o = run(o, step).order
    with pytest.raises(RuleViolation) as err:
        run(o, "apply_extension", c=ctx(attachment_kinds=frozenset({"evidence"})))
    assert err.value.rule == "extension.attachment"
    assert o.source_level is SourceLevel.PROVINCIAL


def test_an_approved_extension_moves_reply_by_and_keeps_the_latest_limit():
    o = run(order_in(State.EXTENSION_REQUESTED), "approve_extension").order
    assert o.deadlines.reply_by == at("2026-03-19 09:00")
    assert o.deadlines.extension_apply_by is None
    assert o.deadlines.extension_latest_reply_by == at("2026-03-24 09:00")
    assert o.current.reply_by == at("2026-03-19 09:00")


@pytest.mark.parametrize("missing", ["handling", "resolution", "contact"])
def test_a_reply_missing_one_of_the_three_elements_is_refused(missing):
    data = {**VALID["reply"], missing: "  "}
    with pytest.raises(RuleViolation, match="缺少要素") as err:
        run(order_in(State.HANDLING), "reply", data)
    assert err.value.rule == "reply.elements"


def test_a_reply_without_evidence_is_refused():
    with pytest.raises(RuleViolation, match="evidence"):
        run(order_in(State.HANDLING), "reply", c=ctx(attachment_kinds=frozenset()))


def test_the_lead_unit_must_merge_every_co_unit_answer_before_replying():
    o = run(order_in(State.PENDING_DISPATCH), "dispatch", {"lead_unit": "housing", "co_units": ["water"]}).order
    o = run(o, "sign").order
    with pytest.raises(RuleViolation, match="water"):
        run(o, "reply")
    o = decide(o, "co_reply", {"text": "管网已修复"}, Actor("water1", Role.UNIT, "water"), CTX).order
    assert run(o, "reply").order.state is State.REPLIED


def test_review_refuses_approval_unless_all_three_checks_pass():
    with pytest.raises(RuleViolation, match="措施明确"):
        run(order_in(State.REPLIED), "approve_reply", {"elements_complete": True, "evidence_matches": True})


def test_a_rejected_reply_goes_back_to_the_unit_and_no_longer_counts_as_replied():
    o = run(order_in(State.REPLIED), "reject_reply").order
    assert o.state is State.HANDLING and o.current.replied_at is None and o.review_rejections == 1


def test_an_unsatisfied_callback_cannot_simply_close():
    o = run(
        order_in(State.CALLBACK), "record_callback", {"reached": True, "satisfaction": "unsatisfied", "resolved": False}
    ).order
    with pytest.raises(RuleViolation) as err:
        run(o, "close")
    assert err.value.rule == "close.unsatisfied"
    assert run(o, "final_answer").order.final_answer is True


def test_repeated_rehandling_escalates_and_gives_new_deadlines():
    o = order_in(State.VISITED)
    o = run(o, "rehandle", c=ctx(now=at("2026-03-12 10:00"))).order
    assert not o.escalated and o.deadlines.reply_by == at("2026-03-19 10:00")
    for step in ("reply", "approve_reply", "record_callback"):
        o = run(o, step).order
    o = run(o, "rehandle").order
    assert o.rehandle_count == 2 and o.escalated


@pytest.mark.parametrize(
    ("action", "data", "rule"),
    [
        ("transfer_emergency", {"target": "12345"}, "intake.transfer"),
        ("not_accept", {"route": "magic", "note": "x"}, "intake.route"),
        ("answer_now", {}, "intake.answer"),
        ("classify", {"type": "gossip"}, "classify.value"),
        ("merge", {"into": 1}, "merge.target"),
    ],
)
def test_intake_refusals_name_the_rule(action, data, rule):
    with pytest.raises(RuleViolation) as err:
        run(order_in(State.INTAKE), action, data)
    assert err.value.rule == rule


def test_an_unclassified_order_cannot_be_submitted():
    with pytest.raises(RuleViolation, match="分类"):
        run(fresh(), "submit")


def test_a_category_outside_the_tree_is_refused():
    with pytest.raises(RuleViolation, match="类别目录"):
        run(fresh(), "classify", {"type": "help", "category": "火星"}, c=ctx(categories=frozenset({"城建/物业"})))


def test_callback_requires_reachability_and_satisfaction_values():
    with pytest.raises(RuleViolation):
        run(order_in(State.CALLBACK), "record_callback", {"reached": True, "satisfaction": "meh", "resolved": True})
    unreached = run(order_in(State.CALLBACK), "record_callback", {"reached": False}).order
    assert unreached.callback.reached is False
    assert run(unreached, "close").order.state is State.CLOSED


def test_supervision_is_an_overlay_that_keeps_the_state():
    o = order_in(State.HANDLING)
    d = run(o, "supervise", {"reason": "多次来电", "escalate": True})
    assert d.order.state is State.HANDLING and d.order.escalated and len(d.order.supervision) == 1
    assert d.audit.reason == "多次来电"


def test_special_urgent_orders_carry_feedback_deadlines_from_dispatch():
    o = run(fresh(), "classify", {"type": "help", "urgency": "special_urgent", "category": "x"}).order
    o = run(run(o, "submit").order, "dispatch").order
    assert o.urgency is Urgency.SPECIAL_URGENT
    assert o.deadlines.initial_feedback_by == at("2026-03-10 11:00")


def test_an_order_survives_a_round_trip_through_its_stored_form():
    o = run(order_in(State.VISITED), "supervise").order
    assert order_from_dict(order_to_dict(o)) == o
    assert o.order_type is OrderType.COMPLAINT


def test_a_tier_one_unit_sent_to_the_scene_must_arrive_within_thirty_clock_minutes():
    o = order_in(State.PENDING_DISPATCH)
    late_night = ctx(now=at("2026-03-10 23:50"))
    d = run(o, "dispatch", {"lead_unit": "housing", "on_site": True}, c=late_night).order
    assert d.deadlines.onsite_by == at("2026-03-11 00:20")
    with pytest.raises(RuleViolation) as err:
        run(o, "dispatch", {"lead_unit": "edu", "on_site": True})
    assert err.value.rule == "dispatch.on_site"


@pytest.mark.parametrize(("target_state", "rule"), [("", "merge.missing"), ("merged", "merge.chain")])
def test_a_merge_into_a_missing_or_merged_order_is_refused(target_state, rule):
    with pytest.raises(RuleViolation) as err:
        run(order_in(State.INTAKE), "merge", {"into": 99}, c=ctx(merge_target_state=target_state))
    assert err.value.rule == rule
    done = run(order_in(State.INTAKE), "merge", {"into": 99}, c=ctx(merge_target_state="closed")).order
    assert done.state is State.MERGED and done.merged_into == 99


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("role", list(Role))
def test_files_are_attached_only_by_the_roles_each_state_allows(state, role):
    order = dataclasses.replace(order_in(State.INTAKE), state=state, lead_unit="housing")
    actor = ACTORS[role]
    if role in ATTACHABLE[state]:
        may_attach(order, actor)
    else:
        with pytest.raises(IllegalAction):
            may_attach(order, actor)


def test_a_unit_attaches_only_to_its_own_orders():
    order = dataclasses.replace(order_in(State.INTAKE), state=State.HANDLING, lead_unit="water", co_units=("edu",))
    with pytest.raises(Forbidden):
        may_attach(order, ACTORS[Role.UNIT])  # housing's account
    may_attach(order, Actor("edu1", Role.UNIT, "edu"))  # a co-unit may add its evidence
