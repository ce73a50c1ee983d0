"""The rule of every lifecycle action: checks its data against the seed's rules and returns the
changed order. Called only through :func:`workorders.core.lifecycle.decide`, after the table and
role checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from workorders.core.approval import reason_text
from workorders.core.calendar import WorkCalendar
from workorders.core.deadlines import (
    Limits,
    OrderType,
    RuleViolation,
    SourceLevel,
    Urgency,
    check_extension,
    compute_deadlines,
    extend,
)
from workorders.core.model import Actor, Assignment, Callback, Order, Satisfaction

EMERGENCY_NUMBERS = frozenset({"110", "119", "120", "122"})
LAWFUL_ROUTES = frozenset({"litigation", "arbitration", "petition", "disclosure", "administrative_review", "other"})


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    tier: int = 3
    active: bool = True


@dataclass(frozen=True)
class RuleContext:
    calendar: WorkCalendar
    now: dt.datetime
    limits: Limits = field(default_factory=Limits)
    directory: Mapping[str, Unit] = field(default_factory=dict)
    categories: frozenset[str] = frozenset()  # empty: any category
    precedent_unit: str | None = None  # lead unit already set for this order's kind of matter
    attachment_kinds: frozenset[str] = frozenset()  # kinds of files already attached to the order
    require_evidence: bool = True
    escalate_after_rehandles: int = 2
    # For a merge: the state of the order named as target ("" when no such order exists).
    merge_target_state: str = ""
    # Why this order's reply needs its unit's leader (core/approval.py); empty: it does not.
    approval: tuple[str, ...] = ()


def _text(data: Mapping[str, Any], key: str, rule: str, message: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleViolation(rule, message)
    return value.strip()


Result = tuple[Order, str | None]


def _classify(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    try:
        order_type = OrderType(d.get("type", o.order_type))
        urgency = Urgency(d.get("urgency", o.urgency))
        level = SourceLevel(d.get("source_level", o.source_level))
    except ValueError as exc:
        raise RuleViolation("classify.value", f"分类取值无效：{exc}") from None
    category = d.get("category", o.category)
    if category is not None and ctx.categories and category not in ctx.categories:
        raise RuleViolation("classify.category", f"类别 {category!r} 不在类别目录中")
    return replace(o, order_type=order_type, urgency=urgency, source_level=level, category=category), None


def _answer_now(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "note", "intake.answer", "即时办结须记录答复内容 (note)")
    return replace(o, intake_outcome="answered", closed_at=ctx.now), None


def _transfer(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    if d.get("target") not in EMERGENCY_NUMBERS:
        raise RuleViolation("intake.transfer", "紧急转接目标必须是 110、119、120 或 122")
    return replace(o, intake_outcome="transferred", closed_at=ctx.now), None


def _not_accept(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    if d.get("route") not in LAWFUL_ROUTES:
        raise RuleViolation("intake.route", "不予受理须注明法定途径 (route): " + ", ".join(sorted(LAWFUL_ROUTES)))
    _text(d, "note", "intake.route", "不予受理须记录向群众解释的内容 (note)")
    return replace(o, intake_outcome="not_accepted", closed_at=ctx.now), None


def _submit(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    if o.order_type is None or o.category is None:
        raise RuleViolation("submit.classified", "派单前须先分类：类型 (type) 和类别 (category)")
    return replace(o, intake_outcome="dispatch"), None


def _merge(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    target = d.get("into")
    if not isinstance(target, int) or isinstance(target, bool) or target == o.id or target <= 0:
        raise RuleViolation("merge.target", "并单须指定另一张工单的编号 (into)")
    if not ctx.merge_target_state:
        raise RuleViolation("merge.missing", f"工单 {target} 不存在，无法并入")
    if ctx.merge_target_state == "merged":
        # Only into an order that stands on its own: chains (and so cycles) of merges never form.
        raise RuleViolation("merge.chain", f"工单 {target} 已并入其他工单，请并入其最终工单")
    return replace(o, merged_into=target, closed_at=ctx.now), None


def _dispatch(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    if o.order_type is None or o.category is None:
        raise RuleViolation("dispatch.classified", "派单前须先分类：类型 (type) 和类别 (category)")
    lead = d.get("lead_unit")
    unit = ctx.directory.get(lead) if isinstance(lead, str) else None
    if unit is None or not unit.active:
        raise RuleViolation("dispatch.directory", f"主办单位 {lead!r} 不在派单目录中或已停用")
    co = d.get("co_units") or []
    if not isinstance(co, list) or any(not isinstance(c, str) for c in co):
        raise RuleViolation("dispatch.directory", "协办单位 (co_units) 须为单位代码列表")
    for c in co:
        if c == lead or c not in ctx.directory or not ctx.directory[c].active:
            raise RuleViolation("dispatch.directory", f"协办单位 {c!r} 无效（不在目录中、已停用或与主办相同）")
    if ctx.precedent_unit and ctx.precedent_unit != lead:
        raise RuleViolation("dispatch.precedent", f"同类事项已确定主办单位 {ctx.precedent_unit}，应派给该单位")
    dl = compute_deadlines(ctx.calendar, ctx.limits, o.order_type, o.urgency, ctx.now, allow_provisional=True)
    if d.get("on_site") is True:
        if unit.tier != 1:
            raise RuleViolation("dispatch.on_site", "只有一级联动单位承担 30 分钟到场要求，请改派或取消 on_site")
        minutes = ctx.limits.tier1_onsite_clock_minutes
        dl = replace(dl, onsite_by=ctx.calendar.add_clock_hours(ctx.now, minutes / 60).at)
    previous = tuple(replace(x, redispatched=True) if not x.returned else x for x in o.assignments)
    new = Assignment(unit.code, dl.dispatched_at, dl.sign_by, dl.return_by, dl.reply_by)
    precedent = unit.code if d.get("set_precedent") else None
    out = replace(
        o,
        lead_unit=unit.code,
        co_units=tuple(co),
        deadlines=dl,
        assignments=(*previous, new),
        co_replies={},
        reply=None,
    )
    return out, precedent


def _with_current(o: Order, **changes: Any) -> tuple[Assignment, ...]:
    cur = o.current
    assert cur is not None  # every post-dispatch state has an assignment
    return (*o.assignments[:-1], replace(cur, **changes))


def _sign(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    return replace(o, assignments=_with_current(o, signed_at=ctx.now)), None


def _request_return(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    if ctx.precedent_unit and ctx.precedent_unit == o.lead_unit:
        raise RuleViolation("return.precedent", "同类事项已确定由本单位主办，不得退回")
    req = {
        "reason": _text(d, "reason", "return.fields", "退回须填写退回理由 (reason)"),
        "basis": _text(d, "basis", "return.fields", "退回须填写法律法规或三定依据 (basis)"),
        "suggested_unit": _text(d, "suggested_unit", "return.fields", "退回须填写建议承办单位 (suggested_unit)"),
    }
    if "return_approval" not in ctx.attachment_kinds:
        raise RuleViolation("return.attachment", "退回须上传经审批盖章的退回申请 (附件类型 return_approval)")
    assert o.deadlines is not None
    late = ctx.now > o.deadlines.return_by
    req_full = {**req, "at": ctx.now.isoformat(), "late": late}
    return replace(o, return_request=req_full, assignments=_with_current(o, return_requested_at=ctx.now)), None


def _approve_return(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    out = replace(o, assignments=_with_current(o, returned=True), lead_unit=None, co_units=(), deadlines=None)
    return out, None


def _reject_return(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "reason", "return.review", "驳回退回须说明理由 (reason)")
    return replace(o, return_request=None, assignments=_with_current(o, return_requested_at=None)), None


def _feedback(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    kind = d.get("kind", "progress")
    if kind not in ("initial", "progress"):
        raise RuleViolation("feedback.kind", "反馈类型 (kind) 须为 initial 或 progress")
    text = _text(d, "text", "feedback.text", "反馈须填写内容 (text)")
    entry = {"at": ctx.now.isoformat(), "kind": kind, "text": text, "by": a.username}
    return replace(o, feedback=(*o.feedback, entry)), None


def _co_reply(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    text = _text(d, "text", "co_reply.text", "协办意见须填写内容 (text)")
    assert a.unit is not None
    return replace(o, co_replies={**o.co_replies, a.unit: text}), None


def _apply_extension(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    assert o.deadlines is not None and o.order_type is not None
    reason = _text(d, "reason", "extension.reason", "延期须说明理由 (reason)")
    days = d.get("days")
    if not isinstance(days, int | float) or isinstance(days, bool):
        raise RuleViolation("extension.days", "延期须填写延期工作日数 (days)")
    new_reply = check_extension(
        ctx.calendar,
        ctx.limits,
        o.deadlines,
        o.order_type,
        o.source_level,
        o.extension_count,
        float(days),
        ctx.now,
        "extension_request" in ctx.attachment_kinds,
        allow_provisional=True,
    )
    req = {"days": days, "reason": reason, "at": ctx.now.isoformat(), "new_reply_by": new_reply.isoformat()}
    return replace(o, extension_request=req, extension_count=o.extension_count + 1), None


def _approve_extension(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    assert o.deadlines is not None and o.extension_request is not None
    new_reply = dt.datetime.fromisoformat(str(o.extension_request["new_reply_by"]))
    req = {**o.extension_request, "approved": True}
    return replace(
        o,
        deadlines=extend(o.deadlines, new_reply),
        extension_request=req,
        assignments=_with_current(o, reply_by=new_reply),
    ), None


def _reject_extension(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "reason", "extension.review", "驳回延期须说明理由 (reason)")
    assert o.extension_request is not None
    return replace(o, extension_request={**o.extension_request, "approved": False}), None


REPLY_ELEMENTS = {"handling": "办理情况", "resolution": "解决情况", "contact": "联系情况"}


def _reply(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    if ctx.approval:
        raise RuleViolation(
            "reply.approval",
            f"本工单答复须经分管领导审核（{reason_text(ctx.approval)}）：请提交领导审核 (submit_reply)",
        )
    reply = _checked_reply(o, d, a, ctx)
    return replace(o, reply=reply, assignments=_with_current(o, replied_at=ctx.now)), None


def _submit_reply(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    # The reply is written but not yet given: replied_at (what on-time completion counts) is set
    # when the leader lets it out, so the time it waits for the leader counts in the unit's limit.
    if not ctx.approval:
        raise RuleViolation("approval.not_required", "本工单无须领导审核，请直接答复 (reply)")
    reply = _checked_reply(o, d, a, ctx) | {"approval_reasons": list(ctx.approval)}
    return replace(o, reply=reply), None


def _leader_approve(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    assert o.reply is not None  # submit_reply wrote it
    opinion = str(d.get("opinion") or "").strip()[:2000]
    approval = {"by": a.username, "at": ctx.now.isoformat(), "opinion": opinion}
    return replace(o, reply={**o.reply, "approval": approval}, assignments=_with_current(o, replied_at=ctx.now)), None


def _leader_return(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "reason", "approval.reason", "领导退回答复须说明理由 (reason)")
    return replace(o, reply=None), None


def _checked_reply(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> dict[str, Any]:
    missing = [label for key, label in REPLY_ELEMENTS.items() if not str(d.get(key) or "").strip()]
    if missing:
        raise RuleViolation("reply.elements", "答复缺少要素：" + "、".join(missing))
    if ctx.require_evidence and "evidence" not in ctx.attachment_kinds:
        raise RuleViolation("reply.evidence", "答复须附佐证材料 (附件类型 evidence)")
    waiting = [c for c in o.co_units if c not in o.co_replies]
    if waiting:
        raise RuleViolation("reply.co_units", "主办单位须汇总协办意见，尚未提交：" + "、".join(waiting))
    return {k: str(d[k]).strip() for k in REPLY_ELEMENTS} | {"at": ctx.now.isoformat(), "by": a.username}


def _approve_reply(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    checks = {"elements_complete": "要素齐全", "evidence_matches": "佐证一致", "measures_clear": "措施明确"}
    failed = [label for key, label in checks.items() if d.get(key) is not True]
    if failed:
        raise RuleViolation("review.three_checks", "三核实未通过：" + "、".join(failed) + "；请退回单位补充")
    return replace(o, reply_approved_at=ctx.now), None


def _reject_reply(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "reason", "review.reason", "退回答复须说明不完整之处 (reason)")
    out = replace(o, review_rejections=o.review_rejections + 1, assignments=_with_current(o, replied_at=None))
    return out, None


def _record_callback(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    reached = d.get("reached")
    if not isinstance(reached, bool):
        raise RuleViolation("callback.reached", "回访须注明是否联系上群众 (reached)")
    if not reached:
        return replace(o, callback=Callback(ctx.now, False, note=str(d.get("note", "")))), None
    try:
        sat = Satisfaction(str(d.get("satisfaction")))
    except ValueError:
        raise RuleViolation(
            "callback.satisfaction", "满意度 (satisfaction) 须为 satisfied / basically_satisfied / unsatisfied"
        ) from None
    resolved, reasonable = d.get("resolved"), d.get("reasonable", True)
    if not isinstance(resolved, bool) or not isinstance(reasonable, bool):
        raise RuleViolation("callback.resolved", "回访须注明是否解决 (resolved) 与诉求是否合理 (reasonable)")
    cb = Callback(ctx.now, True, sat, resolved, reasonable, str(d.get("note", "")))
    return replace(o, callback=cb), None


def _close(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    if o.callback and o.callback.reached and o.callback.satisfaction is Satisfaction.UNSATISFIED:
        raise RuleViolation("close.unsatisfied", "群众不满意：须重办 (rehandle) 或标记为最终答复 (final_answer)")
    return replace(o, closed_at=ctx.now), None


def _rehandle(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "reason", "rehandle.reason", "重办须说明理由 (reason)")
    assert o.order_type is not None and o.lead_unit is not None
    dl = compute_deadlines(ctx.calendar, ctx.limits, o.order_type, o.urgency, ctx.now, allow_provisional=True)
    again = Assignment(o.lead_unit, dl.dispatched_at, dl.sign_by, dl.return_by, dl.reply_by, ctx.now, rehandle=True)
    count = o.rehandle_count + 1
    return replace(
        o,
        deadlines=dl,
        assignments=(*o.assignments, again),
        rehandle_count=count,
        escalated=o.escalated or count >= ctx.escalate_after_rehandles,
        callback=None,
        reply=None,
        reply_approved_at=None,
        extension_count=0,
        extension_request=None,
    ), None


def _final_answer(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "reason", "final.reason", "标记最终答复须说明诉求不合理的依据 (reason)")
    return replace(o, final_answer=True, closed_at=ctx.now), None


def _mark_unclosed(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    _text(d, "reason", "unclosed.reason", "标记未闭环须说明原因 (reason)")
    return replace(o, unclosed=True), None


def _supervise(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    reason = _text(d, "reason", "supervise.reason", "督办须说明理由 (reason)")
    entry = {"at": ctx.now.isoformat(), "by": a.username, "reason": reason, "escalate": bool(d.get("escalate"))}
    return replace(o, supervision=(*o.supervision, entry), escalated=o.escalated or bool(d.get("escalate"))), None


def _archive(o: Order, d: Mapping[str, Any], a: Actor, ctx: RuleContext) -> Result:
    return replace(o, archived_at=ctx.now), None


RULES: dict[str, Callable[[Order, Mapping[str, Any], Actor, RuleContext], Result]] = {
    "classify": _classify,
    "answer_now": _answer_now,
    "transfer_emergency": _transfer,
    "not_accept": _not_accept,
    "submit": _submit,
    "merge": _merge,
    "dispatch": _dispatch,
    "sign": _sign,
    "request_return": _request_return,
    "approve_return": _approve_return,
    "reject_return": _reject_return,
    "feedback": _feedback,
    "co_reply": _co_reply,
    "apply_extension": _apply_extension,
    "approve_extension": _approve_extension,
    "reject_extension": _reject_extension,
    "reply": _reply,
    "submit_reply": _submit_reply,
    "leader_approve": _leader_approve,
    "leader_return": _leader_return,
    "approve_reply": _approve_reply,
    "reject_reply": _reject_reply,
    "record_callback": _record_callback,
    "close": _close,
    "rehandle": _rehandle,
    "final_answer": _final_answer,
    "mark_unclosed": _mark_unclosed,
    "supervise": _supervise,
    "archive": _archive,
}
