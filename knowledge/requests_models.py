"""Tables of the knowledge base's requests: seats' questions to units, corrections (flags), the
emergency Q&A lists and the per-day use of entries by seats (migration 0013)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class KbQuery(Base):
    __tablename__ = "kb_queries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(32))
    entry_id: Mapped[str | None] = mapped_column(String(64), default=None)
    contact_id: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(16))
    asked_by: Mapped[str] = mapped_column(String(64))
    asked_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(64), default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    made_entry: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (Index("ix_kb_queries_unit_asked", "unit", "asked_at"), Index("ix_kb_queries_state", "state"))


class KbFlag(Base):
    __tablename__ = "kb_flags"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    raised_by: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    resolved_by: Mapped[str] = mapped_column(String(64), default="")
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_kb_flags_entry_state", "entry_id", "state"),
        Index("ix_kb_flags_unit_raised", "unit", "raised_at"),
    )


class KbEmergency(Base):
    """答疑清单: published at once, withdrawn by DELETE; consoles pin the active ones."""

    __tablename__ = "kb_emergency"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    unit: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime]
    withdrawn_by: Mapped[str] = mapped_column(String(64), default="")
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_kb_emergency_state", "state"),)


class KbUsage(Base):
    """How often seats used an entry's answer, per entry and local day."""

    __tablename__ = "kb_usage"

    entry_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
