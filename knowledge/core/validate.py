"""Entry fields checked at the edge (HTTP bodies, import lines): a :class:`Content` or an
:class:`InvalidEntry` naming the field. The same rules for every way in."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from knowledge.core.model import Attachment, Content
from knowledge.core.sanitize import safe_url, sanitize_html

# The owning unit: its code in the dispatch directory (what a unit account's ``unit`` holds, so
# its users may edit it) or, from another system's export, its name (市医疗保障局: only admins edit).
UNIT = re.compile(r"^[^\s/\\<>\x00-\x1f\x7f]{1,32}$")
ENTRY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
CITY = "city"
LIMITS = {"question": 500, "answer": 20000, "category": 120, "scope": 60, "officer": 64, "policy_ref": 300}
MAX_KEYWORDS, MAX_KEYWORD_CHARS, MAX_ATTACHMENTS = 30, 40, 20


class InvalidEntry(ValueError):
    """Bad entry input; ``field`` names the field, the message says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def check_id(value: Any) -> str:
    if not isinstance(value, str) or not ENTRY_ID.match(value):
        raise InvalidEntry("id", "须为 1-64 位字母、数字或 _ . : -，以字母或数字开头")
    return value


def _text(data: Mapping[str, Any], name: str, required: bool = False, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise InvalidEntry(name, "须为字符串")
    value = value.strip()
    if required and not value:
        raise InvalidEntry(name, "不能为空")
    if len(value) > LIMITS[name]:
        raise InvalidEntry(name, f"不得超过 {LIMITS[name]} 字")
    return value


def _date(data: Mapping[str, Any], name: str) -> dt.date | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise InvalidEntry(name, "须为日期 YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidEntry(name, f"{value!r} 不是日期 YYYY-MM-DD") from None


def _category(data: Mapping[str, Any]) -> str:
    raw = _text(data, "category", required=True)
    parts = [p.strip() for p in raw.split("/")]
    if any(not p for p in parts):
        raise InvalidEntry("category", "路径如 社会保障/医疗保险，各级不能为空")
    return "/".join(parts)


def _keywords(data: Mapping[str, Any]) -> tuple[str, ...]:
    value = data.get("keywords") or []
    if isinstance(value, str):
        value = [k for k in re.split(r"[,，;；\s]+", value) if k]
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise InvalidEntry("keywords", "须为字符串列表")
    words = tuple(dict.fromkeys(k.strip() for k in value if k.strip()))
    if len(words) > MAX_KEYWORDS or any(len(k) > MAX_KEYWORD_CHARS for k in words):
        raise InvalidEntry("keywords", f"至多 {MAX_KEYWORDS} 个，每个不超过 {MAX_KEYWORD_CHARS} 字")
    return words


def _attachments(data: Mapping[str, Any]) -> tuple[Attachment, ...]:
    value = data.get("attachments") or []
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise InvalidEntry("attachments", f"须为至多 {MAX_ATTACHMENTS} 项的列表")
    out = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise InvalidEntry("attachments", f"第 {i} 项须有 name 与 url")
        url = safe_url(str(item.get("url") or ""))
        if url is None:
            raise InvalidEntry("attachments", f"第 {i} 项的 url 须为 http(s) 地址")
        out.append(Attachment(item["name"].strip()[:200], url[:1000]))
    return tuple(out)


def content_from(data: Mapping[str, Any], base: Content | None = None) -> Content:
    """Check ``data`` (fields missing from it are taken from ``base``, when editing)."""
    merged: dict[str, Any] = dict(base.as_dict()) if base is not None else {}
    merged.update({k: v for k, v in data.items() if k in Content.__dataclass_fields__})
    unit = merged.get("unit")
    if not isinstance(unit, str) or not UNIT.match(unit.strip()):
        raise InvalidEntry("unit", "须为成员单位编码或名称（1-32 字，不含空白与 / < >）")
    unit = unit.strip()
    answer = merged.get("answer")
    if not isinstance(answer, str) or len(answer) > LIMITS["answer"] * 2:
        raise InvalidEntry("answer", f"须为不超过 {LIMITS['answer']} 字的文本")
    safe = sanitize_html(answer)
    if not safe.strip():
        raise InvalidEntry("answer", "不能为空")
    if len(safe) > LIMITS["answer"]:
        raise InvalidEntry("answer", f"不得超过 {LIMITS['answer']} 字")
    content = Content(
        question=_text(merged, "question", required=True),
        answer=safe,
        category=_category(merged),
        scope=_text(merged, "scope", default=CITY) or CITY,
        unit=unit,
        officer=_text(merged, "officer"),
        policy_ref=_text(merged, "policy_ref"),
        valid_from=_date(merged, "valid_from"),
        valid_to=_date(merged, "valid_to"),
        effective_date=_date(merged, "effective_date"),
        keywords=_keywords(merged),
        attachments=_attachments(merged),
    )
    if content.valid_from and content.valid_to and content.valid_to < content.valid_from:
        raise InvalidEntry("valid_to", f"有效期止 {content.valid_to} 早于起 {content.valid_from}")
    return content
