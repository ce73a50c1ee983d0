"""Knowledge base, PostgreSQL: the index's own term statistics, for pruning and BM25 ranking as on
SQLite (where FTS5 keeps them itself, read through fts5vocab).

- ``kb_search.q_len`` / ``t_len``: tokens of each field (generated from the stored token lists);
- ``kb_terms(term, doc)``: how many index rows hold each term (the tsvector's lexemes);
- ``kb_search_totals``: one row, the index rows and their tokens (for BM25's average length).

Statement-level triggers on ``kb_search`` keep both exact in the transaction that writes, changes or
deletes index rows (also a delete cascaded from ``kb_entries``), one ordered upsert per statement
(bulk imports: one per batch; a fixed lock order between writers). Nothing on SQLite.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Deltas of document frequency: +1 per term of each new row, -1 per term of each old row.
_APPLY = """
    WITH up AS (
        INSERT INTO kb_terms AS k (term, doc)
        SELECT term, sum(d)::int FROM ({rows}) AS x(term, d) GROUP BY term HAVING sum(d) <> 0 ORDER BY term
        ON CONFLICT (term) DO UPDATE SET doc = k.doc + excluded.doc
        RETURNING k.term, k.doc
    )
    SELECT coalesce(array_agg(term) FILTER (WHERE doc <= 0), '{{}}') INTO gone FROM up;
    DELETE FROM kb_terms WHERE term = ANY(gone) AND doc <= 0;
"""
_NEW = "SELECT u.term, 1 FROM new_rows, unnest(tsvector_to_array(new_rows.tsv)) AS u(term)"
_OLD = "SELECT u.term, -1 FROM old_rows, unnest(tsvector_to_array(old_rows.tsv)) AS u(term)"
_TOTALS = "UPDATE kb_search_totals SET rows = rows + {rows}, tokens = tokens + {tokens} WHERE id = 1;"
_N_NEW, _N_OLD = "(SELECT count(*) FROM new_rows)", "(SELECT count(*) FROM old_rows)"
_T_NEW = "(SELECT coalesce(sum(q_len + t_len), 0) FROM new_rows)"
_T_OLD = "(SELECT coalesce(sum(q_len + t_len), 0) FROM old_rows)"

FUNCTION = f"""
CREATE FUNCTION kb_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gone text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_APPLY.format(rows=_NEW)}
        {_TOTALS.format(rows=_N_NEW, tokens=_T_NEW)}
    ELSIF TG_OP = 'DELETE' THEN
        {_APPLY.format(rows=_OLD)}
        {_TOTALS.format(rows="-" + _N_OLD, tokens="-" + _T_OLD)}
    ELSE
        {_APPLY.format(rows=_NEW + " UNION ALL " + _OLD)}
        {_TOTALS.format(rows="0", tokens=_T_NEW + " - " + _T_OLD)}
    END IF;
    RETURN NULL;
END
$$
"""

# Transition tables allow one event per trigger: three triggers, one function.
TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}


def _length(column: str) -> str:
    return f"coalesce(array_length(string_to_array(nullif({column}, ''), ' '), 1), 0)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for column in ("q", "t"):
        op.execute(
            f"ALTER TABLE kb_search ADD COLUMN {column}_len integer GENERATED ALWAYS AS ({_length(column)}) STORED"
        )
    op.execute(
        "CREATE TABLE kb_terms (term text NOT NULL, doc integer NOT NULL, CONSTRAINT pk_kb_terms PRIMARY KEY (term))"
    )
    op.execute(
        "CREATE TABLE kb_search_totals (id smallint NOT NULL, rows bigint NOT NULL, tokens bigint NOT NULL, "
        "CONSTRAINT pk_kb_search_totals PRIMARY KEY (id), CONSTRAINT ck_kb_search_totals_one CHECK (id = 1))"
    )
    op.execute(
        "INSERT INTO kb_search_totals (id, rows, tokens) "
        "SELECT 1, count(*), coalesce(sum(q_len + t_len), 0) FROM kb_search"
    )
    op.execute(
        "INSERT INTO kb_terms (term, doc) SELECT u.term, count(*) "
        "FROM kb_search, unnest(tsvector_to_array(tsv)) AS u(term) GROUP BY u.term"
    )
    op.execute(FUNCTION)
    for event, referencing in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER kb_terms_{event.lower()} AFTER {event} ON kb_search {referencing} "
            "FOR EACH STATEMENT EXECUTE FUNCTION kb_terms_sync()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for event in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS kb_terms_{event.lower()} ON kb_search")
    op.execute("DROP FUNCTION IF EXISTS kb_terms_sync()")
    op.execute("DROP TABLE IF EXISTS kb_search_totals")
    op.execute("DROP TABLE IF EXISTS kb_terms")
    op.execute("ALTER TABLE kb_search DROP COLUMN IF EXISTS t_len, DROP COLUMN IF EXISTS q_len")
