"""What became of each attack attempt, and what the engine's limits allow an address anyway.

An attempt is refused (an HTTP 4xx, a refused or cut connection, a non-ok ack), admitted within
an allowance (the first visitor ids, conversations and left messages of an hour are what a
citizen behind that address may have; the engine cannot tell them apart, and the bench counts
them against the limits in force), got through (accepted past any allowance: a loss), or was
never answered (a loss too: the engine stalled).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

EXAMPLES = 20  # loss lines kept per attack kind; the counts hold the rest


@dataclass
class Tally:
    kind: str
    attempts: int = 0
    refused: int = 0
    admitted: int = 0
    through: int = 0
    unanswered: int = 0
    errors: int = 0
    forms: collections.Counter[str] = field(default_factory=collections.Counter)
    lines: list[str] = field(default_factory=list)

    def refuse(self, form: str) -> None:
        self.attempts += 1
        self.refused += 1
        self.forms[form] += 1

    def admit(self, form: str) -> None:
        self.attempts += 1
        self.admitted += 1
        self.forms[form] += 1

    def got_through(self, detail: str) -> None:
        self.attempts += 1
        self.through += 1
        self.forms["through"] += 1
        self._line(f"attack {self.kind} got through: {detail}")

    def no_answer(self, detail: str) -> None:
        self.attempts += 1
        self.unanswered += 1
        self.forms["unanswered"] += 1
        self._line(f"attack {self.kind} never answered: {detail}")

    def error(self, detail: str) -> None:
        """The engine failed (5xx) instead of refusing."""
        self.attempts += 1
        self.errors += 1
        self.forms["engine_error"] += 1
        self._line(f"attack {self.kind} broke the engine: {detail}")

    def _line(self, text: str) -> None:
        if len(self.lines) < EXAMPLES:
            self.lines.append(text[:300])

    def result(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "refused": self.refused,
            "admitted_within_limits": self.admitted,
            "got_through": self.through,
            "unanswered": self.unanswered,
            "engine_errors": self.errors,
            "how": dict(self.forms.most_common()),
        }

    def losses(self) -> list[str]:
        more = self.through + self.unanswered + self.errors - len(self.lines)
        return [*self.lines, *([f"attack {self.kind}: {more} more like these"] if more > 0 else [])]


class Allowance:
    """What the limits in force let one address have (per hour or minute, from a cold start)."""

    def __init__(self) -> None:
        self.used: collections.Counter[tuple[str, str]] = collections.Counter()

    def take(self, address: str, what: str, limit: int) -> bool:
        """Count one accepted ``what`` of ``address``: True while within ``limit``."""
        self.used[(address, what)] += 1
        return self.used[(address, what)] <= limit


def merge(tallies: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-kind results of several attack phases, added up."""
    out: dict[str, Any] = {}
    for phase in tallies:
        for kind, res in phase.items():
            into = out.setdefault(kind, {"how": collections.Counter()})
            for key, value in res.items():
                if key == "how":
                    into["how"].update(value)
                else:
                    into[key] = into.get(key, 0) + value
    for res in out.values():
        res["how"] = dict(res["how"].most_common())
    return out
