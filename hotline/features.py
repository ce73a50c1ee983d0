"""The features of the engine, written once: the app installs their plugins, the CLI registers
their commands and the migrations see their tables in this order.

This module is part of the composition root (with ``app``, ``cli``, ``context``, ``sandbox``,
``commands`` and ``migrations``): it names the features, so nothing in the kernel may import it.
A feature is optional: a package that is missing, or lacks a part, is skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# The order of installation: a feature may look up in ``ctx.deps`` what an earlier one provides
# at install time, and what a later one provides only when it runs.
FEATURES: tuple[str, ...] = (
    "acd",
    "ivr",
    "workorders",
    "knowledge",
    "agent_console",
    "channels",
    "scheduling",
    "supervision",
    "reports",
)


def _parts(part: str) -> list[ModuleType]:
    found = []
    for pkg in FEATURES:
        if importlib.util.find_spec(pkg) is not None and importlib.util.find_spec(f"{pkg}.{part}") is not None:
            found.append(importlib.import_module(f"{pkg}.{part}"))
    return found


def plugins() -> list[ModuleType]:
    """Each feature's ``plugin`` module: ``install(app, ctx)`` and optionally ``OPENAPI``."""
    return _parts("plugin")


def commands() -> list[ModuleType]:
    """Each feature's ``cli`` module: ``register(subparsers)``."""
    return _parts("cli")


def models() -> list[ModuleType]:
    """Each feature's ``models`` module: its tables on the shared metadata."""
    return _parts("models")
