"""Work-order tables. The order's full lifecycle state is the core's JSON form (``core``); the
columns beside it are copies kept for lists, filters and KPIs, written in the same UPDATE."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class WoUnit(Base):
    """The dispatch directory (派单目录): member units with their linkage tier."""

    __tablename__ = "wo_units"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    tier: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WoCategory(Base):
    """The configurable category tree; ``code`` is the path, e.g. ``城建/物业``."""

    __tablename__ = "wo_categories"

    code: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    parent: Mapped[str | None] = mapped_column(String(120), default=None)


class WoOrder(Base):
    __tablename__ = "wo_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(24))
    order_type: Mapped[str | None] = mapped_column(String(16), default=None)
    urgency: Mapped[str] = mapped_column(String(16), default="general")
    category: Mapped[str | None] = mapped_column(String(120), default=None)
    lead_unit: Mapped[str | None] = mapped_column(String(32), default=None)
    # ",water,edu," so a co-unit finds its orders with one LIKE on either database.
    co_units: Mapped[str] = mapped_column(String(400), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    citizen_name: Mapped[str] = mapped_column(String(64), default="")
    citizen_phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(16), default="api")
    contact_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # The creator's own id for the request that opened it (a seat's console sends one per form):
    # the same request again, after a lost answer or a restart, finds this order instead of
    # opening a second one. Unique per creator and contact; NULL (most orders) never collides.
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    sign_by: Mapped[dt.datetime | None] = mapped_column(default=None)
    reply_by: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    core: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_wo_orders_state", "state"),
        Index("ix_wo_orders_lead_unit", "lead_unit"),
        Index("ix_wo_orders_created_at", "created_at"),
        Index("uq_wo_orders_request", "created_by", "contact_id", "request_id", unique=True),
    )


class WoAudit(Base):
    """Who did what to which order, when and why: one row per accepted action."""

    __tablename__ = "wo_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("wo_orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WoAttachment(Base):
    __tablename__ = "wo_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("wo_orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime]


class WoPrecedent(Base):
    """先例: once set, the same kind of matter (category) goes to this lead unit."""

    __tablename__ = "wo_precedents"

    category: Mapped[str] = mapped_column(String(120), primary_key=True)
    lead_unit: Mapped[str] = mapped_column(String(32))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime]


class WoCalendarYear(Base):
    """A year's holidays and make-up workdays loaded from the State Council notice."""

    __tablename__ = "wo_calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200), default="")
    loaded_at: Mapped[dt.datetime]
    days: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"holidays": {iso: name}, "workdays": {...}}


class WoAlert(Base):
    """One deadline warning or escalation sent (workorders/core/warnings.py): the key makes each
    (order, deadline, kind, due time) happen once, whatever the rounds, restarts and engines."""

    __tablename__ = "wo_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("wo_orders.id", ondelete="CASCADE"), index=True)
    deadline: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    due: Mapped[dt.datetime]
    unit: Mapped[str | None] = mapped_column(String(32), default=None)
    at: Mapped[dt.datetime]


class WoNotice(Base):
    """An in-app notice (站内通知): to one unit (``audience`` "unit") or to the supervisors."""

    __tablename__ = "wo_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("wo_orders.id", ondelete="CASCADE"), index=True)
    audience: Mapped[str] = mapped_column(String(12))  # unit | supervisors
    unit: Mapped[str | None] = mapped_column(String(32), default=None)
    kind: Mapped[str] = mapped_column(String(8))
    deadline: Mapped[str] = mapped_column(String(16))
    due: Mapped[dt.datetime]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    read_by: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_wo_notices_audience_unit", "audience", "unit", "read_at"),)


class WoDelivery(Base):
    """A notice sent outside the engine (SMS, WeChat template message) through the outbox; its
    state is what the pages show: waiting (being tried), sent, or failed after the last try."""

    __tablename__ = "wo_notice_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("wo_notices.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8), default="waiting")  # waiting | sent | failed
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
