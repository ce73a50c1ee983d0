"""Supervision's public face for the other features: the reminder-letter rule interface.

reports/ adds a rule (a category spike) with ``add_rule``: any object with a ``name`` and
``drafts(orders, now) -> list[Draft]`` (``supervision.core.rules.Rule``). A rule that does not work
from the orders ignores them and drafts from what it was given (the spikes it found). Each draft's
``key`` names its matter: a key already used never makes a second letter."""

from __future__ import annotations

from supervision.core.model import OrderFacts
from supervision.core.rules import Draft, Rule

EXTRA_RULES: dict[str, Rule] = {}


def add_rule(rule: Rule) -> None:
    """Offer ``rule`` to every rule run by its name (a later rule of the same name replaces it)."""
    EXTRA_RULES[rule.name] = rule


__all__ = ["EXTRA_RULES", "Draft", "OrderFacts", "Rule", "add_rule"]
