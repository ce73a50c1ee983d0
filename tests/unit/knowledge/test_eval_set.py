"""The knowledge base's evaluation set (tests/data/kb) is well formed: entries and questions parse, every
field has its type, ids are unique, each question points to an entry that exists and is still valid."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

KB = Path(__file__).resolve().parents[2] / "data" / "kb"
# The set was written on this day: an entry whose valid_to is before it counts as expired, whatever
# today's date is, so the test does not start failing as the calendar moves on.
REFERENCE_DAY = dt.date(2026, 12, 1)
FIELDS = {"id", "question", "answer", "category", "scope", "unit", "valid_from", "valid_to", "keywords"}
ENTRY_ID = re.compile(r"^kb-\d{4}$")
MIN_ENTRIES, MIN_QUESTIONS = 200, 400


def _lines(name: str) -> list[tuple[int, dict]]:
    out = []
    for number, raw in enumerate((KB / name).read_text(encoding="utf-8").splitlines(), 1):
        assert raw.strip(), f"{name} line {number}: blank line"
        data = json.loads(raw)
        assert isinstance(data, dict), f"{name} line {number}: not a JSON object"
        out.append((number, data))
    return out


def _date(value: object, where: str) -> dt.date | None:
    if value is None:
        return None
    assert isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), f"{where}: {value!r} is not YYYY-MM-DD"
    return dt.date.fromisoformat(value)


@pytest.fixture(scope="module")
def entries() -> dict[str, dict]:
    lines = _lines("entries.jsonl")
    ids = Counter(e.get("id") for _, e in lines)
    assert not [i for i, n in ids.items() if n > 1], "duplicate ids"
    return {e["id"]: e for _, e in lines}


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return [q for _, q in _lines("questions.jsonl")]


def expired(entry: dict) -> bool:
    valid_to = _date(entry["valid_to"], entry["id"])
    return valid_to is not None and valid_to < REFERENCE_DAY


def test_entries_have_exactly_the_fields_with_their_types(entries):
    for eid, e in entries.items():
        assert set(e) == FIELDS, f"{eid}: keys {sorted(set(e) ^ FIELDS)}"
        assert ENTRY_ID.match(eid), eid
        for name in ("question", "answer", "category", "scope", "unit"):
            assert isinstance(e[name], str) and e[name].strip(), f"{eid}: {name} must be a non-empty string"
        assert all(part.strip() for part in e["category"].split("/")), f"{eid}: category path {e['category']!r}"
        keywords = e["keywords"]
        assert isinstance(keywords, list) and 2 <= len(keywords) <= 6, f"{eid}: 2-6 keywords"
        assert all(isinstance(k, str) and k.strip() for k in keywords), f"{eid}: keywords must be strings"
        assert len(set(keywords)) == len(keywords), f"{eid}: repeated keyword"


def test_validity_dates_are_iso_and_ordered(entries):
    for eid, e in entries.items():
        start, end = _date(e["valid_from"], eid), _date(e["valid_to"], eid)
        if start and end:
            assert start <= end, f"{eid}: valid_from {start} after valid_to {end}"


def test_enough_entries_some_expired_and_titles_distinct(entries):
    assert len(entries) >= MIN_ENTRIES
    assert 5 <= sum(expired(e) for e in entries.values()) <= 20, "about ten expired entries"
    titles = Counter(e["question"] for e in entries.values())
    assert not [t for t, n in titles.items() if n > 1], "two entries with the same title"


def test_questions_point_to_live_entries(entries, questions):
    assert len(questions) >= MIN_QUESTIONS
    for q in questions:
        assert set(q) == {"question", "entry"}, q
        assert isinstance(q["question"], str) and q["question"].strip(), q
        assert q["entry"] in entries, f"{q['question']!r}: no entry {q['entry']}"
        assert not expired(entries[q["entry"]]), f"{q['question']!r} points to expired {q['entry']}"


def test_no_question_twice_and_every_live_entry_asked(entries, questions):
    seen = Counter(q["question"].strip() for q in questions)
    assert not [t for t, n in seen.items() if n > 1], "a question appears twice"
    asked = {q["entry"] for q in questions}
    assert not [i for i, e in entries.items() if not expired(e) and i not in asked], "a live entry has no question"


def test_colloquial_forms_are_pairs_used_in_questions(questions):
    text = [q["question"] for q in questions]
    pairs = [
        line.split("=", 1)
        for line in (KB / "colloquial.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pairs
    for pair in pairs:
        assert len(pair) == 2 and all(p.strip() for p in pair), f"not colloquial=standard: {pair}"
        assert any(pair[0] in t for t in text), f"{pair[0]!r} is used by no question"
