"""Pure parts of the knowledge suggestions: what to search for, when, and an answer as plain text.

No clock reads and no I/O: the adapter (``agent_console.kb``) passes ``now`` in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Final

# Tags after which a new line starts when an answer becomes plain text.
_BREAKS: Final = frozenset({"br", "p", "li", "div", "ul", "ol", "tr", "h1", "h2", "h3", "h4"})


def query_text(text: str, limit: int) -> str:
    """What a message or a form is searched as: whitespace folded, cut to ``limit`` characters."""
    return " ".join(text.split())[:limit]


@dataclass
class Pacer:
    """At most one search per key (a conversation) every ``every_s`` seconds; a message within
    that time is not lost but searched once when the time is up, as the latest text of the key.

    ``arrive`` answers ``"now"`` (search now), ``"later"`` (the caller schedules one search at
    :meth:`due`), or ``"merged"`` (a later search is already scheduled; it will take the newer
    text). Keys past ``every_s`` with nothing waiting are forgotten, so memory follows the live
    conversations only."""

    every_s: float
    last: dict[str, float] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)

    def arrive(self, key: str, now: float) -> str:
        if key in self.waiting:
            return "merged"
        if now - self.last.get(key, float("-inf")) >= self.every_s:
            self.last[key] = now
            self._forget(now)
            return "now"
        self.waiting.add(key)
        return "later"

    def due(self, key: str) -> float:
        """When the waiting search of ``key`` may run."""
        return self.last.get(key, 0.0) + self.every_s

    def run_waiting(self, key: str, now: float) -> None:
        """The waiting search of ``key`` runs now."""
        self.waiting.discard(key)
        self.last[key] = now

    def _forget(self, now: float) -> None:
        if len(self.last) > 256:
            for key in [k for k, at in self.last.items() if now - at >= self.every_s and k not in self.waiting]:
                del self.last[key]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        self.out.append(data)


def plain(html: str) -> str:
    """An answer (sanitised HTML) as the text a seat sends: tags gone, entities decoded, one line
    per paragraph or list item."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).split("\n")]
    return "\n".join(line for line in lines if line)
