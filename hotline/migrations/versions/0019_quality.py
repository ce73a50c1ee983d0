"""Data quality checks (reports/, 数据质检): a run per day and its findings.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rp_quality_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("generated_at", TS, nullable=False),
        sa.Column("generated_by", sa.String(64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rp_quality_runs"),
    )
    op.create_index("uq_rp_quality_runs_day", "rp_quality_runs", ["day"], unique=True)
    op.create_table(
        "rp_quality_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("reason", sa.String(400), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rp_quality_findings"),
    )
    op.create_index("ix_rp_quality_findings_day_kind", "rp_quality_findings", ["day", "kind"])
    op.create_index("ix_rp_quality_findings_order_id", "rp_quality_findings", ["order_id"])


def downgrade() -> None:
    op.drop_table("rp_quality_findings")
    op.drop_table("rp_quality_runs")
