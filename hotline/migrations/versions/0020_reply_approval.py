"""答复须经分管领导审核: the leader's capability on a unit account (accounts.unit_leader). The reply
waiting for the leader is a state of the work order's core (leader_review), which needs no column.

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
# The column is on accounts, made on the accounts' branch (0003, 0007): an upgrade of all heads
# must not run this first.
depends_on: str | Sequence[str] | None = "0007"


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("unit_leader", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("unit_leader")
