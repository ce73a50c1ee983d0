"""The console's tables: what each seat did with each contact, and each seat's routing profile."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class ConsoleActivity(Base):
    """One seat action on a contact (offer, accept, reject, wrapup), with the wrap-up's disposition."""

    __tablename__ = "console_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seat_id: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="")
    at: Mapped[dt.datetime]
    disposition: Mapped[str] = mapped_column(String(64), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_console_activities_seat_at", "seat_id", "at"),
        Index("ix_console_activities_contact_id", "contact_id"),
    )


class SeatProfile(Base):
    """Skills and groups a seat logs in with (supervisors move seats between groups), and its phone."""

    __tablename__ = "console_seat_profiles"

    seat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"general": 3, "business": 1}
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(8), default="onsite")  # onsite | cloud
    phone: Mapped[str] = mapped_column(String(8), default="webrtc")  # webrtc | desk | external
    number: Mapped[str] = mapped_column(String(32), default="")  # a cloud seat's external number
    updated_at: Mapped[dt.datetime]
    updated_by: Mapped[str] = mapped_column(String(64), default="")
