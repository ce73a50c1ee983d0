"""Knowledge-base tables. The full-text index is not here: it differs per database (an FTS5
virtual table on SQLite, a tsvector with a GIN index on PostgreSQL) and is created by migration
0012 and written by ``knowledge.index``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class KbEntry(Base):
    __tablename__ = "kb_entries"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)  # the index's rowid
    id: Mapped[str] = mapped_column(String(64), unique=True)  # the exchange format's id
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(32))
    officer: Mapped[str] = mapped_column(String(64), default="")
    policy_ref: Mapped[str] = mapped_column(String(300), default="")
    valid_from: Mapped[dt.date | None] = mapped_column(Date, default=None)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, default=None)
    effective_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    submit_by: Mapped[dt.datetime | None] = mapped_column(default=None)
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    # sha256 of the exchange fields: an import line equal to the entry changes nothing.
    digest: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("ix_kb_entries_state", "state"),
        Index("ix_kb_entries_unit", "unit"),
        Index("ix_kb_entries_scope", "scope"),
        Index("ix_kb_entries_category", "category"),
    )


class KbVersion(Base):
    """One row per accepted event: who changed what (field: [old, new]) and when."""

    __tablename__ = "kb_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_pk: Mapped[int] = mapped_column(ForeignKey("kb_entries.pk", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


import knowledge.requests_models  # noqa: E402,F401  (the requests' tables, migration 0013)
