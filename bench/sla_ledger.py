"""Where every contact of ``bench sla``'s day went: answered, abandoned or still waiting, once each.

The benchmark records what it saw happen to each contact (an answer, an abandon) and, at the end,
the contacts the ACD still holds waiting or ringing. Per channel, every arrival must have exactly
one of these outcomes, and the ACD's own statistics (what the KPIs are computed from) must count
the same: otherwise contacts were lost or doubled, and ``account`` says which, and where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

NEEDS: Final = ("general", "specialist", "language")
SHOWN: Final = 5  # contacts named per problem


class Arrival(Protocol):
    @property
    def t(self) -> float: ...
    @property
    def cid(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def need(self) -> str: ...


class Outcome:
    """What became of each contact of one run, as the benchmark saw it, and the ACD's counts."""

    def __init__(self) -> None:
        self.answered: dict[str, float] = {}  # contact -> wait until the seat answered
        self.abandoned: set[str] = set()
        self.again: list[str] = []  # answered or abandoned a second time
        self.waiting: set[str] = set()  # held by the ACD, waiting or ringing, when the day ended
        self.engine: dict[str, Mapping[str, Any]] = {}  # the ACD's statistics per channel

    def answer(self, contact: str, wait: float) -> None:
        if contact in self.answered or contact in self.abandoned:
            self.again.append(contact)
        else:
            self.answered[contact] = wait

    def abandon(self, contact: str) -> None:
        if contact in self.answered or contact in self.abandoned:
            self.again.append(contact)
        else:
            self.abandoned.add(contact)

    def finish(self, held: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> None:
        """``held``: the ACD's contacts at the end (objects with ``state``); ``rows``: its report by channel."""
        self.waiting = {cid for cid, c in held.items() if c.state in ("waiting", "offered", "callback")}
        self.engine = {str(row["channel"]): row for row in rows}

    def sl15_by_need(self, arrivals: Sequence[Arrival], within: float) -> dict[str, float | None]:
        """Voice calls answered within ``within`` s ÷ voice calls, per need (abandons count as misses)."""
        asked = dict.fromkeys(NEEDS, 0)
        met = dict.fromkeys(NEEDS, 0)
        for a in arrivals:
            if a.channel == "voice":
                asked[a.need] += 1
                met[a.need] += a.cid in self.answered and self.answered[a.cid] <= within
        return {need: round(met[need] / asked[need], 4) if asked[need] else None for need in NEEDS}


def _named(contacts: list[str], arrived: Mapping[str, float]) -> str:
    shown = ", ".join(f"{cid} at {_clock(arrived[cid])}" for cid in contacts[:SHOWN])
    return shown + (f" and {len(contacts) - SHOWN} more" if len(contacts) > SHOWN else "")


def _clock(t: float) -> str:
    s = int(t)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def account(run: str, arrivals: Sequence[Arrival], outcome: Outcome) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Per channel: arrived, answered, abandoned, waiting at the end, lost, doubled; and the problems."""
    out: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    arrived = {a.cid: a.t for a in arrivals}
    for channel in sorted({a.channel for a in arrivals}):
        ids = [a.cid for a in arrivals if a.channel == channel]
        answered = [c for c in ids if c in outcome.answered]
        abandoned = [c for c in ids if c in outcome.abandoned]
        waiting = [c for c in ids if c in outcome.waiting]
        outcomes = [(c in outcome.answered) + (c in outcome.abandoned) + (c in outcome.waiting) for c in ids]
        lost = [c for c, n in zip(ids, outcomes, strict=True) if n == 0]
        again = set(outcome.again)
        doubled = [c for c, n in zip(ids, outcomes, strict=True) if n > 1 or c in again]
        out[channel] = {"arrived": len(ids), "answered": len(answered), "abandoned": len(abandoned),
                        "waiting_at_end": len(waiting), "lost": len(lost), "doubled": len(doubled)}  # fmt: skip
        if lost:
            problems.append(f"{run} {channel}: {len(lost)} of {len(ids)} lost ({_named(lost, arrived)})")
        if doubled:
            problems.append(f"{run} {channel}: {len(doubled)} counted twice ({_named(doubled, arrived)})")
        engine = outcome.engine.get(channel, {})
        for field, seen in (("offered", len(ids)), ("answered", len(answered)), ("abandoned", len(abandoned))):
            counted = int(engine.get(field, 0))
            if counted != seen:
                problems.append(f"{run} {channel}: the ACD's statistics count {counted} {field}, the day had {seen}")
    return out, problems
