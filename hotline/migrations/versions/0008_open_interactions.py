"""Interactions by arrival: at start the voice side looks for the call-backs promised before it
stopped among the recent records that have not ended, without reading the whole table.

Revision ID: 0008
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_interactions_arrived_at", "interactions", ["arrived_at"])


def downgrade() -> None:
    op.drop_index("ix_interactions_arrived_at", table_name="interactions")
