"""Deadline warnings (预警) and escalations (超期升级) of work orders, with no I/O and no clock reads.

Each round the watch hands in every open order (``OrderView``), the calendar, the unit's tier,
``now`` and the alerts already sent; :func:`plan` answers with commands: :class:`Warn` before a
deadline (its lead is a share of the limit, at least ``min_lead_minutes``, never more than half
the limit; in working time for working-time limits, in clock time for clock limits) and
:class:`Escalate` once the deadline has passed. Each command has a key (order, deadline, kind,
due): a key already in ``sent`` is never commanded again, so a round can be repeated, replayed or
cut short by the cap without a second notice. A new due time (an approved extension) is a new key.

Which deadline counts in which state, for which tier, in which time, and whether passing it is
escalated, is the table :data:`RULES`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from workorders.core.calendar import WorkCalendar
from workorders.core.deadlines import Deadlines


class DeadlineKind(StrEnum):
    SIGN = "sign"  # 签收
    RESPOND = "respond"  # 一、二级联动单位 24 小时响应：非工作时间也须按钟点签收
    RETURN = "return"  # 退回申请
    EXTENSION = "extension"  # 延期申请
    REPLY = "reply"  # 办结答复
    FEEDBACK = "feedback"  # 特殊工单首次反馈（钟点）
    PROGRESS = "progress"  # 特殊工单进展反馈
    ONSITE = "onsite"  # 一级联动单位 30 分钟到场


DEADLINE_LABELS = {
    DeadlineKind.SIGN: "签收",
    DeadlineKind.RESPOND: "联动响应",
    DeadlineKind.RETURN: "退回申请",
    DeadlineKind.EXTENSION: "延期申请",
    DeadlineKind.REPLY: "办结答复",
    DeadlineKind.FEEDBACK: "首次反馈",
    DeadlineKind.PROGRESS: "进展反馈",
    DeadlineKind.ONSITE: "到场",
}


class AlertKind(StrEnum):
    WARN = "warn"  # 预警
    ESCALATE = "escalate"  # 超期升级


ALERT_LABELS = {AlertKind.WARN: "预警", AlertKind.ESCALATE: "超期升级"}


@dataclass(frozen=True)
class Policy:
    """Lead of a warning = ``share`` of the limit, at least ``min_lead_minutes``, at most half the
    limit (a 30-minute on-site limit is warned at 15 minutes, not at dispatch)."""

    share: float = 0.25
    min_lead_minutes: float = 30.0
    respond_clock_hours: float = 2.0
    respond_tiers: frozenset[int] = frozenset({1, 2})
    onsite_tiers: frozenset[int] = frozenset({1})
    # The deadlines alerted at all (a city may find the return-window warning noise).
    kinds: frozenset[DeadlineKind] = frozenset(DeadlineKind)

    def lead(self, limit: dt.timedelta) -> dt.timedelta:
        wanted = max(limit * self.share, dt.timedelta(minutes=self.min_lead_minutes))
        return min(wanted, limit / 2)


@dataclass(frozen=True)
class OrderView:
    """What the rules need of one open order."""

    id: int
    state: str
    unit: str | None
    tier: int
    deadlines: Deadlines
    feedback_kinds: frozenset[str] = frozenset()


Due = Callable[[Deadlines, Policy], dt.datetime | None]
Done = Callable[[OrderView], bool]

# A reply waiting for the unit's leader (leader_review) is still owed to the platform.
_OPEN = frozenset({"dispatched", "return_requested", "handling", "extension_requested", "leader_review"})
_UNSIGNED = frozenset({"dispatched"})
_ANSWERING = frozenset({"dispatched", "handling"})
_ALL_TIERS = frozenset({1, 2, 3})


def _never(_: OrderView) -> bool:
    return False


def _respond_by(d: Deadlines, p: Policy) -> dt.datetime | None:
    # Only outside working hours does the clock limit come before the sign-off limit; in them one
    # warning (sign-off) is enough.
    at = d.dispatched_at + dt.timedelta(hours=p.respond_clock_hours)
    return at if at < d.sign_by else None


@dataclass(frozen=True)
class Rule:
    kind: DeadlineKind
    due: Due
    clock: bool  # clock time (True) or working time
    states: frozenset[str]  # order states in which the deadline counts
    escalate: bool  # passing it is escalated to the supervisors
    tiers: Callable[[Policy], frozenset[int]] = lambda p: _ALL_TIERS  # the tiers it counts for
    done: Done = _never  # met already, whatever the state


RULES: tuple[Rule, ...] = (
    Rule(DeadlineKind.SIGN, lambda d, p: d.sign_by, False, _UNSIGNED, True),
    Rule(DeadlineKind.RESPOND, _respond_by, True, _UNSIGNED, True, lambda p: p.respond_tiers),
    # Passing the return or the extension window is no failure: the unit is warned, nobody escalated.
    Rule(DeadlineKind.RETURN, lambda d, p: d.return_by, False, _ANSWERING, False),
    Rule(DeadlineKind.EXTENSION, lambda d, p: d.extension_apply_by, False, _ANSWERING, False),
    Rule(DeadlineKind.REPLY, lambda d, p: d.reply_by, False, _OPEN, True),
    Rule(
        DeadlineKind.FEEDBACK,
        lambda d, p: d.initial_feedback_by,
        True,
        _ANSWERING,
        True,
        done=lambda o: "initial" in o.feedback_kinds,
    ),
    Rule(
        DeadlineKind.PROGRESS,
        lambda d, p: d.progress_by,
        False,
        _ANSWERING,
        True,
        done=lambda o: "progress" in o.feedback_kinds,
    ),
    # Arrival on the scene is reported as a feedback (any kind) on the order.
    Rule(
        DeadlineKind.ONSITE,
        lambda d, p: d.onsite_by,
        True,
        _ANSWERING,
        True,
        lambda p: p.onsite_tiers,
        done=lambda o: bool(o.feedback_kinds),
    ),
)
RULE_BY_KIND = {r.kind: r for r in RULES}


AlertKey = tuple[int, str, str, str]  # (order, deadline kind, alert kind, due in UTC ISO form)


def key_of(order: int, deadline: str, kind: str, due: dt.datetime) -> AlertKey:
    return (order, deadline, kind, due.astimezone(dt.UTC).isoformat())


@dataclass(frozen=True)
class Warn:
    order: int
    deadline: DeadlineKind
    due: dt.datetime
    unit: str | None
    kind: AlertKind = AlertKind.WARN

    @property
    def key(self) -> AlertKey:
        return key_of(self.order, self.deadline, self.kind, self.due)


@dataclass(frozen=True)
class Escalate:
    order: int
    deadline: DeadlineKind
    due: dt.datetime
    unit: str | None
    kind: AlertKind = AlertKind.ESCALATE

    @property
    def key(self) -> AlertKey:
        return key_of(self.order, self.deadline, self.kind, self.due)


Command = Warn | Escalate


@dataclass(frozen=True)
class Plan:
    commands: tuple[Command, ...]
    pending: int  # due now but left for a later round by the cap


def warn_at(cal: WorkCalendar, policy: Policy, rule: Rule, start: dt.datetime, due: dt.datetime) -> dt.datetime | None:
    """When the warning of a deadline falls due; None when the limit has no length to warn in."""
    if rule.clock:
        limit = due - start
        if limit <= dt.timedelta(0):
            return None
        return due - policy.lead(limit)
    limit = cal.working_between(start, due, True)
    if limit <= dt.timedelta(0):
        return None
    return cal.sub_working(due, policy.lead(limit), True).at


def decide(
    cal: WorkCalendar, policy: Policy, order: OrderView, now: dt.datetime, sent: frozenset[AlertKey]
) -> list[Command]:
    """The alerts of one order due at ``now`` and not yet sent."""
    out: list[Command] = []
    start = order.deadlines.dispatched_at
    for rule in RULES:
        if rule.kind not in policy.kinds or order.state not in rule.states or order.tier not in rule.tiers(policy):
            continue
        if rule.done(order):
            continue
        due = rule.due(order.deadlines, policy)
        if due is None:
            continue
        if now > due:
            if rule.escalate:
                esc = Escalate(order.id, rule.kind, due, order.unit)
                if esc.key not in sent:
                    out.append(esc)
            # A warning whose moment went by unseen (engine stopped) is not sent late.
            continue
        at = warn_at(cal, policy, rule, start, due)
        if at is not None and now >= at:
            warn = Warn(order.id, rule.kind, due, order.unit)
            if warn.key not in sent:
                out.append(warn)
    return out


def plan(
    cal: WorkCalendar,
    policy: Policy,
    orders: Iterable[OrderView],
    now: dt.datetime,
    sent: frozenset[AlertKey],
    cap: int,
) -> Plan:
    """Every order's alerts, escalations first then the earliest due, at most ``cap`` of them."""
    due: list[Command] = []
    for order in orders:
        due.extend(decide(cal, policy, order, now, sent))
    due.sort(key=lambda c: (c.kind is not AlertKind.ESCALATE, c.due, c.order, c.deadline))
    return Plan(tuple(due[: max(0, cap)]), max(0, len(due) - max(0, cap)))
