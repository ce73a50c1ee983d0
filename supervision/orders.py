"""The port through which supervision reads work orders, and its adapter on the work orders'
service (``ctx.deps.workorders``). Tests pass a fake port in."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Protocol

from supervision.core.model import OrderFacts
from workorders.core.calendar import WorkCalendar
from workorders.core.model import Actor, Role, order_from_dict

logger = logging.getLogger(__name__)
RULE_ORDERS_LIMIT = 5000  # the newest orders a rule run looks at


class Orders(Protocol):
    def calendar(self) -> WorkCalendar: ...

    async def order(self, order_id: int) -> OrderFacts | None: ...

    async def recent(self) -> list[OrderFacts]: ...

    async def unit_names(self) -> dict[str, str]: ...


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive times (stored as UTC); the rules compare them with aware ones.
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def facts_of(row: Any) -> OrderFacts:
    """A work-order row (its columns and its core's JSON) as the facts supervision needs."""
    order = order_from_dict(row.core) if row.core else None
    returns = sum(1 for a in order.assignments if a.returned) if order else 0
    current = order.current if order else None
    sat = order.callback.satisfaction if order and order.callback else None
    return OrderFacts(
        id=row.id,
        title=row.title,
        unit=row.lead_unit,
        state=row.state,
        reply_by=_utc(row.reply_by),
        replied=bool(current and current.replied_at),
        returns=returns,
        satisfaction=sat.value if sat else None,
        category=row.category,
    )


class WorkOrderPort:
    """Reads through the work orders' service, looked up when needed (it may be installed later)."""

    def __init__(self, service: Callable[[], Any]) -> None:
        self._service = service

    def calendar(self) -> WorkCalendar:
        svc = self._service()
        return svc.cal() if svc is not None else WorkCalendar()

    async def order(self, order_id: int) -> OrderFacts | None:
        svc = self._service()
        if svc is None:
            return None
        try:
            return facts_of(await svc.get(order_id))
        except LookupError:  # the work orders' NotFound
            return None

    async def recent(self) -> list[OrderFacts]:
        svc = self._service()
        if svc is None:
            return []
        rows = await svc.list_orders(Actor("supervision", Role.ADMIN), limit=RULE_ORDERS_LIMIT)
        return [facts_of(r) for r in rows]

    async def unit_names(self) -> dict[str, str]:
        svc = self._service()
        if svc is None:
            return {}
        return {code: u.name for code, u in (await svc.directory()).items()}


class NoOrders:
    """No work orders (a command on the database alone): an empty calendar in China's time."""

    def calendar(self) -> WorkCalendar:
        return WorkCalendar()

    async def order(self, order_id: int) -> OrderFacts | None:
        return None

    async def recent(self) -> list[OrderFacts]:
        return []

    async def unit_names(self) -> dict[str, str]:
        return {}
