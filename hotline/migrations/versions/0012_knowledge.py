"""Knowledge base (热线百科): entries, their versions, and the full-text index of each database:
an FTS5 table of jieba tokens on SQLite, a weighted tsvector with a GIN index on PostgreSQL.

Revision ID: 0012
Revises: 0001
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("knowledge",)
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(500), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("scope", sa.String(60), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("officer", sa.String(64), nullable=False),
        sa.Column("policy_ref", sa.String(300), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("submit_by", TS, nullable=True),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_kb_entries"),
        sa.UniqueConstraint("id", name="uq_kb_entries_id"),
    )
    for col in ("state", "unit", "scope", "category"):
        op.create_index(f"ix_kb_entries_{col}", "kb_entries", [col])
    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_pk"], ["kb_entries.pk"], name="fk_kb_versions_entry_pk_kb_entries", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_kb_versions"),
    )
    op.create_index("ix_kb_versions_entry_pk", "kb_versions", ["entry_pk"])
    if op.get_bind().dialect.name == "sqlite":
        # Tokens are jieba's, space-joined: the default tokenizer only splits them on the spaces.
        # q: the question (weighted up in bm25), t: answer, keywords and category.
        op.execute("CREATE VIRTUAL TABLE kb_fts USING fts5(q, t)")
    else:
        op.create_table(
            "kb_search",
            sa.Column("entry_pk", sa.Integer(), nullable=False),
            sa.Column("q", sa.Text(), nullable=False),
            sa.Column("t", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(
                ["entry_pk"], ["kb_entries.pk"], name="fk_kb_search_entry_pk_kb_entries", ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("entry_pk", name="pk_kb_search"),
        )
        # 'simple': no stemming and no stop words (the tokens are already jieba's words);
        # the question weighs A, the rest B, which ts_rank counts 1.0 against 0.4.
        op.execute(
            "ALTER TABLE kb_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
            "(setweight(to_tsvector('simple', q), 'A') || setweight(to_tsvector('simple', t), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_kb_search_tsv ON kb_search USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS kb_fts")
    else:
        op.drop_table("kb_search")
    op.drop_table("kb_versions")
    op.drop_table("kb_entries")
