"""The full-text index of each database, and the rows ↔ entries mapping of the store.

SQLite: the FTS5 table ``kb_fts`` (rowid = ``kb_entries.pk``) holds space-joined jieba tokens;
searched with ``bm25()`` (question column weighted up). PostgreSQL: ``kb_search`` holds the same
tokens and a generated ``tsvector`` ('simple' config, question weight A, the rest B) under a GIN
index; searched with ``ts_rank``. Both are written in the transaction that writes the entry.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, text

from knowledge.core.model import Attachment, Content, Entry, State
from knowledge.core.query import Candidate, Terms, fts5_match, prune, tsquery
from knowledge.core.sanitize import plain_text
from knowledge.segment import Segmenter


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Columns hold UTC; SQLite gives naive values back, which are UTC too."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def content_of(row: Mapping[str, Any]) -> Content:
    return Content(
        question=row["question"],
        answer=row["answer"],
        category=row["category"],
        scope=row["scope"],
        unit=row["unit"],
        officer=row["officer"],
        policy_ref=row["policy_ref"],
        valid_from=_date(row["valid_from"]),
        valid_to=_date(row["valid_to"]),
        effective_date=_date(row["effective_date"]),
        keywords=tuple(row["keywords"] or ()),
        attachments=tuple(Attachment(a["name"], a["url"]) for a in row["attachments"] or ()),
    )


def entry_of(row: Mapping[str, Any]) -> Entry:
    return Entry(
        id=row["id"],
        content=content_of(row),
        state=State(row["state"]),
        version=row["version"],
        created_at=utc(row["created_at"]) or dt.datetime.min.replace(tzinfo=dt.UTC),
        updated_at=utc(row["updated_at"]) or dt.datetime.min.replace(tzinfo=dt.UTC),
        submitted_at=utc(row["submitted_at"]),
        submit_by=utc(row["submit_by"]),
        late=bool(row["late"]),
        published_at=utc(row["published_at"]),
    )


def columns(entry: Entry) -> dict[str, Any]:
    c = entry.content
    return {
        "id": entry.id,
        "state": entry.state.value,
        "version": entry.version,
        "question": c.question,
        "answer": c.answer,
        "category": c.category,
        "scope": c.scope,
        "unit": c.unit,
        "officer": c.officer,
        "policy_ref": c.policy_ref,
        "valid_from": c.valid_from,
        "valid_to": c.valid_to,
        "effective_date": c.effective_date,
        "keywords": list(c.keywords),
        "attachments": [{"name": a.name, "url": a.url} for a in c.attachments],
        "late": entry.late,
        "submitted_at": entry.submitted_at,
        "submit_by": entry.submit_by,
        "published_at": entry.published_at,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    }


def index_texts(seg: Segmenter, content: Content) -> tuple[str, str]:
    """(question + keywords tokens, answer + category + scope tokens), space-joined. The keywords are
    a unit's own summary of the question, so they weigh like it."""
    title = " ".join((content.question, *content.keywords))
    body = " ".join((plain_text(content.answer), content.category.replace("/", " "), content.scope))
    return seg.index_text(title), seg.index_text(body)


def write_index(conn: Connection, pk: int, q: str, t: str) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text("DELETE FROM kb_fts WHERE rowid = :pk"), {"pk": pk})
        conn.execute(text("INSERT INTO kb_fts(rowid, q, t) VALUES (:pk, :q, :t)"), {"pk": pk, "q": q, "t": t})
    else:
        conn.execute(
            text(
                "INSERT INTO kb_search (entry_pk, q, t) VALUES (:pk, :q, :t) "
                "ON CONFLICT (entry_pk) DO UPDATE SET q = excluded.q, t = excluded.t"
            ),
            {"pk": pk, "q": q, "t": t},
        )


def write_index_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk form of :func:`write_index` (rows of pk, q, t)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.execute(text("DELETE FROM kb_fts WHERE rowid = :pk"), [{"pk": r["pk"]} for r in rows])
        conn.execute(text("INSERT INTO kb_fts(rowid, q, t) VALUES (:pk, :q, :t)"), list(rows))
    else:
        conn.execute(
            text(
                "INSERT INTO kb_search (entry_pk, q, t) VALUES (:pk, :q, :t) "
                "ON CONFLICT (entry_pk) DO UPDATE SET q = excluded.q, t = excluded.t"
            ),
            list(rows),
        )


# ---- searching ---------------------------------------------------------------------------------
VISIBLE = {"seat": ("published", "expired"), "public": ("published",)}


def sqlite_search_sql(audience: str, question_weight: float) -> str:
    where = "e.state IN ('published', 'expired')"
    if audience == "public":
        where = "e.state = 'published' AND (e.valid_to IS NULL OR e.valid_to >= ?)"
    rank = f"bm25(kb_fts, {float(question_weight)!r}, 1.0)"
    return (
        f"SELECT e.pk, e.id, e.question, e.scope, e.state, e.valid_to, -{rank} AS score "
        f"FROM kb_fts JOIN kb_entries e ON e.pk = kb_fts.rowid "
        f"WHERE kb_fts MATCH ? AND {where} ORDER BY {rank} LIMIT ?"
    )


PG_SEARCH_SQL = (
    "SELECT e.pk, e.id, e.question, e.scope, e.state, e.valid_to, ts_rank(s.tsv, tq.query) AS score "
    "FROM kb_search s JOIN kb_entries e ON e.pk = s.entry_pk, to_tsquery('simple', :q) AS tq(query) "
    "WHERE s.tsv @@ tq.query AND {where} ORDER BY score DESC LIMIT :n"
)


def _candidates(rows: Sequence[Sequence[Any]]) -> list[Candidate]:
    return [Candidate(r[0], r[1], r[2], r[3], r[4], _date(r[5]), float(r[6])) for r in rows]


class SqliteSearcher:
    """Searches on SQLite in reader threads, each with its own plain ``sqlite3`` connection (WAL:
    readers never wait for the writer): one hand-over per search instead of aiosqlite's several."""

    def __init__(self, path: str, threads: int = 2) -> None:
        self.path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="kb-search")
        self._total, self._total_at = 0, -1e9

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            # The index's own term statistics: how many entries hold a term (for prune()).
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_vocab USING fts5vocab(main, kb_fts, 'row')")
            conn.execute("PRAGMA query_only = 1")
            conn.execute("PRAGMA busy_timeout = 5000")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def doc_counts(self, terms: Terms) -> tuple[dict[str, int], int]:
        conn = self._conn()
        flat = terms.flat
        marks = ",".join("?" * len(flat))
        df = dict(conn.execute(f"SELECT term, doc FROM temp.kb_vocab WHERE term IN ({marks})", flat).fetchall())
        now = time.monotonic()
        if now - self._total_at > 60:  # the entry count moves slowly; a minute-old one will do
            self._total = conn.execute("SELECT count(*) FROM kb_entries").fetchone()[0]
            self._total_at = now
        return df, self._total

    def run(self, terms: Terms, audience: str, today: dt.date, n: int, question_weight: float) -> list[Candidate]:
        df, total = self.doc_counts(terms)
        terms = prune(terms, df, total)
        sql = sqlite_search_sql(audience, question_weight)
        args: list[Any] = [fts5_match(terms)]
        if audience == "public":
            args.append(today.isoformat())
        args.append(n)
        return _candidates(self._conn().execute(sql, args).fetchall())

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def sync_search(
    conn: Connection, terms: Terms, audience: str, today: dt.date, n: int, weight: float
) -> list[Candidate]:
    """The same search on a SQLAlchemy connection (PostgreSQL, or SQLite without a file). Term
    statistics are not looked up here: single characters are left out of the query."""
    terms = prune(terms, None, 0)
    if conn.dialect.name == "sqlite":
        sql = sqlite_search_sql(audience, weight)
        args: tuple[Any, ...] = (
            (fts5_match(terms), today.isoformat(), n)
            if audience == "public"
            else (
                fts5_match(terms),
                n,
            )
        )
        return _candidates(conn.exec_driver_sql(sql, args).fetchall())
    where = "e.state IN ('published', 'expired')"
    params: dict[str, Any] = {"q": tsquery(terms), "n": n}
    if audience == "public":
        where = "e.state = 'published' AND (e.valid_to IS NULL OR e.valid_to >= :today)"
        params["today"] = today
    return _candidates(conn.execute(text(PG_SEARCH_SQL.format(where=where)), params).fetchall())
