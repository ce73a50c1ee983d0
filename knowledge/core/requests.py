"""Seats' questions to units (知识求助) and corrections of entries (纠错) as two state tables.

``decide_query`` / ``decide_flag`` look the (state, event) pair up; a pair not in the table raises
:class:`IllegalEvent` and a wrong role or another unit's item raises :class:`Forbidden`, both
before anything changes. The due time of both is N working days (setting, default 1) after the
question or flag, on the working calendar; a year the calendar does not cover gives a provisional
due time (weekends and fixed-date holidays only), recorded as such, because a seat's question must
never be refused for a missing calendar year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from knowledge.core.lifecycle import Forbidden, IllegalEvent
from knowledge.core.model import ADMIN, MANAGER, SEAT, SUPERVISOR, UNIT, Actor
from workorders.core.calendar import Instant, WorkCalendar

MAX_QUESTION = 2000
MAX_ANSWER = 20000
MAX_REASON = 2000


class QueryState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class FlagState(StrEnum):
    OPEN = "open"
    CORRECTED = "corrected"
    DISMISSED = "dismissed"


QUERY_LABELS = {QueryState.OPEN: "待答复", QueryState.ANSWERED: "已答复"}
FLAG_LABELS = {FlagState.OPEN: "待纠错", FlagState.CORRECTED: "已纠正", FlagState.DISMISSED: "已驳回"}


class NotCorrected(Exception):
    """A unit resolves a flag on an entry it has not edited since the flag was raised."""


# ---- values ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    id: str
    question: str
    unit: str
    asked_by: str
    asked_at: dt.datetime
    due_at: dt.datetime
    provisional: bool
    state: QueryState
    entry_id: str | None = None
    contact_id: str | None = None
    answer: str = ""
    answered_by: str = ""
    answered_at: dt.datetime | None = None
    late: bool = False

    def overdue(self, now: dt.datetime) -> bool:
        return self.state is QueryState.OPEN and now > self.due_at


@dataclass(frozen=True)
class Flag:
    id: str
    entry_id: str
    unit: str  # the entry's owner when the flag was raised: the unit that must correct it
    reason: str
    raised_by: str
    raised_at: dt.datetime
    due_at: dt.datetime
    provisional: bool
    state: FlagState
    note: str = ""
    resolved_by: str = ""
    resolved_at: dt.datetime | None = None
    late: bool = False

    def overdue(self, now: dt.datetime) -> bool:
        return self.state is FlagState.OPEN and now > self.due_at


# ---- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ask:
    id: str
    question: str
    unit: str
    entry_id: str | None = None
    contact_id: str | None = None


@dataclass(frozen=True)
class Answer:
    text: str


@dataclass(frozen=True)
class Raise:
    id: str
    entry_id: str
    unit: str
    reason: str


@dataclass(frozen=True)
class Resolve:
    note: str
    edited_at: dt.datetime | None  # the entry's last edit (None: never edited)


@dataclass(frozen=True)
class Dismiss:
    note: str


QueryEvent = Ask | Answer
FlagEvent = Raise | Resolve | Dismiss

# ``None`` is the state before the item exists. "Overdue" is no state: an open item past due_at.
QUERY_TRANSITIONS: dict[QueryState | None, dict[type[QueryEvent], QueryState]] = {
    None: {Ask: QueryState.OPEN},
    QueryState.OPEN: {Answer: QueryState.ANSWERED},
    QueryState.ANSWERED: {},
}
FLAG_TRANSITIONS: dict[FlagState | None, dict[type[FlagEvent], FlagState]] = {
    None: {Raise: FlagState.OPEN},
    FlagState.OPEN: {Resolve: FlagState.CORRECTED, Dismiss: FlagState.DISMISSED},
    FlagState.CORRECTED: {},
    FlagState.DISMISSED: {},
}
# Seats and supervisors ask and flag; the owning unit answers and corrects (an admin for a unit
# that has no accounts, such as an owner named in another system's export); supervisors dismiss
# a flag they judge unfounded.
ROLES: dict[type[QueryEvent | FlagEvent], frozenset[str]] = {
    Ask: frozenset({SEAT, SUPERVISOR}),
    Answer: frozenset({UNIT, ADMIN}),
    Raise: frozenset({SEAT, SUPERVISOR}),
    Resolve: frozenset({UNIT, ADMIN}),
    Dismiss: frozenset({SUPERVISOR, MANAGER, ADMIN}),
}
NAMES: dict[type[QueryEvent | FlagEvent], str] = {
    Ask: "ask",
    Answer: "answer",
    Raise: "flag",
    Resolve: "resolve",
    Dismiss: "dismiss",
}


@dataclass(frozen=True)
class Context:
    now: dt.datetime
    calendar: WorkCalendar
    limit_working_days: float = 1.0


def due(cal: WorkCalendar, at: dt.datetime, days: float) -> Instant:
    """``days`` working days after ``at`` (N × one working day's length of working time)."""
    return cal.add_working_days(at, days, allow_provisional=True)


def _check(kind: type[QueryEvent | FlagEvent], target: object, state: StrEnum | None, actor: Actor) -> None:
    name = NAMES[kind]
    if target is None:
        where = state.value if state is not None else "(new)"
        raise IllegalEvent(f"{name} is not possible in state {where}")
    if actor.role not in ROLES[kind]:
        raise Forbidden(f"role {actor.role} may not {name}")


def _own(actor: Actor, unit: str) -> None:
    if actor.role == UNIT and actor.unit != unit:
        raise Forbidden(f"belongs to unit {unit}")


def decide_query(query: Query | None, event: QueryEvent, actor: Actor, ctx: Context) -> Query:
    state = query.state if query is not None else None
    target = QUERY_TRANSITIONS[state].get(type(event))
    _check(type(event), target, state, actor)
    assert target is not None
    if isinstance(event, Ask):
        limit = due(ctx.calendar, ctx.now, ctx.limit_working_days)
        return Query(
            id=event.id,
            question=event.question,
            unit=event.unit,
            asked_by=actor.username,
            asked_at=ctx.now,
            due_at=limit.at,
            provisional=limit.provisional,
            state=target,
            entry_id=event.entry_id,
            contact_id=event.contact_id,
        )
    assert query is not None
    _own(actor, query.unit)
    return replace(
        query,
        state=target,
        answer=event.text,
        answered_by=actor.username,
        answered_at=ctx.now,
        late=ctx.now > query.due_at,
    )


def decide_flag(flag: Flag | None, event: FlagEvent, actor: Actor, ctx: Context) -> Flag:
    state = flag.state if flag is not None else None
    target = FLAG_TRANSITIONS[state].get(type(event))
    _check(type(event), target, state, actor)
    assert target is not None
    if isinstance(event, Raise):
        limit = due(ctx.calendar, ctx.now, ctx.limit_working_days)
        return Flag(
            id=event.id,
            entry_id=event.entry_id,
            unit=event.unit,
            reason=event.reason,
            raised_by=actor.username,
            raised_at=ctx.now,
            due_at=limit.at,
            provisional=limit.provisional,
            state=target,
        )
    assert flag is not None
    if isinstance(event, Resolve):
        _own(actor, flag.unit)
        if event.edited_at is None or event.edited_at <= flag.raised_at:
            raise NotCorrected("先修改条目，再标记纠错完成")
    return replace(
        flag,
        state=target,
        note=event.note,
        resolved_by=actor.username,
        resolved_at=ctx.now,
        late=ctx.now > flag.due_at,
    )
