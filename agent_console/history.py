"""What the seat sees about a contact: caller, queue, wait, IVR path, earlier contacts and open orders.

Read-only queries; open work orders come from the work-order feature (``ctx.deps.workorders``)
when it is installed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.models import ConsoleActivity
from hotline.storage import Interaction

logger = logging.getLogger(__name__)


class OpenOrders(Protocol):
    """The work-order feature's answer to "which orders of this number are still open"."""

    async def open_orders_of(self, phone: str, limit: int) -> list[dict[str, Any]]: ...


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


async def interaction_data(sessions: async_sessionmaker[AsyncSession], contact_id: str) -> dict[str, Any]:
    async with sessions() as s:
        row = (await s.execute(select(Interaction).where(Interaction.contact_id == contact_id))).scalar_one_or_none()
    if row is None:
        return {}
    return {"caller": row.caller, "channel": row.channel, "arrived_at": _iso(row.arrived_at), **(row.data or {})}


async def caller_history(
    sessions: async_sessionmaker[AsyncSession], caller: str, exclude: str, limit: int, orders: OpenOrders | None
) -> dict[str, Any]:
    """Earlier contacts of the number (with how seats closed them) and its open work orders."""
    if not caller:
        return {"contacts": [], "orders": []}
    async with sessions() as s:
        rows = (
            await s.execute(
                select(Interaction)
                .where(Interaction.caller == caller, Interaction.contact_id != exclude)
                .order_by(Interaction.arrived_at.desc())
                .limit(limit)
            )
        ).scalars()
        contacts = [{"contact_id": r.contact_id, "channel": r.channel, "arrived_at": _iso(r.arrived_at)} for r in rows]
        ids = [c["contact_id"] for c in contacts]
        if ids:
            wraps = (
                await s.execute(
                    select(ConsoleActivity).where(ConsoleActivity.contact_id.in_(ids), ConsoleActivity.kind == "wrapup")
                )
            ).scalars()
            by_contact = {w.contact_id: w for w in wraps}
            for c in contacts:
                w = by_contact.get(str(c["contact_id"]))
                c["disposition"] = w.disposition if w else ""
                c["notes"] = w.notes[:200] if w else ""
                c["seat"] = w.seat_id if w else ""
    return {"contacts": contacts, "orders": await orders.open_orders_of(caller, limit) if orders is not None else []}
