"""Line numbers for TOML keys: tomllib gives none, so they are found in the source text."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")
_INLINE_KEY = re.compile(r"""(?:[{,]\s*)("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")
_PART = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*""")


def _split(dotted: str) -> tuple[str, ...]:
    parts: list[str] = []
    for m in _PART.finditer(dotted):
        token = m.group(1)
        if token[:1] in "\"'":
            token = token[1:-1]
        parts.append(token)
    return tuple(parts)


class LineIndex:
    """Maps key paths (``("nodes", "menu", "choices", "1")``) to 1-based source lines."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_multiline = False
        for number, raw in enumerate(text.splitlines(), start=1):
            # skip the inside of multi-line strings so their text is not read as keys
            if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
                was = in_multiline
                in_multiline = not in_multiline
                if was:
                    continue
            elif in_multiline:
                continue
            header = _HEADER.match(raw)
            if header and not raw.lstrip().startswith("[["):
                table = _split(header.group(1))
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(raw)
            if key:
                path = table + _split(key.group(1))
                self._lines.setdefault(path, number)
                rest = raw[key.end() :]
                if "{" in rest:
                    for inner in _INLINE_KEY.finditer(rest):
                        self._lines.setdefault(path + _split(inner.group(1)), number)

    def line(self, *path: str) -> int:
        """The line of the key, else of the nearest enclosing key or table, else 1."""
        p = tuple(path)
        while p:
            if p in self._lines:
                return self._lines[p]
            p = p[:-1]
        return 1
