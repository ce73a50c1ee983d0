"""The work orders' public face for the other features.

``hotline kpi`` prints other features' figures for the same period after the work orders' own:
a feature adds ``section(start, end, unit) -> (key, data, lines)`` to ``KPI_CLI_SECTIONS`` when
its commands are registered (the JSON gets ``data`` under ``key``; ``lines`` are printed). The KPI
page's sections go through ``ctx.deps.kpi_sections`` (per app, not per process).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from workorders.core.period import parse_period

CliSection = Callable[[dt.datetime, dt.datetime, str | None], tuple[str, dict[str, Any], list[str]]]
KPI_CLI_SECTIONS: list[CliSection] = []

__all__ = ["KPI_CLI_SECTIONS", "CliSection", "parse_period"]
