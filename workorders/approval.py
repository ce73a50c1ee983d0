"""Whether a supervision (督办) is open on a work order, asked of the supervision feature through
``ctx.deps.supervision`` (set by its plugin; ``None`` while it is absent, and then none is): a
reply of a supervised order waits for the unit's leader (workorders/core/approval.py).

The work orders ask only what supervision's public face names (``supervision.api.Supervisions``):
``open_on(order_id)``, one query. A supervision counts whichever unit it was opened on (a matter
whose orders have several lead units, named by the supervisor); the order's own 督办 flag (the
``supervise`` action) is the core's to read."""

from __future__ import annotations

from hotline.context import Deps
from supervision.api import Supervisions


async def open_supervision(deps: Deps, order_id: int, unit: str | None = None) -> bool:
    """``unit`` (the order's lead unit) is what the work orders' hook passes; the answer no
    longer depends on it."""
    supervisions: Supervisions | None = deps.supervision
    if supervisions is None:
        return False
    return await supervisions.open_on(order_id)
