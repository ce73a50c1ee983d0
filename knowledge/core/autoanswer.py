"""When a citizen's WeChat text is answered from the knowledge base at once, and what is sent (pure).

The search's scores are not comparable between databases (bm25 on SQLite, ts_rank on PostgreSQL)
nor between bases of different sizes, so the confidence is the top hit's lead over the second:
``1 - second / first`` (1.0 when only one entry matched). On top of that the entry's own question
or keywords must share a word with the text: a lead won on single characters alone is no answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from knowledge.core.query import Hit
from knowledge.core.sanitize import plain_text

# What a citizen writes to reach a person (after punctuation and spaces are dropped).
HANDOVER_WORDS = frozenset({"转人工", "人工", "人工客服", "转人工客服", "人工服务"})
HANDOVER_LINE = "回复「转人工」联系人工客服"
WECHAT_TEXT_BYTES = 2048  # WeChat's customer-service text: at most 2,048 bytes of UTF-8
_NOT_WORD = re.compile(r"[\W_]+")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\s*\n\s*")
_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|li|ul|ol)>", re.IGNORECASE)


def asks_for_person(text: str) -> bool:
    return _NOT_WORD.sub("", text) in HANDOVER_WORDS


def confidence(hits: Sequence[Hit]) -> float:
    """The top hit's lead over the second, 0 to 1; 0 without hits."""
    if not hits or hits[0].score <= 0:
        return 0.0
    if len(hits) == 1:
        return 1.0
    return max(0.0, 1.0 - hits[1].score / hits[0].score)


def shares_a_word(
    text_tokens: Iterable[str], entry_tokens: Iterable[str], synonyms: Mapping[str, tuple[str, ...]]
) -> bool:
    """A word (two characters or more, or a synonym of one) of the text among the entry's."""
    have = {t for t in entry_tokens if len(t) > 1}
    return any(len(token) > 1 and not have.isdisjoint({token, *synonyms.get(token, ())}) for token in text_tokens)


def cut_utf8(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: max(0, limit - 3)].decode(errors="ignore").rstrip() + "…"


def reply_text(question: str, answer_html: str, limit: int = WECHAT_TEXT_BYTES) -> str:
    """``【question】`` and the text of the (sanitised) answer, paragraphs and list items on lines
    of their own, cut so that the hand-over line always fits."""
    plain = plain_text(_BLOCK_END.sub("\n", answer_html))
    body = _LINES.sub("\n", _SPACE.sub(" ", plain)).strip()
    tail = "\n\n" + HANDOVER_LINE
    room = limit - len(tail.encode())
    return cut_utf8(f"【{question.strip()}】\n{body}", room) + tail
