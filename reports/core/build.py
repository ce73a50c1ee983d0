"""The reports as data: 运行日报 (daily), the monthly unit report (月度通报) and the topic report (专题).

Each takes the rows of its period and returns a JSON-ready dict that names its period, the time
it was made, and the options of every figure; the pages, XLSX and PDF are drawn from that dict
alone, so a stored report is the same document every time it is opened. A period without data
gives the same dict with zeros and empty lists.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reports.core.figures import (
    ContactOptions,
    FigureRow,
    OrderRow,
    Selection,
    case_json,
    contact_figures,
    counted,
    in_period,
    top_category,
)
from workorders.core import kpi
from workorders.core.kpi import KpiOptions, Rate
from workorders.core.model import Order

# The seed's targets (DOMAIN.md), shown beside each KPI.
TARGETS = {
    "answer_rate_15s": 95.0,
    "internet_response_rate": 95.0,
    "dispatch_accuracy": 98.0,
    "on_time_sign": 98.0,
    "on_time_completion": 98.0,
    "satisfaction": 95.0,
    "resolution": 95.0,
}
# The work-order KPIs of a unit, computed by ``workorders.core.kpi``; rankings are by these.
UNIT_KPIS = ("dispatch_accuracy", "on_time_sign", "on_time_completion", "callback_rate", "satisfaction", "resolution")


@dataclass(frozen=True)
class ReportOptions:
    kpi: KpiOptions = field(default_factory=KpiOptions)
    contacts: ContactOptions = field(default_factory=ContactOptions)
    top: int = 10
    cases: int = 50

    def as_dict(self) -> dict[str, Any]:
        k = asdict(self.kpi)
        return {
            "answer_rate_15s": {
                "threshold_s": self.contacts.answer_threshold_s,
                "exclude_abandons_shorter_than_s": self.contacts.exclude_abandons_shorter_than_s,
            },
            "internet_response_rate": {"limit_s": self.contacts.internet_response_s},
            "satisfaction": {"count_basically_satisfied": k["count_basically_satisfied"]},
            "on_time_completion": {"overdue_counts_late_returns": True},
            "top": self.top,
        }


def _period(start: dt.datetime, end: dt.datetime, as_of: dt.datetime) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat(), "as_of": as_of.isoformat()}


def _orders(rows: Sequence[OrderRow]) -> list[Order]:
    return [r.order for r in rows]


def order_figures(
    rows: Sequence[OrderRow], start: dt.datetime, end: dt.datetime, as_of: dt.datetime, options: ReportOptions
) -> dict[str, Any]:
    """New, closed and overdue orders and the satisfaction of the period; ``rows`` holds every order
    that could count in it (created, closed or falling due in it), not only the new ones."""
    new = [r for r in rows if in_period(r.created_at, start, end)]
    orders = _orders(rows)
    completion = kpi.on_time_completion(orders, start, end, as_of)
    return {
        "new": len(new),
        "new_by_channel": dict(sorted(Counter(r.channel for r in new).items())),
        "closed": sum(1 for o in orders if in_period(o.closed_at, start, end)),
        "on_time_completion": completion.as_dict(),
        # Assignments that fell due in the period and were not replied by their due time.
        "overdue": completion.denominator - completion.numerator,
        "satisfaction": kpi.satisfaction(orders, start, end, options.kpi).as_dict(),
        "major": sum(1 for r in new if r.major),
    }


def _groups(new: Sequence[OrderRow], top: int) -> dict[str, Any]:
    return {
        "top_categories": counted((top_category(r.category) for r in new), top),
        "top_subcategories": counted((r.category for r in new), top),
        "top_areas": counted((r.area for r in new), top),
        "top_phrases": counted((p for r in new for p in set(r.phrases)), top),
    }


def daily(
    rows: Sequence[OrderRow],
    figures: Sequence[FigureRow],
    start: dt.datetime,
    end: dt.datetime,
    as_of: dt.datetime,
    options: ReportOptions,
) -> dict[str, Any]:
    new = sorted((r for r in rows if in_period(r.created_at, start, end)), key=lambda r: r.id)
    hours = Counter(r.created_at.astimezone(start.tzinfo).hour for r in new)
    return {
        "kind": "daily",
        "title": f"12345热线运行日报 {start.date().isoformat()}",
        "period": _period(start, end, as_of),
        "options": options.as_dict(),
        "targets": TARGETS,
        "contacts": contact_figures(figures, options.contacts),
        "orders": order_figures(rows, start, end, as_of, options),
        "by_hour": [hours.get(h, 0) for h in range(24)],
        **_groups(new, options.top),
        # 受理要情: orders of the day flagged 特殊 / 特殊紧急, escalated or under supervision.
        "major_cases": [case_json(r) for r in new if r.major][: options.cases],
    }


def _rank(units: dict[str, dict[str, Any]], key: str) -> list[dict[str, Any]]:
    scored = [(u, f[key]) for u, f in units.items() if f[key]["denominator"]]
    scored.sort(key=lambda uf: (-(uf[1]["percent"] or 0.0), -uf[1]["denominator"], uf[0]))
    return [{"rank": i, "unit": u, **f} for i, (u, f) in enumerate(scored, 1)]


def monthly(
    rows: Sequence[OrderRow],
    figures: Sequence[FigureRow],
    units: dict[str, str],
    start: dt.datetime,
    end: dt.datetime,
    as_of: dt.datetime,
    options: ReportOptions,
) -> dict[str, Any]:
    """The seed's KPIs per member unit (``units``: code → name; a unit with orders but not in the
    directory is listed under its code), each unit's ranking per KPI and its hot topics."""
    orders = _orders(rows)
    new = [r for r in rows if in_period(r.created_at, start, end)]
    codes = sorted(
        set(units) | {r.lead_unit for r in rows if r.lead_unit} | {a.unit for o in orders for a in o.assignments}
    )
    # Each KPI function keeps only the unit's orders; handing it those alone gives the same rate
    # without reading every order once per unit (a month of a large city: 40 units × 30,000 orders).
    mine: dict[str, list[Order]] = {}
    for o in orders:
        for u in {a.unit for a in o.assignments} | ({o.lead_unit} if o.lead_unit else set()):
            mine.setdefault(u, []).append(o)
    funcs: dict[str, Callable[[list[Order], str], Rate]] = {
        "dispatch_accuracy": lambda os, u: kpi.dispatch_accuracy(os, start, end, u),
        "on_time_sign": lambda os, u: kpi.on_time_sign(os, start, end, as_of, u),
        "on_time_completion": lambda os, u: kpi.on_time_completion(os, start, end, as_of, u),
        "callback_rate": lambda os, u: kpi.callback_rate(os, start, end, u),
        "satisfaction": lambda os, u: kpi.satisfaction(os, start, end, options.kpi, u),
        "resolution": lambda os, u: kpi.resolution(os, start, end, u),
    }
    per_unit = {u: {k: f(mine.get(u, []), u).as_dict() for k, f in funcs.items()} for u in codes}
    by_unit: dict[str, list[OrderRow]] = {}
    for r in new:
        by_unit.setdefault(r.lead_unit or "", []).append(r)
    table = [
        {
            "unit": u,
            "name": units.get(u, u),
            "orders": len(by_unit.get(u, [])),
            **per_unit[u],
            "hot": _groups(by_unit.get(u, []), 5),
        }
        for u in codes
    ]
    return {
        "kind": "monthly",
        "title": f"12345热线月度通报 {start.strftime('%Y-%m')}",
        "period": _period(start, end, as_of),
        "options": options.as_dict(),
        "targets": TARGETS,
        "contacts": contact_figures(figures, options.contacts),
        "orders": order_figures(rows, start, end, as_of, options),
        "units": table,
        "rankings": {k: _rank(per_unit, k) for k in UNIT_KPIS},
        **_groups(new, options.top),
        "major_cases": [case_json(r) for r in sorted(new, key=lambda r: r.id) if r.major][: options.cases],
    }


def topic(
    rows: Sequence[OrderRow],
    selection: Selection,
    start: dt.datetime,
    end: dt.datetime,
    as_of: dt.datetime,
    options: ReportOptions,
) -> dict[str, Any]:
    """Every order of a category and/or area in the period: by day, unit, state and key phrase."""
    chosen = [r for r in rows if selection(r)]
    new = sorted((r for r in chosen if in_period(r.created_at, start, end)), key=lambda r: r.id)
    tz = start.tzinfo
    days = Counter(r.created_at.astimezone(tz).date().isoformat() for r in new)
    day, by_day = start.astimezone(tz).date(), []
    while dt.datetime.combine(day, dt.time(0), tzinfo=tz) < end:
        by_day.append({"day": day.isoformat(), "count": days.get(day.isoformat(), 0)})
        day += dt.timedelta(days=1)
    name = " ".join(x for x in (selection.category, selection.area) if x) or "全部"
    return {
        "kind": "topic",
        "title": f"12345热线专题报告 {name} {start.date().isoformat()}～{(end - dt.timedelta(seconds=1)).date().isoformat()}",
        "period": _period(start, end, as_of),
        "selection": {"category": selection.category, "area": selection.area},
        "options": options.as_dict(),
        "targets": TARGETS,
        "orders": order_figures(chosen, start, end, as_of, options),
        "by_day": by_day,
        "by_unit": counted((r.lead_unit or "未派单" for r in new), 50),
        "by_state": counted((r.order.state.value for r in new), 20),
        **_groups(new, options.top),
        "cases": [case_json(r) for r in new][: options.cases * 4],
    }
