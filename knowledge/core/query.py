"""Turning a searcher's words into a full-text query, and ranking what the index returned.

Segmentation (jieba) happens outside; here the tokens are cleaned, expanded with the synonym
groups (医保 → 医保 | 医疗保险 ...) and written as an FTS5 MATCH expression or a PostgreSQL
tsquery. Both are built only from word characters, so a query can never be a syntax error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"^\w+$")
MAX_TERMS = 24


def cut(query: str, max_chars: int) -> str:
    """A query longer than ``max_chars`` is cut, not refused (a pasted document is still a question)."""
    return " ".join(query.split())[:max_chars]


@dataclass(frozen=True)
class Terms:
    """Query terms in order; each with its synonyms (the first of a group is the term itself)."""

    groups: tuple[tuple[str, ...], ...]

    @property
    def flat(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for g in self.groups for t in g))

    def __bool__(self) -> bool:
        return bool(self.groups)


def expand(
    tokens: Iterable[str], synonyms: Mapping[str, tuple[str, ...]], stopwords: frozenset[str] = frozenset()
) -> Terms:
    seen: set[str] = set()
    groups: list[tuple[str, ...]] = []
    for raw in tokens:
        token = raw.strip().lower()
        if not token or token in seen or token in stopwords or not _WORD.match(token):
            continue
        seen.add(token)
        group = (token, *(s for s in synonyms.get(token, ()) if s != token and _WORD.match(s)))
        groups.append(group)
        if len(groups) >= MAX_TERMS:
            break
    return Terms(tuple(groups))


def prune(
    terms: Terms, df: Mapping[str, int] | None, total: int, char_share: float = 0.02, word_share: float = 0.05
) -> Terms:
    """Drop the terms too common to tell entries apart (they only make the search slow): a single
    character in more than ``char_share`` of the entries (all of them when ``df`` is unknown), a
    word in more than ``word_share``, unless nothing else would be left."""
    char_max = max(50, int(total * char_share))
    word_max = max(50, int(total * word_share))

    def keep(t: str) -> bool:
        if len(t) == 1:
            return df is not None and df.get(t, 0) <= char_max
        return df is None or df.get(t, 0) <= word_max

    groups = tuple(g2 for g in terms.groups if (g2 := tuple(t for t in g if keep(t))))
    return Terms(groups) if groups else Terms(tuple(g for g in terms.groups if len(g[0]) > 1)[:1])


def fts5_match(terms: Terms) -> str:
    """``"医保" OR "医疗保险" OR "报销"``: any term matches, bm25 rewards documents with more."""
    return " OR ".join(f'"{t}"' for t in terms.flat)


def tsquery(terms: Terms) -> str:
    """``'医保' | '医疗保险' | '报销'`` for ``to_tsquery('simple', ...)``."""
    return " | ".join(f"'{t}'" for t in terms.flat)


@dataclass(frozen=True)
class Candidate:
    """A row the index found: ``text_score`` is higher for better (bm25 negated, or ts_rank)."""

    pk: int
    id: str
    question: str
    scope: str
    state: str
    valid_to: dt.date | None
    text_score: float


@dataclass(frozen=True)
class Hit:
    id: str
    question: str
    scope: str
    score: float
    expired: bool


@dataclass(frozen=True)
class Ranking:
    scope_boost: float = 1.5  # an entry of the caller's own district or street
    city_boost: float = 1.0  # a city-wide entry (neutral)
    expired_factor: float = 0.5  # seats still see an expired entry, below the valid ones it ties with


def rank(
    candidates: Sequence[Candidate],
    today: dt.date,
    audience: str,
    scope: str | None,
    limit: int,
    ranking: Ranking = Ranking(),
    city: str = "city",
) -> list[Hit]:
    """Citizens (``public``) never see an expired entry; seats see it marked ``expired``. The
    caller's scope ranks higher, but other scopes still come (a citizen may ask about another
    district)."""
    hits = []
    for c in candidates:
        expired = c.state == "expired" or (c.valid_to is not None and c.valid_to < today)
        if expired and audience == "public":
            continue
        factor = 1.0
        if scope and c.scope == scope:
            factor = ranking.scope_boost
        elif c.scope == city:
            factor = ranking.city_boost
        if expired:
            factor *= ranking.expired_factor
        hits.append(Hit(c.id, c.question, c.scope, round(c.text_score * factor, 4), expired))
    # Equal scores (bm25 is near 0 for a word in most entries of a small base): the caller's own
    # scope first, then valid before expired.
    hits.sort(key=lambda h: (-h.score, h.scope != scope, h.expired, h.id))
    return hits[:limit]
