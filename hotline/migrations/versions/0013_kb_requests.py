"""Knowledge base requests: seats' questions to units, corrections (flags), emergency Q&A lists
and the per-day use of entries by seats.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_queries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=True),
        sa.Column("contact_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("asked_by", sa.String(64), nullable=False),
        sa.Column("asked_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(64), nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("made_entry", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kb_queries"),
    )
    op.create_index("ix_kb_queries_unit_asked", "kb_queries", ["unit", "asked_at"])
    op.create_index("ix_kb_queries_state", "kb_queries", ["state"])
    op.create_table(
        "kb_flags",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("raised_by", sa.String(64), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("resolved_by", sa.String(64), nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_flags"),
    )
    op.create_index("ix_kb_flags_entry_state", "kb_flags", ["entry_id", "state"])
    op.create_index("ix_kb_flags_unit_raised", "kb_flags", ["unit", "raised_at"])
    op.create_table(
        "kb_emergency",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("withdrawn_by", sa.String(64), nullable=False),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kb_emergency"),
    )
    op.create_index("ix_kb_emergency_state", "kb_emergency", ["state"])
    op.create_table(
        "kb_usage",
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "day", name="pk_kb_usage"),
    )


def downgrade() -> None:
    op.drop_table("kb_usage")
    op.drop_table("kb_emergency")
    op.drop_table("kb_flags")
    op.drop_table("kb_queries")
