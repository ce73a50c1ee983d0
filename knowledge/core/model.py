"""An entry as the core sees it: a frozen value, replaced on every accepted event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    PUBLISHED = "published"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


STATE_LABELS = {
    State.DRAFT: "草稿",
    State.SUBMITTED: "已报送",
    State.REVIEWED: "已审核",
    State.PUBLISHED: "已发布",
    State.EXPIRED: "已失效",
    State.WITHDRAWN: "已撤回",
}

# The engine's roles (hotline.auth.ROLES) as the knowledge base uses them.
SEAT, SUPERVISOR, MANAGER, DISPATCHER, UNIT, ADMIN, SYSTEM = (
    "seat",
    "supervisor",
    "manager",
    "dispatcher",
    "unit",
    "admin",
    "system",
)


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    unit: str | None = None


@dataclass(frozen=True)
class Attachment:
    """Attachments travel by name and address only; the files live with their owner."""

    name: str
    url: str


@dataclass(frozen=True)
class Content:
    """What a unit writes; every change of it makes a new version."""

    question: str
    answer: str  # sanitised HTML (core.sanitize)
    category: str  # a path, 社会保障/医疗保险
    scope: str  # "city", a district's or a street's/town's name
    unit: str  # the owning member unit's code
    officer: str = ""  # 信息员
    policy_ref: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    effective_date: dt.date | None = None  # when the policy takes effect (default: valid_from)
    keywords: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    @property
    def takes_effect(self) -> dt.date | None:
        return self.effective_date or self.valid_from

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif f.name == "keywords":
                value = list(value)
            elif f.name == "attachments":
                value = [{"name": a.name, "url": a.url} for a in value]
            out[f.name] = value
        return out


def changed_fields(old: Content | None, new: Content) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field that differs (JSON-ready): what a version changed."""
    before = old.as_dict() if old is not None else {}
    after = new.as_dict()
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


@dataclass(frozen=True)
class Entry:
    id: str
    content: Content
    state: State
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None = None
    submit_by: dt.datetime | None = None  # the one-working-day-ahead deadline it was held to
    late: bool = False
    published_at: dt.datetime | None = None

    def expired_on(self, today: dt.date) -> bool:
        """Expired for searchers: marked so, or its validity ended before ``today``."""
        valid_to = self.content.valid_to
        return self.state is State.EXPIRED or (valid_to is not None and valid_to < today)
