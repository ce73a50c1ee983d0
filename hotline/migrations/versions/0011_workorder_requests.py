"""Work orders remember the request that opened them: a seat's console that sends the same
request again (its answer lost to a reconnection or a restart) gets the first order back.

Revision ID: 0011
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column is added in place on both databases (no table copy on SQLite); NULLs are
    # distinct in a unique index on both, so the orders opened without a request id never collide.
    op.add_column("wo_orders", sa.Column("request_id", sa.String(64), nullable=True))
    op.create_index("uq_wo_orders_request", "wo_orders", ["created_by", "contact_id", "request_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_wo_orders_request", table_name="wo_orders")
    with op.batch_alter_table("wo_orders") as batch:
        batch.drop_column("request_id")
