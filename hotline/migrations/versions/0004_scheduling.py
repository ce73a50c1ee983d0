"""Seat scheduling: the shift managers' action log, published roster shifts and requirements.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("scheduling",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduling_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduling_actions"),
    )
    op.create_index("ix_scheduling_actions_at", "scheduling_actions", ["at"])
    op.create_table(
        "scheduling_shifts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("roster", sa.String(64), nullable=False),
        sa.Column("seat", sa.String(64), nullable=False),
        sa.Column("skill_group", sa.String(64), nullable=False),
        sa.Column("template", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("breaks", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduling_shifts"),
    )
    op.create_index("ix_scheduling_shifts_roster_start", "scheduling_shifts", ["roster", "starts_at"])
    op.create_table(
        "scheduling_requirements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("roster", sa.String(64), nullable=False),
        sa.Column("skill_group", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("seats", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduling_requirements"),
    )
    op.create_index("ix_scheduling_requirements_roster_day", "scheduling_requirements", ["roster", "day"])


def downgrade() -> None:
    op.drop_index("ix_scheduling_requirements_roster_day", table_name="scheduling_requirements")
    op.drop_table("scheduling_requirements")
    op.drop_index("ix_scheduling_shifts_roster_start", table_name="scheduling_shifts")
    op.drop_table("scheduling_shifts")
    op.drop_index("ix_scheduling_actions_at", table_name="scheduling_actions")
    op.drop_table("scheduling_actions")
