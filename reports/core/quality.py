"""Data quality checks (数据质检): orders that miss fields, categories that contradict the text,
repeated demands not merged, replies that do not answer. Pure: orders and rules in, findings out.

The adapter (``reports/quality.py``) reads the orders and the keyword file; this module only
compares. Every finding names the order, its kind, a short Chinese reason and the evidence (the
words matched, the other order and the similarity), so a supervisor can judge it in one look.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workorders.core.model import STATE_LABELS, State

MISSING = "missing_fields"
MISMATCH = "category_mismatch"
DUPLICATE = "duplicate"
REPLY = "reply_incomplete"
KINDS = (MISSING, MISMATCH, DUPLICATE, REPLY)
KIND_LABELS = {MISSING: "必填项缺失", MISMATCH: "分类与内容不符", DUPLICATE: "重复诉求未并单", REPLY: "答复不达标"}

# Which fields an order must have once it reached a state. An order is checked against the row
# of its own state only; a state absent here (受理中, 已转紧急热线, 不予受理, 已并单) requires nothing.
_DISPATCHED = ("title", "category", "address", "lead_unit")
_REPLIED = (*_DISPATCHED, "reply")
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "answered": ("title", "category"),
    "pending_dispatch": ("title", "category", "address"),
    "dispatched": _DISPATCHED,
    "return_requested": _DISPATCHED,
    "handling": _DISPATCHED,
    "extension_requested": _DISPATCHED,
    "leader_review": _DISPATCHED,  # the reply waits for the unit's leader: not yet the platform's
    "replied": _REPLIED,
    "callback": _REPLIED,
    "visited": _REPLIED,
    "closed": _REPLIED,
    "archived": _REPLIED,
}
# The states that require nothing, named so that a state added to the lifecycle is a decision here
# (a test walks every state), not a silent gap.
REQUIRES_NOTHING = frozenset({"intake", "transferred", "not_accepted", "merged"})
FIELD_LABELS = {"title": "标题", "category": "分类", "address": "地址", "lead_unit": "主办单位", "reply": "答复"}
# A consultation (咨询) is often about a policy, not a place: no address asked of it.
NO_ADDRESS_TYPES = frozenset({"consult"})
REPLY_ELEMENTS = {"handling": "办理情况", "resolution": "解决情况", "contact": "联系情况"}
_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class QOrder:
    """An order as the checks see it: the stored columns and the few facts of its core."""

    id: int
    created_at: dt.datetime
    state: str
    title: str = ""
    content: str = ""
    category: str = ""
    address: str = ""
    phone: str = ""
    lead_unit: str | None = None
    order_type: str | None = None
    dispatched: bool = False  # it had an assignment: a unit was asked to reply
    reply: Mapping[str, Any] | None = None
    merged_into: int | None = None

    @property
    def text(self) -> str:
        return f"{self.title} {self.content}"


@dataclass(frozen=True)
class QualityRules:
    """Keywords per category path and per reply element, and the thresholds (documented in
    docs/reports.md, with their limits)."""

    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    resolution_words: tuple[str, ...] = ()
    contact_words: tuple[str, ...] = ()
    mismatch_min_hits: int = 2  # distinct keywords of another category before the text "dominates"
    duplicate_days: int = 7
    duplicate_similarity: float = 0.5  # character-bigram Jaccard
    min_reply_chars: int = 30
    min_element_chars: int = 4

    def options(self) -> dict[str, Any]:
        return {
            "mismatch_min_hits": self.mismatch_min_hits,
            "duplicate_days": self.duplicate_days,
            "duplicate_similarity": self.duplicate_similarity,
            "min_reply_chars": self.min_reply_chars,
            "min_element_chars": self.min_element_chars,
            "categories_with_keywords": len(self.keywords),
        }


@dataclass(frozen=True)
class Finding:
    order_id: int
    kind: str
    reason: str
    evidence: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "kind": self.kind, "reason": self.reason, "evidence": dict(self.evidence)}


# -- missing fields ------------------------------------------------------------------------------
def missing_fields(o: QOrder) -> Finding | None:
    wanted = REQUIRED.get(o.state, ())
    missing = []
    for name in wanted:
        if name == "address" and o.order_type in NO_ADDRESS_TYPES:
            continue
        if name == "reply":
            if o.dispatched and not o.reply:
                missing.append(name)
            continue
        if not str(getattr(o, name) or "").strip():
            missing.append(name)
    if not missing:
        return None
    labels = [FIELD_LABELS[m] for m in missing]
    label = STATE_LABELS.get(State(o.state), o.state) if o.state in set(State) else o.state
    reason = f"{label}的工单缺少" + "、".join(labels)
    return Finding(o.id, MISSING, reason, {"fields": missing, "state": o.state})


# -- category against the text -------------------------------------------------------------------
def _related(a: str, b: str) -> bool:
    """One category path is the other or lies under it (城乡建设 and 城乡建设/供水)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def category_mismatch(o: QOrder, rules: QualityRules) -> Finding | None:
    """The order's category (or a path above or below it) has keywords, none of them is in the
    text, and another category's keywords are, at least ``mismatch_min_hits`` distinct ones."""
    if not o.category or not rules.keywords:
        return None
    own = [k for k in rules.keywords if _related(k, o.category)]
    if not own:
        return None  # no keywords to judge this category by
    text = o.text
    if any(w in text for k in own for w in rules.keywords[k]):
        return None
    best: tuple[int, str, list[str]] | None = None
    for cat in sorted(rules.keywords):
        if _related(cat, o.category):
            continue
        hits = sorted({w for w in rules.keywords[cat] if w in text})
        if len(hits) >= rules.mismatch_min_hits and (best is None or len(hits) > best[0]):
            best = (len(hits), cat, hits)
    if best is None:
        return None
    _, cat, hits = best
    reason = f"分类为“{o.category}”，但内容无该类关键词，而含“{cat}”类关键词：" + "、".join(hits)
    return Finding(o.id, MISMATCH, reason, {"category": o.category, "suggested": cat, "words": hits})


# -- duplicates not merged -----------------------------------------------------------------------
def bigrams(text: str) -> frozenset[str]:
    s = _NOT_TEXT.sub("", text)
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# An address names a place (not only a town or a street) when it has a number or one of these: only
# then do two orders at it count as one place. "如城街道" alone would pair every demand of a town.
_PLACE = re.compile(r"\d|[号村组栋幢室巷弄]|小区")


def _norm_address(address: str) -> str:
    text = _NOT_TEXT.sub("", address)
    return text if _PLACE.search(text) else ""


def _merged_together(a: QOrder, b: QOrder) -> bool:
    if a.merged_into == b.id or b.merged_into == a.id:
        return True
    return a.merged_into is not None and a.merged_into == b.merged_into


def duplicates(orders: Sequence[QOrder], checked: Collection[int], rules: QualityRules) -> list[Finding]:
    """Each checked order against the orders before it (by creation, then id) within
    ``duplicate_days``: the same caller number or the same address, the same category, text
    similar at ``duplicate_similarity`` or more, and neither merged into the other. The later
    order of a pair is flagged, once, naming its most similar earlier order."""
    window = dt.timedelta(days=rules.duplicate_days)
    live = sorted((o for o in orders if o.state != "merged" and o.category), key=lambda o: (o.created_at, o.id))
    groups: dict[tuple[str, str, str], list[QOrder]] = {}
    grams: dict[int, frozenset[str]] = {}
    out = []
    for o in live:
        keys = []
        if o.phone.strip():
            keys.append(("phone", o.phone.strip(), o.category))
        if addr := _norm_address(o.address):
            keys.append(("address", addr, o.category))
        grams[o.id] = bigrams(o.text)
        if o.id in checked:
            best: tuple[float, QOrder, str] | None = None
            for key in keys:
                for e in groups.get(key, ()):
                    if o.created_at - e.created_at > window or _merged_together(o, e):
                        continue
                    sim = jaccard(grams[o.id], grams[e.id])
                    if sim >= rules.duplicate_similarity and (best is None or sim > best[0]):
                        best = (sim, e, key[0])
            if best is not None:
                sim, e, by = best
                same = "来电号码" if by == "phone" else "地址"
                reason = f"与工单 {e.id} {same}相同、分类相同、内容相似（{sim:.2f}），未并单"
                out.append(
                    Finding(o.id, DUPLICATE, reason, {"other_id": e.id, "similarity": round(sim, 3), "same": by})
                )
        for key in keys:
            groups.setdefault(key, []).append(o)
    return out


# -- replies -------------------------------------------------------------------------------------
def _element_text(reply: Mapping[str, Any], key: str) -> str:
    """The element's own field; a reply stored as one text (imported) is searched for the
    element's heading (``解决情况：...``) up to the next heading."""
    own = str(reply.get(key) or "").strip()
    if own:
        return own
    whole = " ".join(str(reply.get(k) or "") for k in (*REPLY_ELEMENTS, "text"))
    heading = REPLY_ELEMENTS[key]
    others = "|".join(h for h in REPLY_ELEMENTS.values() if h != heading)
    m = re.search(rf"{heading}\s*[:：]?(.*?)(?=(?:{others})\s*[:：]|$)", whole, re.S)
    return m.group(1).strip() if m else ""


def reply_incomplete(o: QOrder, rules: QualityRules) -> Finding | None:
    """A reply missing an element, an element too short, a 解决情况 that does not say whether
    it was solved, a 联系情况 that names no contact, or a reply shorter than ``min_reply_chars``."""
    if not o.reply:
        return None
    texts = {k: _element_text(o.reply, k) for k in REPLY_ELEMENTS}
    problems: list[str] = []
    missing = [REPLY_ELEMENTS[k] for k, t in texts.items() if not t]
    short = [REPLY_ELEMENTS[k] for k, t in texts.items() if t and len(_NOT_TEXT.sub("", t)) < rules.min_element_chars]
    if missing:
        problems.append("缺少" + "、".join(missing))
    if short:
        problems.append("过于简单：" + "、".join(short))
    words: dict[str, list[str]] = {}
    for key, vocab, what in (
        ("resolution", rules.resolution_words, "解决情况未说明是否解决"),
        ("contact", rules.contact_words, "联系情况未说明如何联系群众"),
    ):
        if texts[key] and vocab:
            found = [w for w in vocab if w in texts[key]]
            words[key] = found
            if not found:
                problems.append(what)
    length = sum(len(_NOT_TEXT.sub("", t)) for t in texts.values())
    if length < rules.min_reply_chars:
        problems.append(f"答复仅 {length} 字（少于 {rules.min_reply_chars} 字）")
    if not problems:
        return None
    evidence = {"missing": missing, "short": short, "length": length, "words": words}
    return Finding(o.id, REPLY, "答复" + "；".join(problems), evidence)


# -- all of it -----------------------------------------------------------------------------------
def check(orders: Sequence[QOrder], rules: QualityRules, checked: Iterable[int] | None = None) -> list[Finding]:
    """Every finding on the ``checked`` orders (all of ``orders`` when None); the others are
    there to be compared with (the earlier days of the duplicate window). Sorted by kind, then
    order id, so a run gives the same list every time."""
    ids = {o.id for o in orders} if checked is None else set(checked)
    out: list[Finding] = []
    for o in orders:
        if o.id not in ids:
            continue
        for f in (missing_fields(o), category_mismatch(o, rules), reply_incomplete(o, rules)):
            if f is not None:
                out.append(f)
    out.extend(duplicates(orders, ids, rules))
    return sorted(out, key=lambda f: (KINDS.index(f.kind), f.order_id))


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for f in findings:
        counts[f.kind] += 1
    return counts
