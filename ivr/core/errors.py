"""Flow file problems, each with the file and line it belongs to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


class FlowError(Exception):
    """A flow file that must not go into service; ``issues`` are sorted by line."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.source, i.line, i.reason))
        super().__init__("\n".join(str(i) for i in self.issues))


class IllegalEvent(Exception):
    """An event that the session's current state does not accept (an adapter bug)."""
