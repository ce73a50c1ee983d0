"""Report tables: the stored reports (each a stable document) and the spike alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class RpReport(Base):
    """One generated report: its figures as the core made them, from which every format is drawn.

    ``key`` names the period (``2026-12-06``, ``2026-11``, or a topic's selection and period)."""

    __tablename__ = "rp_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    generated_at: Mapped[dt.datetime]
    generated_by: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("uq_rp_reports_kind_key", "kind", "key", unique=True),)


class RpSpikeAlert(Base):
    """A spike of one (category, area) in one 15-minute bucket, with the orders behind it."""

    __tablename__ = "rp_spike_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(120))
    area: Mapped[str] = mapped_column(String(60))
    bucket_start: Mapped[dt.datetime]
    count: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float]
    p_value: Mapped[float]
    raised_at: Mapped[dt.datetime]
    orders: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"ids": [...], "titles": [...]}
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (
        Index("uq_rp_spike_alerts_series", "category", "area", "bucket_start", unique=True),
        Index("ix_rp_spike_alerts_raised_at", "raised_at"),
    )


class RpQualityRun(Base):
    """One day's data quality run (数据质检): its counts by kind and the rules' options. A day with
    no finding still has its run, so "checked, nothing found" differs from "not checked"."""

    __tablename__ = "rp_quality_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    generated_at: Mapped[dt.datetime]
    generated_by: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"counts": {...}, "options": {...}, ...}

    __table_args__ = (Index("uq_rp_quality_runs_day", "day", unique=True),)


class RpQualityFinding(Base):
    """One finding of a run: an order, the kind of problem, a Chinese reason and the evidence."""

    __tablename__ = "rp_quality_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    order_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(400))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_rp_quality_findings_day_kind", "day", "kind"),
        Index("ix_rp_quality_findings_order_id", "order_id"),
    )
