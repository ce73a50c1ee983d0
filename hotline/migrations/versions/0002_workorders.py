"""Work orders: directory, categories, orders, audit log, attachments, precedents, loaded calendar years.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("workorders",)
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wo_units",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_wo_units"),
    )
    op.create_table(
        "wo_categories",
        sa.Column("code", sa.String(120), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("parent", sa.String(120), nullable=True),
        sa.PrimaryKeyConstraint("code", name="pk_wo_categories"),
    )
    op.create_table(
        "wo_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=True),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("category", sa.String(120), nullable=True),
        sa.Column("lead_unit", sa.String(32), nullable=True),
        sa.Column("co_units", sa.String(400), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("citizen_name", sa.String(64), nullable=False),
        sa.Column("citizen_phone", sa.String(32), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("dispatched_at", TS, nullable=True),
        sa.Column("sign_by", TS, nullable=True),
        sa.Column("reply_by", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("core", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wo_orders"),
    )
    op.create_index("ix_wo_orders_state", "wo_orders", ["state"])
    op.create_index("ix_wo_orders_lead_unit", "wo_orders", ["lead_unit"])
    op.create_index("ix_wo_orders_created_at", "wo_orders", ["created_at"])
    op.create_table(
        "wo_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(24), nullable=False),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["wo_orders.id"], name="fk_wo_audit_order_id_wo_orders", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_audit"),
    )
    op.create_index("ix_wo_audit_order_id", "wo_audit", ["order_id"])
    op.create_table(
        "wo_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stored_name", sa.String(100), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["wo_orders.id"], name="fk_wo_attachments_order_id_wo_orders", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_attachments"),
    )
    op.create_index("ix_wo_attachments_order_id", "wo_attachments", ["order_id"])
    op.create_table(
        "wo_precedents",
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("lead_unit", sa.String(32), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("category", name="pk_wo_precedents"),
    )
    op.create_table(
        "wo_calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_wo_calendar_years"),
    )


def downgrade() -> None:
    for table in (
        "wo_calendar_years",
        "wo_precedents",
        "wo_attachments",
        "wo_audit",
        "wo_orders",
        "wo_categories",
        "wo_units",
    ):
        op.drop_table(table)
