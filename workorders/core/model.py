"""The work order as the pure core sees it: a frozen value, replaced on every accepted action."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from workorders.core.deadlines import Deadlines, OrderType, SourceLevel, Urgency


class State(StrEnum):
    INTAKE = "intake"
    ANSWERED = "answered"
    TRANSFERRED = "transferred"
    NOT_ACCEPTED = "not_accepted"
    PENDING_DISPATCH = "pending_dispatch"
    DISPATCHED = "dispatched"
    RETURN_REQUESTED = "return_requested"
    HANDLING = "handling"
    EXTENSION_REQUESTED = "extension_requested"
    LEADER_REVIEW = "leader_review"
    REPLIED = "replied"
    CALLBACK = "callback"
    VISITED = "visited"
    CLOSED = "closed"
    ARCHIVED = "archived"
    MERGED = "merged"


STATE_LABELS = {
    State.INTAKE: "受理中",
    State.ANSWERED: "即时办结",
    State.TRANSFERRED: "已转紧急热线",
    State.NOT_ACCEPTED: "不予受理",
    State.PENDING_DISPATCH: "待派单",
    State.DISPATCHED: "待签收",
    State.RETURN_REQUESTED: "退回待审",
    State.HANDLING: "办理中",
    State.EXTENSION_REQUESTED: "延期待审",
    State.LEADER_REVIEW: "待领导审核",
    State.REPLIED: "答复待审核",
    State.CALLBACK: "待回访",
    State.VISITED: "已回访",
    State.CLOSED: "已办结",
    State.ARCHIVED: "已归档",
    State.MERGED: "已并单",
}


class Role(StrEnum):
    SEAT = "seat"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    DISPATCHER = "dispatcher"
    UNIT = "unit"
    ADMIN = "admin"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


@dataclass(frozen=True)
class Actor:
    username: str
    role: Role
    unit: str | None = None
    leader: bool = False  # a unit account with its leader's capability (分管领导): signs replies


@dataclass(frozen=True)
class Assignment:
    """One hand-over of the order to a lead unit: the unit's own clock, for per-unit KPIs."""

    unit: str
    dispatched_at: dt.datetime
    sign_by: dt.datetime
    return_by: dt.datetime
    reply_by: dt.datetime
    signed_at: dt.datetime | None = None
    return_requested_at: dt.datetime | None = None
    returned: bool = False  # the platform approved the unit's return
    replied_at: dt.datetime | None = None  # time of the reply the platform accepted
    redispatched: bool = False  # superseded by a later dispatch
    rehandle: bool = False  # created by 重办, not by a dispatch


@dataclass(frozen=True)
class Callback:
    at: dt.datetime
    reached: bool
    satisfaction: Satisfaction | None = None
    resolved: bool | None = None
    reasonable: bool = True
    note: str = ""


@dataclass(frozen=True)
class Order:
    id: int
    created_at: dt.datetime
    state: State = State.INTAKE
    order_type: OrderType | None = None
    urgency: Urgency = Urgency.GENERAL
    source_level: SourceLevel = SourceLevel.CITY
    category: str | None = None
    lead_unit: str | None = None
    co_units: tuple[str, ...] = ()
    deadlines: Deadlines | None = None
    assignments: tuple[Assignment, ...] = ()
    intake_outcome: str | None = None
    # Free-form records whose fields are checked by the rules; kept JSON-ready.
    return_request: Mapping[str, Any] | None = None
    extension_count: int = 0
    extension_request: Mapping[str, Any] | None = None
    reply: Mapping[str, Any] | None = None
    co_replies: Mapping[str, str] = field(default_factory=dict)
    feedback: tuple[Mapping[str, Any], ...] = ()
    review_rejections: int = 0
    reply_approved_at: dt.datetime | None = None
    callback: Callback | None = None
    rehandle_count: int = 0
    final_answer: bool = False
    unclosed: bool = False
    supervision: tuple[Mapping[str, Any], ...] = ()
    escalated: bool = False
    merged_into: int | None = None
    closed_at: dt.datetime | None = None
    archived_at: dt.datetime | None = None

    @property
    def current(self) -> Assignment | None:
        return self.assignments[-1] if self.assignments else None


_TIME_FIELDS = ("created_at", "reply_approved_at", "closed_at", "archived_at")
_ASSIGN_TIMES = ("dispatched_at", "sign_by", "return_by", "reply_by", "signed_at", "return_requested_at", "replied_at")


def _iso(v: dt.datetime | None) -> str | None:
    return v.isoformat() if v else None


def _dt(v: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(v) if isinstance(v, str) else None


def order_to_dict(o: Order) -> dict[str, Any]:
    """A JSON-ready dict that :func:`order_from_dict` turns back into the same order."""
    out: dict[str, Any] = {k: getattr(o, k) for k in o.__dataclass_fields__}
    for k in _TIME_FIELDS:
        out[k] = _iso(out[k])
    out["state"] = o.state.value
    out["order_type"] = o.order_type.value if o.order_type else None
    out["urgency"] = o.urgency.value
    out["source_level"] = o.source_level.value
    out["co_units"] = list(o.co_units)
    out["deadlines"] = o.deadlines.as_dict() if o.deadlines else None
    out["assignments"] = [
        {**{k: getattr(a, k) for k in a.__dataclass_fields__}, **{k: _iso(getattr(a, k)) for k in _ASSIGN_TIMES}}
        for a in o.assignments
    ]
    out["return_request"] = dict(o.return_request) if o.return_request else None
    out["extension_request"] = dict(o.extension_request) if o.extension_request else None
    out["reply"] = dict(o.reply) if o.reply else None
    out["co_replies"] = dict(o.co_replies)
    out["feedback"] = [dict(f) for f in o.feedback]
    out["supervision"] = [dict(s) for s in o.supervision]
    c = o.callback
    out["callback"] = (
        {
            "at": c.at.isoformat(),
            "reached": c.reached,
            "satisfaction": c.satisfaction.value if c.satisfaction else None,
            "resolved": c.resolved,
            "reasonable": c.reasonable,
            "note": c.note,
        }
        if c
        else None
    )
    return out


def order_from_dict(d: Mapping[str, Any]) -> Order:
    c = d.get("callback")
    callback = None
    if c:
        at = _dt(c["at"])
        assert at is not None
        sat = c.get("satisfaction")
        callback = Callback(
            at,
            bool(c["reached"]),
            Satisfaction(sat) if sat else None,
            c.get("resolved"),
            bool(c.get("reasonable", True)),
            str(c.get("note", "")),
        )
    assignments = []
    for a in d.get("assignments", []):
        times = {k: _dt(a.get(k)) for k in _ASSIGN_TIMES}
        flags = {k: bool(a.get(k, False)) for k in ("returned", "redispatched", "rehandle")}
        assignments.append(Assignment(unit=str(a["unit"]), **times, **flags))  # type: ignore[arg-type]
    created = _dt(d["created_at"])
    assert created is not None
    return Order(
        id=int(d["id"]),
        created_at=created,
        state=State(d["state"]),
        order_type=OrderType(d["order_type"]) if d.get("order_type") else None,
        urgency=Urgency(d.get("urgency", "general")),
        source_level=SourceLevel(d.get("source_level", "city")),
        category=d.get("category"),
        lead_unit=d.get("lead_unit"),
        co_units=tuple(d.get("co_units", ())),
        deadlines=Deadlines.from_dict(d["deadlines"]) if d.get("deadlines") else None,
        assignments=tuple(assignments),
        intake_outcome=d.get("intake_outcome"),
        return_request=d.get("return_request"),
        extension_count=int(d.get("extension_count", 0)),
        extension_request=d.get("extension_request"),
        reply=d.get("reply"),
        co_replies=dict(d.get("co_replies", {})),
        feedback=tuple(d.get("feedback", ())),
        review_rejections=int(d.get("review_rejections", 0)),
        reply_approved_at=_dt(d.get("reply_approved_at")),
        callback=callback,
        rehandle_count=int(d.get("rehandle_count", 0)),
        final_answer=bool(d.get("final_answer", False)),
        unclosed=bool(d.get("unclosed", False)),
        supervision=tuple(d.get("supervision", ())),
        escalated=bool(d.get("escalated", False)),
        merged_into=d.get("merged_into"),
        closed_at=_dt(d.get("closed_at")),
        archived_at=_dt(d.get("archived_at")),
    )
