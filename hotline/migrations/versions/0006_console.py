"""Agent console: seat activities (offers, answers, wrap-ups with disposition) and seat profiles.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("console",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_activities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seat_id", sa.String(64), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposition", sa.String(64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_console_activities"),
    )
    op.create_index("ix_console_activities_seat_at", "console_activities", ["seat_id", "at"])
    op.create_index("ix_console_activities_contact_id", "console_activities", ["contact_id"])
    op.create_table(
        "console_seat_profiles",
        sa.Column("seat_id", sa.String(64), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("phone", sa.String(8), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seat_id", name="pk_console_seat_profiles"),
    )


def downgrade() -> None:
    op.drop_table("console_seat_profiles")
    op.drop_index("ix_console_activities_contact_id", table_name="console_activities")
    op.drop_index("ix_console_activities_seat_at", table_name="console_activities")
    op.drop_table("console_activities")
