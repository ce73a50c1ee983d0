"""Rules that draft 提醒函 from work-order facts. A rule is any object with a ``name`` and
``drafts(orders, now)``; reports/ adds its own (a category spike) through ``supervision.api``.

A draft's ``key`` names what it is about (``overdue:123``): a letter is written once per key, so a
rule run again tomorrow does not write the same letter twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from supervision.core.model import OrderFacts
from workorders.core.model import State as OrderState

# The states in which the unit owes the reply (an order replied or closed is not overdue).
OWING = frozenset(
    {
        OrderState.DISPATCHED,
        OrderState.RETURN_REQUESTED,
        OrderState.HANDLING,
        OrderState.EXTENSION_REQUESTED,
        OrderState.LEADER_REVIEW,  # the reply waits for the unit's own leader: still owed by the unit
    }
)


@dataclass(frozen=True)
class Draft:
    key: str  # unique per matter: the same key never makes a second letter
    rule: str
    unit: str
    facts: str
    request: str
    order_ids: tuple[int, ...] = ()


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    def drafts(self, orders: Sequence[OrderFacts], now: dt.datetime) -> list[Draft]: ...


@dataclass(frozen=True)
class Overdue:
    """Open orders past their reply time with no accepted reply."""

    name: str = "overdue"

    def drafts(self, orders: Sequence[OrderFacts], now: dt.datetime) -> list[Draft]:
        out = []
        for o in orders:
            if o.unit and o.reply_by is not None and o.reply_by < now and not o.replied and o.state in OWING:
                out.append(
                    Draft(
                        f"overdue:{o.id}",
                        self.name,
                        o.unit,
                        f"你单位承办的第{o.id}号工单（{o.title}）已超过答复时限，至今未答复。",
                        "请立即办理并答复。",
                        (o.id,),
                    )
                )
        return out


@dataclass(frozen=True)
class Returned:
    """Orders a unit returned (退回) ``times`` or more times."""

    times: int = 2
    name: str = "returned"

    def drafts(self, orders: Sequence[OrderFacts], now: dt.datetime) -> list[Draft]:
        return [
            Draft(
                f"returned:{o.id}:{o.returns}",
                self.name,
                o.unit,
                f"第{o.id}号工单（{o.title}）已被退回{o.returns}次。",
                "请按派单目录和职责认真签收办理，不得推诿。",
                (o.id,),
            )
            for o in orders
            if o.unit and o.returns >= self.times
        ]


@dataclass(frozen=True)
class LowSatisfaction:
    """Units with ``at_least`` or more callbacks answered 不满意 among the orders given."""

    at_least: int = 3
    name: str = "low_satisfaction"
    unsatisfied: frozenset[str] = field(default_factory=lambda: frozenset({"unsatisfied"}))

    def drafts(self, orders: Sequence[OrderFacts], now: dt.datetime) -> list[Draft]:
        by_unit: dict[str, list[int]] = {}
        for o in orders:
            if o.unit and o.satisfaction in self.unsatisfied:
                by_unit.setdefault(o.unit, []).append(o.id)
        day = now.date().isoformat()
        return [
            Draft(
                f"low_satisfaction:{unit}:{day}",
                self.name,
                unit,
                f"你单位办理的{len(ids)}件工单回访不满意（工单号：{'、'.join(map(str, sorted(ids)))}）。",
                "请逐件分析原因，重新联系群众，切实解决诉求。",
                tuple(sorted(ids)),
            )
            for unit, ids in sorted(by_unit.items())
            if len(ids) >= self.at_least
        ]
