"""Internet channels: conversations, messages (deduplicated by WeChat MsgId) and media.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("channels",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_conversations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("citizen", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("seat", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_citizen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("workorder_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_conversations"),
    )
    op.create_index("ix_channel_conversations_open", "channel_conversations", ["channel", "citizen", "state"])
    op.create_table(
        "channel_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("citizen", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("dedup_key", sa.String(96), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("supported", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_messages"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["channel_conversations.id"],
            name="fk_channel_messages_conversation_id_channel_conversations",
        ),
        sa.UniqueConstraint("dedup_key", name="uq_channel_messages_dedup_key"),
    )
    op.create_index("ix_channel_messages_conversation_id", "channel_messages", ["conversation_id"])
    op.create_table(
        "channel_media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(255), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_media"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["channel_messages.id"], name="fk_channel_media_message_id_channel_messages"
        ),
        sa.UniqueConstraint("message_id", name="uq_channel_media_message_id"),
    )


def downgrade() -> None:
    op.drop_table("channel_media")
    op.drop_index("ix_channel_messages_conversation_id", table_name="channel_messages")
    op.drop_table("channel_messages")
    op.drop_index("ix_channel_conversations_open", table_name="channel_conversations")
    op.drop_table("channel_conversations")
