"""Deadline warnings, escalations and notices of work orders (workorders/notices.py).

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
# On the work orders' branch (after 0011): its tables point at wo_orders.
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wo_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("due", TS, nullable=False),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["wo_orders.id"], name="fk_wo_alerts_order_id_wo_orders", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_alerts"),
        sa.UniqueConstraint("key", name="uq_wo_alerts_key"),
    )
    op.create_index("ix_wo_alerts_order_id", "wo_alerts", ["order_id"])
    op.create_table(
        "wo_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(12), nullable=False),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("deadline", sa.String(16), nullable=False),
        sa.Column("due", TS, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS, nullable=True),
        sa.Column("read_by", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["wo_orders.id"], name="fk_wo_notices_order_id_wo_orders", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_notices"),
    )
    op.create_index("ix_wo_notices_order_id", "wo_notices", ["order_id"])
    op.create_index("ix_wo_notices_audience_unit", "wo_notices", ["audience", "unit", "read_at"])
    op.create_table(
        "wo_notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["wo_notices.id"],
            name="fk_wo_notice_deliveries_notice_id_wo_notices",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_notice_deliveries"),
    )
    op.create_index("ix_wo_notice_deliveries_notice_id", "wo_notice_deliveries", ["notice_id"])


def downgrade() -> None:
    op.drop_table("wo_notice_deliveries")
    op.drop_table("wo_notices")
    op.drop_table("wo_alerts")
