"""The work-order lifecycle as a table, with the role and rule checks of every action.

``decide(order, action, data, actor, ctx)`` either returns the new order and its audit entry,
or raises: :class:`IllegalAction` (not in the table for this state), :class:`Forbidden` (role
or unit), :class:`RuleViolation` (a rule of the seed, named). Nothing changes on a refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from workorders.core.deadlines import RuleViolation
from workorders.core.model import Actor, Order, Role, State
from workorders.core.rules import RULES, RuleContext, Unit

__all__ = [
    "ACTIONS",
    "LEADER_ACTIONS",
    "ROLES",
    "TRANSITIONS",
    "Decision",
    "Forbidden",
    "IllegalAction",
    "RuleContext",
    "RuleViolation",
    "Unit",
    "allowed",
    "decide",
    "may_attach",
]

S = State
TRANSITIONS: dict[State, dict[str, State]] = {
    S.INTAKE: {
        "classify": S.INTAKE,
        "answer_now": S.ANSWERED,
        "transfer_emergency": S.TRANSFERRED,
        "not_accept": S.NOT_ACCEPTED,
        "submit": S.PENDING_DISPATCH,
        "merge": S.MERGED,
        "supervise": S.INTAKE,
    },
    S.PENDING_DISPATCH: {
        "classify": S.PENDING_DISPATCH,
        "dispatch": S.DISPATCHED,
        "merge": S.MERGED,
        "supervise": S.PENDING_DISPATCH,
    },
    S.DISPATCHED: {"sign": S.HANDLING, "request_return": S.RETURN_REQUESTED, "supervise": S.DISPATCHED},
    S.RETURN_REQUESTED: {
        "approve_return": S.PENDING_DISPATCH,
        "reject_return": S.DISPATCHED,
        "supervise": S.RETURN_REQUESTED,
    },
    S.HANDLING: {
        "feedback": S.HANDLING,
        "co_reply": S.HANDLING,
        "apply_extension": S.EXTENSION_REQUESTED,
        "reply": S.REPLIED,
        "submit_reply": S.LEADER_REVIEW,
        "mark_unclosed": S.HANDLING,
        "supervise": S.HANDLING,
    },
    S.EXTENSION_REQUESTED: {
        "approve_extension": S.HANDLING,
        "reject_extension": S.HANDLING,
        "feedback": S.EXTENSION_REQUESTED,
        "co_reply": S.EXTENSION_REQUESTED,
        "reply": S.REPLIED,
        "submit_reply": S.LEADER_REVIEW,
        "mark_unclosed": S.EXTENSION_REQUESTED,
        "supervise": S.EXTENSION_REQUESTED,
    },
    # The reply waits inside the unit for its leader; the reply deadline keeps running meanwhile.
    S.LEADER_REVIEW: {
        "leader_approve": S.REPLIED,
        "leader_return": S.HANDLING,
        "feedback": S.LEADER_REVIEW,
        "mark_unclosed": S.LEADER_REVIEW,
        "supervise": S.LEADER_REVIEW,
    },
    S.REPLIED: {"approve_reply": S.CALLBACK, "reject_reply": S.HANDLING, "supervise": S.REPLIED},
    S.CALLBACK: {"record_callback": S.VISITED, "supervise": S.CALLBACK},
    S.VISITED: {
        "close": S.CLOSED,
        "rehandle": S.HANDLING,
        "final_answer": S.CLOSED,
        "mark_unclosed": S.VISITED,
        "supervise": S.VISITED,
    },
    S.ANSWERED: {"archive": S.ARCHIVED},
    S.TRANSFERRED: {"archive": S.ARCHIVED},
    S.NOT_ACCEPTED: {"archive": S.ARCHIVED},
    S.CLOSED: {"archive": S.ARCHIVED},
    S.ARCHIVED: {},
    S.MERGED: {},
}

R = Role
ROLES: dict[str, frozenset[Role]] = {
    "classify": frozenset({R.SEAT, R.DISPATCHER}),
    "answer_now": frozenset({R.SEAT}),
    "transfer_emergency": frozenset({R.SEAT}),
    "not_accept": frozenset({R.SEAT}),
    "submit": frozenset({R.SEAT, R.DISPATCHER}),
    "merge": frozenset({R.SEAT, R.DISPATCHER}),
    "dispatch": frozenset({R.DISPATCHER}),
    "sign": frozenset({R.UNIT}),
    "request_return": frozenset({R.UNIT}),
    "approve_return": frozenset({R.DISPATCHER}),
    "reject_return": frozenset({R.DISPATCHER}),
    "feedback": frozenset({R.UNIT}),
    "co_reply": frozenset({R.UNIT}),
    "apply_extension": frozenset({R.UNIT}),
    "approve_extension": frozenset({R.DISPATCHER}),
    "reject_extension": frozenset({R.DISPATCHER}),
    "reply": frozenset({R.UNIT}),
    "submit_reply": frozenset({R.UNIT}),
    "leader_approve": frozenset({R.UNIT}),  # and the leader's capability: LEADER_ACTIONS
    "leader_return": frozenset({R.UNIT}),
    "approve_reply": frozenset({R.DISPATCHER}),
    "reject_reply": frozenset({R.DISPATCHER}),
    "record_callback": frozenset({R.SEAT, R.DISPATCHER}),
    "close": frozenset({R.DISPATCHER}),
    "rehandle": frozenset({R.DISPATCHER}),
    "final_answer": frozenset({R.DISPATCHER}),
    "mark_unclosed": frozenset({R.DISPATCHER, R.SUPERVISOR}),
    "supervise": frozenset({R.SUPERVISOR, R.MANAGER}),
    "archive": frozenset({R.DISPATCHER, R.ADMIN}),
}
# Who may attach files in which state: evidence at intake, the signed approval of a return,
# evidence of handling, the recording of a call-back. Nothing once an order has ended.
ATTACHABLE: dict[State, frozenset[Role]] = {
    S.INTAKE: frozenset({R.SEAT, R.DISPATCHER}),
    S.PENDING_DISPATCH: frozenset({R.SEAT, R.DISPATCHER}),
    S.DISPATCHED: frozenset({R.UNIT, R.DISPATCHER}),
    S.RETURN_REQUESTED: frozenset({R.UNIT, R.DISPATCHER}),
    S.HANDLING: frozenset({R.UNIT, R.DISPATCHER}),
    S.EXTENSION_REQUESTED: frozenset({R.UNIT, R.DISPATCHER}),
    S.LEADER_REVIEW: frozenset({R.UNIT, R.DISPATCHER}),
    S.REPLIED: frozenset({R.DISPATCHER}),
    S.CALLBACK: frozenset({R.SEAT, R.DISPATCHER}),
    S.VISITED: frozenset({R.SEAT, R.DISPATCHER}),
    S.ANSWERED: frozenset(),
    S.TRANSFERRED: frozenset(),
    S.NOT_ACCEPTED: frozenset(),
    S.CLOSED: frozenset(),
    S.ARCHIVED: frozenset(),
    S.MERGED: frozenset(),
}
# Unit actions are for the lead unit only, except a co-unit's own answer.
LEAD_UNIT_ACTIONS = frozenset(
    {
        "sign",
        "request_return",
        "feedback",
        "apply_extension",
        "reply",
        "submit_reply",
        "leader_approve",
        "leader_return",
    }
)
# Only the lead unit's leader (an account of that unit with the leader capability) signs its replies.
LEADER_ACTIONS = frozenset({"leader_approve", "leader_return"})
ACTIONS = frozenset(ROLES)


class IllegalAction(Exception):
    """The action is not in the lifecycle table for the order's state."""


class Forbidden(Exception):
    """The user's role or unit may not take this action on this order."""


@dataclass(frozen=True)
class Audit:
    at: dt.datetime
    actor: str
    role: Role
    action: str
    from_state: State
    to_state: State
    reason: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    order: Order
    audit: Audit
    set_precedent: str | None = None  # unit to record as precedent for the order's category


def allowed(order: Order, actor: Actor, approval_required: bool | None = None) -> list[str]:
    """The actions this user may try now, in table order (the rules may still refuse one).
    ``approval_required`` (when known) leaves out the reply path the order does not take:
    ``reply`` when its leader must sign first, ``submit_reply`` when not."""
    skip = {True: "reply", False: "submit_reply", None: ""}[approval_required]
    out = []
    for action in TRANSITIONS[order.state]:
        if action == skip:
            continue
        try:
            _check_actor(order, action, actor)
        except Forbidden:
            continue
        out.append(action)
    return out


def may_attach(order: Order, actor: Actor) -> None:
    """Raise unless this user may attach a file to the order in its present state."""
    if actor.role not in ATTACHABLE[order.state]:
        raise IllegalAction(f"工单状态为 {order.state.value}，{actor.role.value} 不能上传附件")
    if actor.role is Role.UNIT and actor.unit != order.lead_unit and actor.unit not in order.co_units:
        raise Forbidden("只有承办单位可以上传附件")


def _check_actor(order: Order, action: str, actor: Actor) -> None:
    if actor.role not in ROLES[action]:
        raise Forbidden(f"角色 {actor.role.value} 无权执行 {action}")
    if actor.role is Role.UNIT:
        if action in LEAD_UNIT_ACTIONS and actor.unit != order.lead_unit:
            raise Forbidden(f"只有主办单位可以执行 {action}")
        if action == "co_reply" and actor.unit not in order.co_units:
            raise Forbidden("只有协办单位可以提交协办意见")
        if action in LEADER_ACTIONS and not actor.leader:
            raise Forbidden("只有本单位分管领导可以审核答复")


def decide(order: Order, action: str, data: Mapping[str, Any], actor: Actor, ctx: RuleContext) -> Decision:
    if action not in ACTIONS:
        raise IllegalAction(f"未知操作 {action!r}")
    table = TRANSITIONS[order.state]
    if action not in table:
        raise IllegalAction(f"工单状态为 {order.state.value}，不能执行 {action}")
    _check_actor(order, action, actor)
    new, precedent = RULES[action](order, data, actor, ctx)
    new = replace(new, state=table[action])
    reason = str(data.get("reason") or data.get("note") or "")
    audit = Audit(ctx.now, actor.username, actor.role, action, order.state, new.state, reason, dict(data))
    return Decision(new, audit, precedent)


assert set(RULES) == set(ROLES) == {a for row in TRANSITIONS.values() for a in row}
assert set(ATTACHABLE) == set(TRANSITIONS)
