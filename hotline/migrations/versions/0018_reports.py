"""Reports and hot topics (reports/): stored reports and spike alerts.

Revision ID: 0018
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("reports",)
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rp_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("generated_at", TS, nullable=False),
        sa.Column("generated_by", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rp_reports"),
    )
    op.create_index("uq_rp_reports_kind_key", "rp_reports", ["kind", "key"], unique=True)
    op.create_table(
        "rp_spike_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("area", sa.String(60), nullable=False),
        sa.Column("bucket_start", TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("orders", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rp_spike_alerts"),
    )
    op.create_index("uq_rp_spike_alerts_series", "rp_spike_alerts", ["category", "area", "bucket_start"], unique=True)
    op.create_index("ix_rp_spike_alerts_raised_at", "rp_spike_alerts", ["raised_at"])


def downgrade() -> None:
    op.drop_table("rp_spike_alerts")
    op.drop_table("rp_reports")
