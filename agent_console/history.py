"""What the seat sees about a contact: caller, queue, wait, IVR path, earlier contacts and open orders.

Read-only queries; work-order tables belong to the workorders feature and are read only when it
is installed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_console.models import ConsoleActivity
from hotline.storage import Interaction

logger = logging.getLogger(__name__)

# Work-order states after which an order is no longer open for the citizen.
FINISHED_ORDER_STATES = frozenset({"answered", "transferred", "not_accepted", "closed", "archived", "merged"})


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


async def interaction_data(sessions: async_sessionmaker[AsyncSession], contact_id: str) -> dict[str, Any]:
    async with sessions() as s:
        row = (await s.execute(select(Interaction).where(Interaction.contact_id == contact_id))).scalar_one_or_none()
    if row is None:
        return {}
    return {"caller": row.caller, "channel": row.channel, "arrived_at": _iso(row.arrived_at), **(row.data or {})}


async def caller_history(
    sessions: async_sessionmaker[AsyncSession], caller: str, exclude: str, limit: int
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
        orders = await _open_orders(s, caller, limit)
    return {"contacts": contacts, "orders": orders}


async def _open_orders(s: AsyncSession, caller: str, limit: int) -> list[dict[str, Any]]:
    try:
        from workorders.core.model import STATE_LABELS, State
        from workorders.models import WoOrder
    except ImportError:  # the work-order feature is not installed
        return []
    rows = (
        await s.execute(
            select(WoOrder)
            .where(WoOrder.citizen_phone == caller, WoOrder.state.not_in(FINISHED_ORDER_STATES))
            .order_by(WoOrder.created_at.desc())
            .limit(limit)
        )
    ).scalars()
    out = []
    for r in rows:
        try:
            label = STATE_LABELS[State(r.state)]
        except (ValueError, KeyError):
            label = r.state
        out.append(
            {"id": r.id, "title": r.title, "state": r.state, "state_label": label, "created_at": _iso(r.created_at)}
        )
    return out
