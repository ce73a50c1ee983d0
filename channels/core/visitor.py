"""Web-chat visitors: who they are and what they may send, with no I/O.

A visitor is known by a random id carried in a signed token (cookie ``hotline_visitor`` or the
socket's ``auth.visitor``); the signature stops one browser from claiming another's id. A phone
number, when the visitor gives one, is what the console and the work order show as the caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

VISITOR_ID = re.compile(r"^v[0-9a-f]{20}$")
# Mainland mobile (11 digits, 1[3-9]) or a landline with its area code (0 + 9-11 digits).
PHONE = re.compile(r"^(?:1[3-9][0-9]{9}|0[0-9]{9,11})$")
MAX_COMMENT = 200
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")


class VisitorInputError(ValueError):
    """Input a visitor sent that cannot be taken; the text is shown to the visitor (Chinese)."""


def new_visitor_id() -> str:
    return "v" + secrets.token_hex(10)


def _sig(secret: str, visitor_id: str) -> str:
    mac = hmac.new(secret.encode(), b"visitor:" + visitor_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def sign_visitor(secret: str, visitor_id: str) -> str:
    if not VISITOR_ID.match(visitor_id):
        raise ValueError("not a visitor id")
    return f"{visitor_id}.{_sig(secret, visitor_id)}"


def read_visitor(secret: str, token: object) -> str | None:
    """The visitor id inside a token, or None when it is missing, malformed or not ours."""
    if not isinstance(token, str) or len(token) > 80 or "." not in token:
        return None
    visitor_id, _, sig = token.partition(".")
    if not VISITOR_ID.match(visitor_id):
        return None
    return visitor_id if hmac.compare_digest(sig, _sig(secret, visitor_id)) else None


def visitor_from_cookie(header: str, name: str = "hotline_visitor") -> str | None:
    """The raw token of the cookie ``name`` in a Cookie header (no signature check here)."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def clean_phone(value: object) -> str:
    """'' for no phone; a normalized number; VisitorInputError for anything else."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise VisitorInputError("电话号码格式不正确")
    phone = re.sub(r"[\s-]", "", value)  # 139-1234-5678, 0513 8765 4321
    if not PHONE.match(phone):
        raise VisitorInputError("电话号码格式不正确（手机11位，或区号加座机号）")
    return phone


def clean_text(value: object, max_chars: int) -> str:
    if not isinstance(value, str):
        raise VisitorInputError("消息内容必须是文字")
    text = value.strip()
    if not text:
        raise VisitorInputError("消息内容不能为空")
    if len(text) > max_chars:
        raise VisitorInputError(f"消息过长（最多{max_chars}字）")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise VisitorInputError("消息含有无法显示的控制字符")
    return text


SENT_AS = re.compile(r"[A-Za-z0-9_-]{8,40}")


def clean_sent_as(value: object) -> str | None:
    """The page's own id for a message (it sends it again under the same id when an acknowledgement
    was lost): None when absent; 8 to 40 letters, digits, _ or -, else refused."""
    if value is None:
        return None
    if not isinstance(value, str) or not SENT_AS.fullmatch(value):
        raise VisitorInputError("消息编号格式不正确")
    return value


@dataclass(frozen=True)
class Image:
    content_type: str
    content: bytes
    name: str


def clean_image(data: Any, max_bytes: int, types: tuple[str, ...] = IMAGE_TYPES) -> Image:
    """A picture the visitor sends: declared type in ``types``, size within ``max_bytes``.

    The bytes themselves are checked against the declared type when the file is stored.
    """
    if not isinstance(data, dict):
        raise VisitorInputError("图片数据格式不正确")
    ctype, content, name = data.get("type"), data.get("data"), data.get("name", "")
    if not isinstance(ctype, str) or ctype not in types:
        raise VisitorInputError("只能发送 JPG、PNG 或 GIF 图片")
    if not isinstance(content, (bytes, bytearray)) or not content:
        raise VisitorInputError("图片内容为空")
    if len(content) > max_bytes:
        raise VisitorInputError(f"图片过大（最大{max_bytes // 1024 // 1024 or 1}MB）")
    if not isinstance(name, str):
        name = ""
    return Image(ctype, bytes(content), name.strip()[:100])


# The same three answers as the IVR's after-call survey (ivr.core.survey), by code.
RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


@dataclass(frozen=True)
class Rating:
    code: str  # a key of RATINGS
    comment: str

    @property
    def label(self) -> str:
        return RATINGS[self.code]


def clean_rating(data: Any) -> Rating:
    if not isinstance(data, dict):
        raise VisitorInputError("评价格式不正确")
    code, comment = data.get("rating"), data.get("comment", "")
    if not isinstance(code, str) or code not in RATINGS:
        raise VisitorInputError("请选择：满意、基本满意或不满意")
    if not isinstance(comment, str):
        raise VisitorInputError("评价内容必须是文字")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise VisitorInputError(f"评价内容过长（最多{MAX_COMMENT}字）")
    return Rating(code, comment)
