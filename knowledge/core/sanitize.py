"""Answers are rich text from many units' editors, shown to seats and citizens: only a small safe
subset of HTML survives. Everything else is dropped (its text kept, escaped), and the content of
``script``/``style`` is dropped with it."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

ALLOWED = frozenset({"p", "br", "b", "strong", "i", "em", "ul", "ol", "li", "a"})
VOID = frozenset({"br"})
# Elements whose text is code or markup, never content.
DROP_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "math"})
# Browsers ignore tabs, newlines and control characters inside a scheme (``java\tscript:``).
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def safe_url(value: str | None) -> str | None:
    """An http(s) address or None: javascript:, data:, relative and protocol-relative are refused."""
    if not value:
        return None
    url = _INVISIBLE.sub("", html.unescape(value))
    return url if _SAFE_URL.match(url) else None


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0  # depth inside script/style

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_WITH_CONTENT:
            self.dropping += 1
            return
        if self.dropping or tag not in ALLOWED:
            return
        if tag == "a":
            href = safe_url(dict(attrs).get("href"))
            if href is None:
                self.out.append("<a>")
            else:
                self.out.append(f'<a href="{html.escape(href, quote=True)}" rel="noopener noreferrer nofollow">')
        else:
            self.out.append(f"<{tag}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_WITH_CONTENT:
            return
        self.handle_starttag(tag, attrs)
        if tag in self.open and tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_WITH_CONTENT:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping or tag not in self.open:
            return
        # Close whatever was left open inside it, so the output stays well nested.
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    def close_all(self) -> str:
        self.close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out).strip()


def sanitize_html(text: str) -> str:
    cleaner = _Cleaner()
    cleaner.feed(text)
    return cleaner.close_all()


_TAG = re.compile(r"<[^>]*>")


def plain_text(safe_html: str) -> str:
    """The text of sanitised HTML (for the index and for channels without markup)."""
    return html.unescape(_TAG.sub(" ", safe_html))
