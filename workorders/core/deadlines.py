"""Deadlines of a work order at dispatch and after an extension (DOMAIN.md, seed defaults)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import StrEnum

from workorders.core.calendar import Instant, WorkCalendar


class OrderType(StrEnum):
    CONSULT = "consult"  # 咨询
    HELP = "help"  # 求助
    SUGGESTION = "suggestion"  # 建议
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报


class Urgency(StrEnum):
    GENERAL = "general"  # 一般
    URGENT = "urgent"  # 紧急
    DIFFICULT = "difficult"  # 疑难
    COMPLEX = "complex"  # 复杂
    SPECIAL = "special"  # 特殊
    SPECIAL_URGENT = "special_urgent"  # 特殊紧急


class SourceLevel(StrEnum):
    CITY = "city"
    NANTONG = "nantong"
    PROVINCIAL = "provincial"
    NATIONAL = "national"


TYPE_LABELS = {
    OrderType.CONSULT: "咨询",
    OrderType.HELP: "求助",
    OrderType.SUGGESTION: "建议",
    OrderType.COMPLAINT: "投诉",
    OrderType.REPORT: "举报",
}
URGENCY_LABELS = {
    Urgency.GENERAL: "一般",
    Urgency.URGENT: "紧急",
    Urgency.DIFFICULT: "疑难",
    Urgency.COMPLEX: "复杂",
    Urgency.SPECIAL: "特殊",
    Urgency.SPECIAL_URGENT: "特殊紧急",
}


class RuleViolation(Exception):
    """An action breaks a rule; the message names the rule. Nothing has changed."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Limits:
    """Every limit is a setting; the defaults are the seed's."""

    sign_working_hours: float = 2.0
    return_working_days: float = 1.0
    reply_working_days: dict[OrderType, float] = field(
        default_factory=lambda: {
            OrderType.CONSULT: 1.0,
            OrderType.HELP: 5.0,
            OrderType.SUGGESTION: 5.0,
            OrderType.COMPLAINT: 5.0,
            OrderType.REPORT: 5.0,
        }
    )
    extension_notice_working_days: float = 1.0
    extension_max_total_working_days: float = 10.0
    extendable_types: frozenset[OrderType] = frozenset(
        {OrderType.HELP, OrderType.SUGGESTION, OrderType.COMPLAINT, OrderType.REPORT}
    )
    # Orders handed down from these levels need a signed extension request attached.
    extension_attachment_levels: frozenset[SourceLevel] = frozenset({SourceLevel.PROVINCIAL, SourceLevel.NANTONG})
    special_feedback_clock_hours: float = 4.0
    special_progress_working_days: float = 3.0
    special_urgent_feedback_clock_hours: float = 2.0
    special_urgent_progress_working_days: float = 2.0
    # A deadline is "warning" once less than this share of its limit is left.
    warning_share: float = 0.25
    # Tier-1 units dispatched to the scene arrive within this many clock minutes.
    tier1_onsite_clock_minutes: float = 30.0


@dataclass(frozen=True)
class Deadlines:
    dispatched_at: dt.datetime
    sign_by: dt.datetime
    return_by: dt.datetime
    reply_by: dt.datetime
    extension_apply_by: dt.datetime | None
    extension_latest_reply_by: dt.datetime | None
    initial_feedback_by: dt.datetime | None = None
    progress_by: dt.datetime | None = None
    provisional: bool = False
    extended: bool = False
    onsite_by: dt.datetime | None = None

    def as_dict(self) -> dict[str, str | bool | None]:
        def iso(v: dt.datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "dispatched_at": iso(self.dispatched_at),
            "sign_by": iso(self.sign_by),
            "return_by": iso(self.return_by),
            "reply_by": iso(self.reply_by),
            "extension_apply_by": iso(self.extension_apply_by),
            "extension_latest_reply_by": iso(self.extension_latest_reply_by),
            "initial_feedback_by": iso(self.initial_feedback_by),
            "progress_by": iso(self.progress_by),
            "onsite_by": iso(self.onsite_by),
            "provisional": self.provisional,
            "extended": self.extended,
        }

    @classmethod
    def from_dict(cls, d: dict[str, str | bool | None]) -> Deadlines:
        def when(key: str) -> dt.datetime | None:
            v = d.get(key)
            return dt.datetime.fromisoformat(v) if isinstance(v, str) else None

        def must(key: str) -> dt.datetime:
            v = when(key)
            if v is None:
                raise ValueError(f"deadline {key} missing")
            return v

        return cls(
            dispatched_at=must("dispatched_at"),
            sign_by=must("sign_by"),
            return_by=must("return_by"),
            reply_by=must("reply_by"),
            extension_apply_by=when("extension_apply_by"),
            extension_latest_reply_by=when("extension_latest_reply_by"),
            initial_feedback_by=when("initial_feedback_by"),
            progress_by=when("progress_by"),
            onsite_by=when("onsite_by"),
            provisional=bool(d.get("provisional")),
            extended=bool(d.get("extended")),
        )


def compute_deadlines(
    cal: WorkCalendar,
    limits: Limits,
    order_type: OrderType,
    urgency: Urgency,
    dispatched: dt.datetime,
    *,
    allow_provisional: bool = False,
) -> Deadlines:
    """All deadlines of an order dispatched at ``dispatched``.

    ``allow_provisional`` is for the running engine only: a year the calendar does not cover is then
    assumed to have weekends and fixed-date holidays only, and the result is marked provisional.
    """
    at = cal.local(dispatched)
    p = allow_provisional
    parts: list[Instant] = [
        cal.add_working_hours(at, limits.sign_working_hours, p),
        cal.add_working_days(at, limits.return_working_days, p),
        cal.add_working_days(at, limits.reply_working_days[order_type], p),
    ]
    sign_by, return_by, reply_by = parts
    apply_by: Instant | None = None
    latest: Instant | None = None
    if order_type in limits.extendable_types:
        apply_by = cal.sub_working_days(reply_by.at, limits.extension_notice_working_days, p)
        latest = cal.add_working_days(at, limits.extension_max_total_working_days, p)
        parts += [apply_by, latest]
    feedback: Instant | None = None
    progress: Instant | None = None
    if urgency is Urgency.SPECIAL:
        feedback = cal.add_clock_hours(at, limits.special_feedback_clock_hours)
        progress = cal.add_working_days(at, limits.special_progress_working_days, p)
    elif urgency is Urgency.SPECIAL_URGENT:
        feedback = cal.add_clock_hours(at, limits.special_urgent_feedback_clock_hours)
        progress = cal.add_working_days(at, limits.special_urgent_progress_working_days, p)
    if progress is not None:
        parts.append(progress)
    return Deadlines(
        dispatched_at=at,
        sign_by=sign_by.at,
        return_by=return_by.at,
        reply_by=reply_by.at,
        extension_apply_by=apply_by.at if apply_by else None,
        extension_latest_reply_by=latest.at if latest else None,
        initial_feedback_by=feedback.at if feedback else None,
        progress_by=progress.at if progress else None,
        provisional=any(x.provisional for x in parts),
    )


def check_extension(
    cal: WorkCalendar,
    limits: Limits,
    deadlines: Deadlines,
    order_type: OrderType,
    source_level: SourceLevel,
    extensions_so_far: int,
    days: float,
    applied_at: dt.datetime,
    has_signed_request: bool,
    *,
    allow_provisional: bool = False,
) -> dt.datetime:
    """Check an extension application against the seed's rules; return the new reply_by."""
    if order_type not in limits.extendable_types:
        raise RuleViolation("extension.type", f"{TYPE_LABELS[order_type]}类工单不可延期")
    if extensions_so_far >= 1 or deadlines.extended:
        raise RuleViolation("extension.once", "每张工单只能延期一次")
    if days <= 0:
        raise RuleViolation("extension.days", "延期天数必须大于 0 个工作日")
    if deadlines.extension_apply_by is None or deadlines.extension_latest_reply_by is None:
        raise RuleViolation("extension.type", "该工单没有延期期限")
    if cal.local(applied_at) > deadlines.extension_apply_by:
        raise RuleViolation(
            "extension.too_late",
            f"延期须在办结期限前 {limits.extension_notice_working_days:g} 个工作日申请（最晚 "
            f"{deadlines.extension_apply_by.isoformat()}）",
        )
    if source_level in limits.extension_attachment_levels and not has_signed_request:
        raise RuleViolation("extension.attachment", "省、南通交办工单延期须附盖章的延期申请")
    new_reply = cal.add_working_days(deadlines.reply_by, days, allow_provisional).at
    if new_reply > deadlines.extension_latest_reply_by:
        raise RuleViolation(
            "extension.total",
            f"延期后总办理时限不得超过派单起 {limits.extension_max_total_working_days:g} 个工作日（最晚 "
            f"{deadlines.extension_latest_reply_by.isoformat()}）",
        )
    return new_reply


def extend(deadlines: Deadlines, new_reply_by: dt.datetime) -> Deadlines:
    """Deadlines after an approved extension: a new reply_by, and no further extension."""
    return replace(deadlines, reply_by=new_reply_by, extension_apply_by=None, extended=True)


def status(
    cal: WorkCalendar, start: dt.datetime, due: dt.datetime, now: dt.datetime, limits: Limits, clock: bool = False
) -> str:
    """ "overdue", "warning" (less than ``warning_share`` of the limit left) or "ok"."""
    if now > due:
        return "overdue"
    if clock:
        total, left = due - start, due - now
    else:
        total = cal.working_between(start, due, True)
        left = cal.working_between(now, due, True)
    if total.total_seconds() > 0 and left.total_seconds() <= total.total_seconds() * limits.warning_share:
        return "warning"
    return "ok"
