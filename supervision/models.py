"""Supervision tables (migration 0017): supervisions, their follow-ups, reminder letters and the
per-year letter sequence."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class SvSupervision(Base):
    __tablename__ = "sv_supervisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(32))
    order_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    matter: Mapped[str] = mapped_column(String(200), default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime]
    deadline: Mapped[dt.datetime]
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str] = mapped_column(String(64), default="")
    result: Mapped[str | None] = mapped_column(String(16), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_sv_supervisions_state_deadline", "state", "deadline"),
        Index("ix_sv_supervisions_unit", "unit"),
    )


class SvFollowUp(Base):
    """跟进记录; the opening, closing and cancelling are recorded here too (``action``)."""

    __tablename__ = "sv_followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervision_id: Mapped[int] = mapped_column(ForeignKey("sv_supervisions.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")


class SvLetter(Base):
    __tablename__ = "sv_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)  # a rule's matter
    rule: Mapped[str] = mapped_column(String(40), default="")  # "" for a letter written by hand
    unit: Mapped[str] = mapped_column(String(32))
    unit_name: Mapped[str] = mapped_column(String(120))
    facts: Mapped[str] = mapped_column(Text)
    request: Mapped[str] = mapped_column(Text)
    order_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    deadline: Mapped[dt.datetime]
    issued_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    read_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str] = mapped_column(String(64), default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("year", "seq", name="uq_sv_letters_year_seq"),
        Index("ix_sv_letters_unit_state", "unit", "state"),
    )


class SvLetterSeq(Base):
    """The last number given per year: one row locked per letter, so numbers are gap-free."""

    __tablename__ = "sv_letter_seq"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
