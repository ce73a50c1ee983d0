"""Supervisions (督办), their follow-ups and reminder letters (提醒函) as frozen values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    GENERAL = "general"  # 一般督办
    KEY = "key"  # 重点督办
    JOINT = "joint"  # 双督办: with the city's performance office (绩效办)


LEVEL_LABELS = {Level.GENERAL: "一般", Level.KEY: "重点", Level.JOINT: "双督办"}


class State(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"  # 撤销: opened in error; not counted in the closure measure


STATE_LABELS = {State.OPEN: "督办中", State.CLOSED: "已销号", State.CANCELLED: "已撤销"}


class Result(StrEnum):
    RESOLVED = "resolved"  # 办结
    UNRESOLVED = "unresolved"  # 未办结 (a reason is required)


RESULT_LABELS = {Result.RESOLVED: "办结", Result.UNRESOLVED: "未办结"}


class LetterState(StrEnum):
    SENT = "sent"  # delivered to the unit's account, not opened yet
    READ = "read"
    ACKNOWLEDGED = "acknowledged"  # 签收
    ANSWERED = "answered"  # 反馈: the unit reported what it did; the letter is settled


LETTER_STATE_LABELS = {
    LetterState.SENT: "未读",
    LetterState.READ: "已读",
    LetterState.ACKNOWLEDGED: "已签收",
    LetterState.ANSWERED: "已反馈",
}

SUPERVISORS = frozenset({"supervisor", "admin"})  # who opens, closes and cancels; writes letters


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    unit: str | None = None

    @property
    def supervises(self) -> bool:
        return self.role in SUPERVISORS


@dataclass(frozen=True)
class Supervision:
    id: int
    unit: str  # the unit supervised (the orders' lead unit)
    level: Level
    order_ids: tuple[int, ...]  # one order, or the orders of a matter (事项)
    matter: str  # the matter's title; "" for a single order
    instructions: str
    opened_by: str
    opened_at: dt.datetime
    deadline: dt.datetime
    provisional: bool = False  # the deadline rests on a calendar year not loaded yet
    state: State = State.OPEN
    version: int = 1
    closed_at: dt.datetime | None = None
    closed_by: str = ""
    result: Result | None = None
    reason: str = ""


@dataclass(frozen=True)
class FollowUp:
    """One 跟进记录: what the unit or the supervisor wrote, and when."""

    supervision_id: int
    at: dt.datetime
    actor: str
    role: str
    text: str
    action: str = "follow_up"  # or open, close, cancel: the supervision's own steps


@dataclass(frozen=True)
class OrderFacts:
    """What the letter rules and the ledger need of a work order (read from the work orders)."""

    id: int
    title: str
    unit: str | None
    state: str
    reply_by: dt.datetime | None = None
    replied: bool = False
    returns: int = 0  # approved returns (退回) over the order's life
    satisfaction: str | None = None  # the callback's: satisfied, basically_satisfied, unsatisfied
    category: str | None = None
