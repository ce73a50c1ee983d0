"""The full-text index of each database, and the rows ↔ entries mapping of the store.

SQLite: the FTS5 table ``kb_fts`` (rowid = ``kb_entries.pk``) holds space-joined jieba tokens;
searched with ``bm25()`` (question column weighted up). PostgreSQL: ``kb_search`` holds the same
tokens and a generated ``tsvector`` ('simple' config, question weight A, the rest B) under a GIN
index; migration 0014's triggers keep the term statistics (``kb_terms``, ``kb_search_totals``), and
the rows an IDF pre-rank picks are scored with FTS5's BM25 in Python (``core/bm25.py``). Both are
written in the transaction that writes the entry.
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

from knowledge.core import bm25
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
        # One statement for the batch (not one per row): migration 0014's statement triggers then
        # update the term statistics once for all of its rows.
        conn.execute(
            text(
                "INSERT INTO kb_search (entry_pk, q, t) "
                "SELECT * FROM unnest(CAST(:pk AS integer[]), CAST(:q AS text[]), CAST(:t AS text[])) "
                "ON CONFLICT (entry_pk) DO UPDATE SET q = excluded.q, t = excluded.t"
            ),
            {"pk": [r["pk"] for r in rows], "q": [r["q"] for r in rows], "t": [r["t"] for r in rows]},
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


# The pre-rank sorts narrow rows (pk, score); only the rows kept bring their token lists.
PG_CANDIDATES_SQL = (
    "SELECT e.pk, e.id, e.question, e.scope, e.state, e.valid_to, s.q, s.t FROM ("
    "SELECT s.entry_pk, {prerank} AS pre FROM kb_search s JOIN kb_entries e ON e.pk = s.entry_pk "
    "WHERE s.tsv @@ to_tsquery('simple', :q) AND {where} ORDER BY pre DESC, s.entry_pk LIMIT :n"
    ") AS c JOIN kb_search s ON s.entry_pk = c.entry_pk JOIN kb_entries e ON e.pk = c.entry_pk"
)


def pg_prerank(terms: Sequence[str], df: Mapping[str, int], rows: int, weight: float) -> tuple[str, dict[str, Any]]:
    """The SQL of the pre-rank (each term's BM25 part for one occurrence, by the column it is in:
    the rare terms count, unlike ts_rank) and its parameters (the scores are written as literals).
    A term no row holds is left out; a row is tested for a term first, then for its column."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, term in enumerate(terms):
        if df.get(term, 0) <= 0:
            continue
        only_q, only_t, both = (float(x) for x in bm25.presence_scores(bm25.idf(df[term], rows), weight))
        params |= {f"t{i}": f"'{term}'", f"a{i}": f"'{term}':A", f"b{i}": f"'{term}':B"}
        parts.append(
            f"CASE WHEN NOT s.tsv @@ to_tsquery('simple', :t{i}) THEN 0.0 "
            f"WHEN NOT s.tsv @@ to_tsquery('simple', :a{i}) THEN {only_t!r} "
            f"WHEN s.tsv @@ to_tsquery('simple', :b{i}) THEN {both!r} ELSE {only_q!r} END"
        )
    return " + ".join(parts) or "0.0", params


def pg_statistics(conn: Connection, terms: Terms) -> tuple[dict[str, int], bm25.IndexStats]:
    """Document frequencies of the terms and the index's size (kept by migration 0014's triggers)."""
    found = conn.execute(text("SELECT term, doc FROM kb_terms WHERE term = ANY(:t)"), {"t": list(terms.flat)})
    df: dict[str, int] = {str(term): int(doc) for term, doc in found}
    row = conn.execute(text("SELECT rows, tokens FROM kb_search_totals WHERE id = 1")).first()
    stats = bm25.IndexStats(int(row[0]), int(row[1])) if row else bm25.IndexStats(0, 0)
    return df, stats


def pg_search(
    conn: Connection, terms: Terms, audience: str, today: dt.date, n: int, weight: float, prerank: int
) -> list[Candidate]:
    """PostgreSQL: prune with the index's statistics as on SQLite, take the ``prerank`` best rows
    of the OR query by a cheap IDF-weighted pre-rank, then score them with FTS5's BM25 in Python
    from the stored token lists (no segmentation at query time)."""
    df, stats = pg_statistics(conn, terms)
    terms = prune(terms, df, stats.rows)
    flat = terms.flat
    pre, params = pg_prerank(flat, df, stats.rows, weight)
    where = "e.state IN ('published', 'expired')"
    params |= {"q": tsquery(terms), "n": max(n, prerank)}
    if audience == "public":
        where = "e.state = 'published' AND (e.valid_to IS NULL OR e.valid_to >= :today)"
        params["today"] = today
    rows = conn.execute(text(PG_CANDIDATES_SQL.format(prerank=pre, where=where)), params).all()
    scored = bm25.top(
        ((bm25.score(flat, r[6].split(), r[7].split(), df, stats, weight), i) for i, r in enumerate(rows)), n
    )
    return [_candidates([(*rows[i][:6], score)])[0] for score, i in scored]


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
    conn: Connection, terms: Terms, audience: str, today: dt.date, n: int, weight: float, prerank: int = 200
) -> list[Candidate]:
    """The search on a SQLAlchemy connection: PostgreSQL (:func:`pg_search`), or SQLite without a
    file, where term statistics are not looked up and single characters are left out."""
    if conn.dialect.name != "sqlite":
        return pg_search(conn, terms, audience, today, n, weight, prerank)
    terms = prune(terms, None, 0)
    sql = sqlite_search_sql(audience, weight)
    args: tuple[Any, ...] = (
        (fts5_match(terms), today.isoformat(), n) if audience == "public" else (fts5_match(terms), n)
    )
    return _candidates(conn.exec_driver_sql(sql, args).fetchall())
