"""Tables of seat scheduling: the shift managers' action log and published roster shifts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class ManagerActionRow(Base):
    """One manager action (or an automatic surge step by "system"), with who and why: the audit trail."""

    __tablename__ = "scheduling_actions"
    __table_args__ = (Index("ix_scheduling_actions_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    who: Mapped[str] = mapped_column(String(64))
    why: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RosterShiftRow(Base):
    """A published shift: who works when, in which skill group, with which breaks."""

    __tablename__ = "scheduling_shifts"
    __table_args__ = (Index("ix_scheduling_shifts_roster_start", "roster", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    roster: Mapped[str] = mapped_column(String(64))
    seat: Mapped[str] = mapped_column(String(64), default="")  # empty: no seat could take it
    skill_group: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    breaks: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RequirementRow(Base):
    """Required seats per interval for one day of a roster and skill group (the chart's other line)."""

    __tablename__ = "scheduling_requirements"
    __table_args__ = (Index("ix_scheduling_requirements_roster_day", "roster", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    roster: Mapped[str] = mapped_column(String(64))
    skill_group: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))  # local date, ISO
    interval_minutes: Mapped[int] = mapped_column(Integer)
    seats: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"required": [...]} one per interval
