"""The entry lifecycle as a table, with the role and unit checks of every event.

``decide(entry, event, ctx)`` returns a :class:`Decision` (the new entry, the version record, the
commands for the adapter) or raises before anything changes: :class:`IllegalEvent` (not in the
table for this state), :class:`Forbidden` (role, or another unit's entry).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from knowledge.core.model import (
    ADMIN,
    MANAGER,
    SUPERVISOR,
    SYSTEM,
    UNIT,
    Actor,
    Content,
    Entry,
    State,
    changed_fields,
)
from knowledge.core.timing import check_submission
from workorders.core.calendar import WorkCalendar


# ---- events in ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Create:
    id: str
    content: Content


@dataclass(frozen=True)
class Edit:
    content: Content


@dataclass(frozen=True)
class Submit:
    pass


@dataclass(frozen=True)
class Review:
    pass


@dataclass(frozen=True)
class Reject:
    reason: str


@dataclass(frozen=True)
class Publish:
    pass


@dataclass(frozen=True)
class Withdraw:
    reason: str


@dataclass(frozen=True)
class Expire:
    pass


@dataclass(frozen=True)
class Import:
    """A line of an exchange file: the source says this is the entry as published."""

    id: str
    content: Content


Event = Create | Edit | Submit | Review | Reject | Publish | Withdraw | Expire | Import

# ``None`` is the state before an entry exists.
S = State
TRANSITIONS: dict[State | None, dict[type[Event], State]] = {
    None: {Create: S.DRAFT, Import: S.PUBLISHED},
    S.DRAFT: {Edit: S.DRAFT, Submit: S.SUBMITTED, Withdraw: S.WITHDRAWN, Import: S.PUBLISHED},
    S.SUBMITTED: {
        Edit: S.DRAFT,
        Review: S.REVIEWED,
        Reject: S.DRAFT,
        Withdraw: S.WITHDRAWN,
        Import: S.PUBLISHED,
    },
    S.REVIEWED: {Edit: S.DRAFT, Publish: S.PUBLISHED, Reject: S.DRAFT, Withdraw: S.WITHDRAWN, Import: S.PUBLISHED},
    # A correction of a published entry stays published (a new version, recorded); seats must not
    # lose the answer while a typo is fixed.
    S.PUBLISHED: {Edit: S.PUBLISHED, Expire: S.EXPIRED, Withdraw: S.WITHDRAWN, Import: S.PUBLISHED},
    S.EXPIRED: {Edit: S.DRAFT, Withdraw: S.WITHDRAWN, Import: S.PUBLISHED},
    S.WITHDRAWN: {Edit: S.DRAFT, Import: S.PUBLISHED},
}

# Who may send which event. A unit's user acts only on its own unit's entries.
EDITORS = frozenset({UNIT, ADMIN})
REVIEWERS = frozenset({SUPERVISOR, MANAGER, ADMIN})
ROLES: dict[type[Event], frozenset[str]] = {
    Create: EDITORS,
    Edit: EDITORS,
    Submit: EDITORS,
    Withdraw: EDITORS,
    Review: REVIEWERS,
    Reject: REVIEWERS,
    Publish: REVIEWERS,
    Expire: frozenset({ADMIN, SYSTEM}),
    Import: frozenset({ADMIN, SYSTEM}),
}
NAMES: dict[type[Event], str] = {
    Create: "create",
    Edit: "edit",
    Submit: "submit",
    Review: "review",
    Reject: "reject",
    Publish: "publish",
    Withdraw: "withdraw",
    Expire: "expire",
    Import: "import",
}


class IllegalEvent(Exception):
    """The event is not in the table for the entry's state."""


class Forbidden(Exception):
    """The actor's role may not send this event, or the entry belongs to another unit."""


# ---- results out -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One version record: who did what, when, and which fields changed (old, new)."""

    action: str
    actor: str
    role: str
    at: dt.datetime
    from_state: str
    to_state: str
    version: int
    reason: str = ""
    fields: dict[str, list[Any]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reindex:
    """The searchable text changed: rebuild the entry's index row."""

    entry_id: str


@dataclass(frozen=True)
class LateSubmission:
    entry_id: str
    unit: str
    deadline: dt.datetime
    provisional: bool


Command = Reindex | LateSubmission


@dataclass(frozen=True)
class Decision:
    entry: Entry
    change: Change
    commands: tuple[Command, ...] = ()


@dataclass(frozen=True)
class Context:
    now: dt.datetime
    calendar: WorkCalendar
    submit_working_days: float = 1.0


def allowed(entry: Entry | None, actor: Actor) -> list[str]:
    """The events this actor may send now (for the API's ``allowed_actions``)."""
    state = entry.state if entry is not None else None
    out = []
    for kind in TRANSITIONS[state]:
        if actor.role in ROLES[kind] and _owns(entry, actor):
            out.append(NAMES[kind])
    return out


def _owns(entry: Entry | None, actor: Actor, content: Content | None = None) -> bool:
    if actor.role != UNIT:
        return True
    units = {c.unit for c in (entry.content if entry else None, content) if c is not None}
    return bool(actor.unit) and units <= {actor.unit}


def decide(entry: Entry | None, event: Event, actor: Actor, ctx: Context) -> Decision:
    state = entry.state if entry is not None else None
    target = TRANSITIONS[state].get(type(event))
    name = NAMES[type(event)]
    if target is None:
        where = state.value if state is not None else "(new)"
        raise IllegalEvent(f"{name} is not possible in state {where}")
    if actor.role not in ROLES[type(event)]:
        raise Forbidden(f"role {actor.role} may not {name}")
    new_content = event.content if isinstance(event, Create | Edit | Import) else None
    if not _owns(entry, actor, new_content):
        raise Forbidden(f"entry belongs to unit {(entry.content if entry else new_content).unit}")  # type: ignore[union-attr]
    now = ctx.now
    commands: list[Command] = []
    data: dict[str, Any] = {}
    if entry is None:
        assert isinstance(event, Create | Import)
        new = Entry(
            id=event.id,
            content=event.content,
            state=target,
            version=1,
            created_at=now,
            updated_at=now,
            published_at=now if target is State.PUBLISHED else None,
        )
        commands.append(Reindex(event.id))
        change_fields = changed_fields(None, event.content)
    else:
        new = replace(entry, state=target, updated_at=now, version=entry.version + 1)
        change_fields = {}
        if new_content is not None:
            change_fields = changed_fields(entry.content, new_content)
            new = replace(new, content=new_content)
            if change_fields:
                commands.append(Reindex(entry.id))
        if isinstance(event, Submit):
            check = check_submission(ctx.calendar, entry.content.takes_effect, now, ctx.submit_working_days)
            new = replace(new, submitted_at=now, submit_by=check.deadline if check else None)
            new = replace(new, late=bool(check and check.late))
            if check is not None:
                data = {"submit_by": check.deadline.isoformat(), "late": check.late, "provisional": check.provisional}
                if check.late:
                    commands.append(LateSubmission(entry.id, entry.content.unit, check.deadline, check.provisional))
        if target is State.PUBLISHED and entry.state is not State.PUBLISHED:
            new = replace(new, published_at=now)
    reason = event.reason if isinstance(event, Reject | Withdraw) else ""
    change = Change(
        action=name,
        actor=actor.username,
        role=actor.role,
        at=now,
        from_state=state.value if state is not None else "",
        to_state=target.value,
        version=new.version,
        reason=reason,
        fields=change_fields,
        data=data,
    )
    return Decision(new, change, tuple(commands))


def expire_due(entry: Entry, today: dt.date) -> bool:
    """A published entry whose validity ended before ``today`` is due for :class:`Expire`."""
    return entry.state is State.PUBLISHED and entry.content.valid_to is not None and entry.content.valid_to < today
