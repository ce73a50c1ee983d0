"""Which replies a unit's leader must sign before they reach the platform (答复须经分管领导审核).

A reply waits in 待领导审核 when the order is supervised (督办件), is of an urgency the settings
name as major (特殊 and 特殊紧急 by default), or its lead unit asks it of all its replies. The
adapter gathers the facts (the settings, whether a supervision is open on the order); this only
says whether approval is needed and why, so the reasons can be shown and tested without I/O.
"""

from __future__ import annotations

from collections.abc import Collection

from workorders.core.model import Order

# Why a reply needs the leader: shown on the page and kept in the order's history.
REASON_LABELS = {"supervised": "督办件", "major": "重大/特殊件", "unit": "本单位要求领导审核"}


def approval_reasons(
    order: Order, *, supervised: bool, major_urgencies: Collection[str], units: Collection[str]
) -> tuple[str, ...]:
    """The reasons (keys of :data:`REASON_LABELS`) this order's reply needs its leader; empty:
    none. ``supervised``: a supervision (督办) is open on the order; the order's own 督办 overlay
    (the ``supervise`` action) counts too."""
    out = []
    if supervised or order.supervision:
        out.append("supervised")
    if order.urgency.value in major_urgencies:
        out.append("major")
    if order.lead_unit is not None and order.lead_unit in units:
        out.append("unit")
    return tuple(out)


def reason_text(reasons: Collection[str]) -> str:
    return "、".join(REASON_LABELS.get(r, r) for r in reasons)
