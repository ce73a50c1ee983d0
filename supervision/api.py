"""Supervision's public face for the other features: what they may ask of it, and the
reminder-letter rule interface.

The work orders hold the supervision service as ``ctx.deps.supervision`` (``None`` while the
feature is absent) and ask it only what ``Supervisions`` names: whether a supervision is open on
an order, answered by one query.

reports/ adds a rule (a category spike) with ``add_rule``: any object with a ``name`` and
``drafts(orders, now) -> list[Draft]`` (``supervision.core.rules.Rule``). A rule that does not work
from the orders ignores them and drafts from what it was given (the spikes it found). Each draft's
``key`` names its matter: a key already used never makes a second letter."""

from __future__ import annotations

from typing import Protocol

from supervision.core.model import OrderFacts
from supervision.core.rules import Draft, Rule


class Supervisions(Protocol):
    async def open_on(self, order_id: int) -> bool:
        """Whether a supervision that is neither closed nor cancelled names the order (whichever
        unit it was opened on)."""
        ...


EXTRA_RULES: dict[str, Rule] = {}


def add_rule(rule: Rule) -> None:
    """Offer ``rule`` to every rule run by its name (a later rule of the same name replaces it)."""
    EXTRA_RULES[rule.name] = rule


__all__ = ["EXTRA_RULES", "Draft", "OrderFacts", "Rule", "Supervisions", "add_rule"]
