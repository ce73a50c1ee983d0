"""Supervisions (督办), their ledger, unit approvals and reminder letters (supervision/).

The unit approvals of replies are not here: they belong to the work orders' reply flow.

Revision ID: 0017
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("supervision",)
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sv_supervisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("matter", sa.String(200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=False),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sv_supervisions"),
    )
    op.create_index("ix_sv_supervisions_state_deadline", "sv_supervisions", ["state", "deadline"])
    op.create_index("ix_sv_supervisions_unit", "sv_supervisions", ["unit"])
    op.create_table(
        "sv_followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervision_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supervision_id"],
            ["sv_supervisions.id"],
            name="fk_sv_followups_supervision_id_sv_supervisions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sv_followups"),
    )
    op.create_index("ix_sv_followups_supervision_id", "sv_followups", ["supervision_id"])
    op.create_table(
        "sv_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("unit_name", sa.String(120), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("read_at", TS, nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sv_letters"),
        sa.UniqueConstraint("number", name="uq_sv_letters_number"),
        sa.UniqueConstraint("key", name="uq_sv_letters_key"),
        sa.UniqueConstraint("year", "seq", name="uq_sv_letters_year_seq"),
    )
    op.create_index("ix_sv_letters_unit_state", "sv_letters", ["unit", "state"])
    op.create_table(
        "sv_letter_seq",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_sv_letter_seq"),
    )


def downgrade() -> None:
    op.drop_table("sv_letter_seq")
    op.drop_index("ix_sv_letters_unit_state", table_name="sv_letters")
    op.drop_table("sv_letters")
    op.drop_index("ix_sv_followups_supervision_id", table_name="sv_followups")
    op.drop_table("sv_followups")
    op.drop_index("ix_sv_supervisions_unit", table_name="sv_supervisions")
    op.drop_index("ix_sv_supervisions_state_deadline", table_name="sv_supervisions")
    op.drop_table("sv_supervisions")
