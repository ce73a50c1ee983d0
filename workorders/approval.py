"""Whether a supervision (督办) is open on a work order, asked of the supervision feature through
``ctx.deps.supervision`` (set by its plugin; ``None`` while it is absent): a reply of a supervised
order waits for the unit's leader (workorders/core/approval.py).

Supervision's public face (``supervision/api.py``) has no query for it yet, so this reads its
ledger as the order's lead unit sees it: the open supervisions of that unit, each with its orders.
A supervision opened on another unit (a matter whose orders have several lead units, named by the
supervisor) is not found here; the order's own 督办 flag (the ``supervise`` action) still is."""

from __future__ import annotations

from hotline.context import Deps
from supervision.core.model import Actor as SupervisionActor


async def open_supervision(deps: Deps, order_id: int, unit: str | None) -> bool:
    service = deps.supervision
    if service is None or not unit:
        return False
    rows = await service.ledger(SupervisionActor("workorders", "unit", unit))
    return any(order_id in row.supervision.order_ids for row in rows)
