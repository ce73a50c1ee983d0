"""The 督办 closure measure (DOMAIN.md): supervisions closed by their deadline ÷ supervisions due in
the period. Every figure carries the options it was computed with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from supervision.core.model import Result, State, Supervision


@dataclass(frozen=True)
class ClosureOptions:
    # Count only closures with the result 办结; by default a supervision closed 未办结 (with its
    # reason) by its deadline is closed too: the measure is about closing the loop in time.
    resolved_only: bool = False
    # A supervision is due in the period when its deadline falls in [start, end) and is not after
    # ``as_of``: one whose deadline is still ahead has not fallen due.
    unit: str | None = None


@dataclass(frozen=True)
class Closure:
    numerator: int
    denominator: int
    options: ClosureOptions
    as_of: dt.datetime
    late_ids: tuple[int, ...]  # due in the period, not closed by the deadline

    @property
    def percent(self) -> float | None:
        return None if self.denominator == 0 else round(100.0 * self.numerator / self.denominator, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "percent": self.percent,
            "options": asdict(self.options),
            "as_of": self.as_of.isoformat(),
            "late_ids": list(self.late_ids),
            "formula": "按期销号的督办件 ÷ 期内到期的督办件（撤销的不计）",
        }


def closure(
    sups: Iterable[Supervision], start: dt.datetime, end: dt.datetime, as_of: dt.datetime, options: ClosureOptions
) -> Closure:
    due = 0
    on_time = 0
    late: list[int] = []
    for s in sups:
        if s.state is State.CANCELLED or not start <= s.deadline < end or s.deadline > as_of:
            continue
        if options.unit is not None and s.unit != options.unit:
            continue
        due += 1
        closed = s.state is State.CLOSED and s.closed_at is not None and s.closed_at <= s.deadline
        if closed and options.resolved_only and s.result is not Result.RESOLVED:
            closed = False
        if closed:
            on_time += 1
        else:
            late.append(s.id)
    return Closure(on_time, due, options, as_of, tuple(sorted(late)))
