"""The exchange format, JSON Lines: one entry per line with ``id``, ``question``, ``answer``,
``category``, ``scope``, ``unit``, ``valid_from``, ``valid_to``, ``keywords`` (the optional
``officer``, ``policy_ref``, ``effective_date`` and ``attachments`` are read too). The same
format for ``hotline kb import|export`` and ``/api/kb/import|export``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from knowledge.core.model import Content
from knowledge.core.validate import InvalidEntry, check_id, content_from

FIELDS = ("id", "question", "answer", "category", "scope", "unit", "valid_from", "valid_to", "keywords")
OPTIONAL = ("officer", "policy_ref", "effective_date", "attachments")
MAX_LINE_CHARS = 100_000


@dataclass(frozen=True)
class Line:
    number: int
    id: str
    data: dict[str, Any]  # the line's fields, checked by content_from again against the stored entry


@dataclass(frozen=True)
class Refused:
    number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.reason}"


def parse_lines(lines: Iterable[str], start: int = 1) -> Iterator[Line | Refused]:
    """Each non-blank line as a checked :class:`Line` or a :class:`Refused` naming its number."""
    for number, raw in enumerate(lines, start):
        text = raw.strip()
        if not text:
            continue
        if len(text) > MAX_LINE_CHARS:
            yield Refused(number, f"longer than {MAX_LINE_CHARS} characters")
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            yield Refused(number, f"not JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(data, dict):
            yield Refused(number, "not a JSON object")
            continue
        missing = [f for f in ("id", "question", "answer", "category", "unit") if data.get(f) in (None, "")]
        if missing:
            yield Refused(number, f"missing {', '.join(missing)}")
            continue
        try:
            entry_id = check_id(data["id"])
            content_from(data)  # refuse now what would be refused at the store
        except InvalidEntry as exc:
            yield Refused(number, str(exc))
            continue
        yield Line(number, entry_id, {k: data[k] for k in (*FIELDS, *OPTIONAL) if k in data})


def digest(content: Content) -> str:
    """The exchange fields' fingerprint: a line equal to the stored entry changes nothing."""
    d = content.as_dict()
    key = {k: d[k] for k in FIELDS if k != "id"}
    return hashlib.sha256(json.dumps(key, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def to_line(entry_id: str, content: Content) -> str:
    d = content.as_dict()
    out: dict[str, Any] = {"id": entry_id, **{k: d[k] for k in FIELDS if k != "id"}}
    for k in OPTIONAL:
        if d.get(k):
            out[k] = d[k]
    return json.dumps(out, ensure_ascii=False)
