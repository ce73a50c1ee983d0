"""BM25 as SQLite's FTS5 computes ``bm25(kb_fts, question_weight, 1.0)``, for PostgreSQL (pure).

FTS5, per query term i (each term of the OR query is a phrase of its own)::

    idf_i  = ln((N - n_i + 0.5) / (n_i + 0.5)), at least 1e-6
    f_i    = question_weight * tf_i(question) + tf_i(body)       (the column weights apply to counts)
    score  = Σ idf_i * f_i * (k1 + 1) / (f_i + k1 * (1 - b + b * D / avgdl))

with N the index rows, n_i the rows holding term i, D the row's tokens over both columns (unweighted)
and avgdl the tokens of all rows over N. FTS5 returns the negated score; this is the positive one,
which is what :class:`knowledge.core.query.Candidate` holds on both databases.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6


@dataclass(frozen=True)
class IndexStats:
    """The index as a whole: its rows and their tokens (both columns)."""

    rows: int
    tokens: int

    @property
    def avgdl(self) -> float:
        return self.tokens / self.rows if self.rows > 0 and self.tokens > 0 else 1.0


def idf(doc: int, rows: int) -> float:
    value = math.log((rows - doc + 0.5) / (doc + 0.5)) if rows > 0 else 0.0
    return value if value > 0 else MIN_IDF


def _saturate(f: float, k1: float, norm: float) -> float:
    return f * (k1 + 1.0) / (f + k1 * norm)


def score(
    terms: Iterable[str],
    question: Sequence[str],
    body: Sequence[str],
    df: Mapping[str, int],
    stats: IndexStats,
    question_weight: float,
    k1: float = K1,
    b: float = B,
) -> float:
    """The BM25 score of one row whose columns hold the tokens ``question`` and ``body``."""
    tf_q, tf_b = Counter(question), Counter(body)
    norm = 1.0 - b + b * (len(question) + len(body)) / stats.avgdl
    total = 0.0
    for term in dict.fromkeys(terms):
        f = question_weight * tf_q.get(term, 0) + tf_b.get(term, 0)
        if f > 0:
            total += idf(df.get(term, 0), stats.rows) * _saturate(f, k1, norm)
    return total


def presence_scores(term_idf: float, question_weight: float, k1: float = K1) -> tuple[float, float, float]:
    """A cheap pre-rank in SQL, before :func:`score`: a term's BM25 part for one occurrence and an
    average length, when it is in the question only, in the body only, and in both."""
    return (
        term_idf * _saturate(question_weight, k1, 1.0),
        term_idf * _saturate(1.0, k1, 1.0),
        term_idf * _saturate(question_weight + 1.0, k1, 1.0),
    )


def top(scored: Iterable[tuple[float, int]], n: int) -> list[tuple[float, int]]:
    """The ``n`` best (score, key) pairs, best first; equal scores by key."""
    return sorted(scored, key=lambda p: (-p[0], p[1]))[:n]
