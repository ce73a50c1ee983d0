"""Screen a WeChat XML body before any XML parser sees it.

WeChat sends small flat documents (``<xml><ToUserName><![CDATA[..]]></ToUserName>...</xml>``).
Anything else is refused here, so expat never meets a DOCTYPE, an entity declaration,
a processing instruction, a foreign encoding or a deep tree: those are how XML bombs
and external-entity reads get in. The scan is linear in the input and allocates little.
"""

from __future__ import annotations

import re
from typing import Literal

RejectKind = Literal["oversized", "hostile", "malformed"]

MAX_DEPTH = 8
MAX_ELEMENTS = 512
_DECL = re.compile(r"<\?xml(\s+[^?]*)?\?>")
_ENCODING = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_REF = re.compile(r"&(#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6}|lt|gt|amp|quot|apos);")
_PREDEFINED = frozenset({"lt", "gt", "amp", "quot", "apos"})


class XmlRejected(Exception):
    """The body was refused; ``kind`` picks the HTTP answer, ``reason`` goes to the log."""

    def __init__(self, kind: RejectKind, reason: str) -> None:
        super().__init__(kind, reason)
        self.kind: RejectKind = kind
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


def screen_xml(raw: bytes, max_bytes: int) -> str:
    """Return the body as text when it is a plain small XML document; raise XmlRejected otherwise."""
    if len(raw) > max_bytes:
        raise XmlRejected("oversized", f"{len(raw)} bytes > {max_bytes}")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # A UTF-16 body would hide "<!DOCTYPE" from a byte scan, so only UTF-8 is let through.
        raise XmlRejected("malformed", "body is not UTF-8") from None
    pos = _skip_space(text, 0)
    if text.startswith("<?xml", pos):
        decl = _DECL.match(text, pos)
        if decl is None:
            raise XmlRejected("malformed", "broken XML declaration")
        enc = _ENCODING.search(decl.group(0))
        if enc and enc.group(1).lower() not in ("utf-8", "utf8"):
            raise XmlRejected("hostile", f"encoding {enc.group(1)} declared")
        pos = decl.end()
    _scan(text, pos)
    return text


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _scan(text: str, pos: int) -> None:
    stack: list[str] = []
    elements = 0
    root_done = False
    n = len(text)
    while pos < n:
        lt = text.find("<", pos)
        chunk = text[pos : n if lt < 0 else lt]
        _check_text(chunk, in_element=bool(stack))
        if lt < 0:
            break
        if text.startswith("<![CDATA[", lt):
            if not stack:
                raise XmlRejected("malformed", "CDATA outside the root element")
            end = text.find("]]>", lt + 9)
            if end < 0:
                raise XmlRejected("malformed", "unterminated CDATA")
            pos = end + 3
            continue
        if text.startswith("<!", lt):
            word = text[lt + 2 : lt + 12].split(None, 1)[0] if text[lt + 2 : lt + 12].strip() else ""
            raise XmlRejected("hostile", f"markup declaration <!{word[:8]} refused")
        if text.startswith("<?", lt):
            raise XmlRejected("hostile", "processing instruction refused")
        gt = text.find(">", lt)
        if gt < 0:
            raise XmlRejected("malformed", "unterminated tag")
        tag = text[lt + 1 : gt]
        if tag.startswith("/"):
            name = tag[1:].strip()
            if not stack or stack[-1] != name:
                raise XmlRejected("malformed", f"unexpected closing tag </{name[:32]}>")
            stack.pop()
            if not stack:
                root_done = True
        else:
            self_closing = tag.endswith("/")
            body = tag[:-1] if self_closing else tag
            match = _NAME.match(body)
            if match is None:
                raise XmlRejected("malformed", "bad element name")
            if body[match.end() :].strip():
                # WeChat never sends attributes; refusing them keeps the accepted grammar tiny.
                raise XmlRejected("malformed", "attributes are not expected")
            if root_done or (not stack and elements):
                raise XmlRejected("malformed", "more than one root element")
            elements += 1
            if elements > MAX_ELEMENTS:
                raise XmlRejected("hostile", f"more than {MAX_ELEMENTS} elements")
            if not self_closing:
                stack.append(match.group(0))
                if len(stack) > MAX_DEPTH:
                    raise XmlRejected("hostile", f"nesting deeper than {MAX_DEPTH}")
            elif not stack:
                root_done = True
        pos = gt + 1
    if stack:
        raise XmlRejected("malformed", f"element <{stack[-1][:32]}> not closed")
    if not elements:
        raise XmlRejected("malformed", "no root element")


def _check_text(chunk: str, in_element: bool) -> None:
    if not chunk:
        return
    if not in_element and chunk.strip():
        raise XmlRejected("malformed", "text outside the root element")
    amp = chunk.find("&")
    while amp >= 0:
        ref = _REF.match(chunk, amp)
        if ref is None:
            semi = chunk.find(";", amp, amp + 40)
            name = chunk[amp + 1 : semi] if semi > 0 else chunk[amp + 1 : amp + 12]
            if _NAME.fullmatch(name) and name not in _PREDEFINED:
                raise XmlRejected("hostile", f"entity reference &{name[:16]}; refused")
            raise XmlRejected("malformed", "bare '&' in text")
        amp = chunk.find("&", ref.end())
