"""The rows a report is made of, as the adapters load them, and the small counts every report shares.

An order comes with the copies the work orders keep beside their core (channel, category,
address, title) and its core (``workorders.core.model.Order``) for the KPIs, which are computed
by ``workorders.core.kpi`` alone: this package never writes a KPI formula of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acd.core.stats import Stats
from workorders.core.deadlines import Urgency
from workorders.core.kpi import Rate
from workorders.core.model import Order

# 特殊 and 特殊紧急 orders, escalated ones and supervised ones are the day's 受理要情.
MAJOR_URGENCIES = frozenset({Urgency.SPECIAL, Urgency.SPECIAL_URGENT})
# The street, town or township an address names first (如城街道, 白蒲镇, 丁堰乡), without the province and
# city before it; failing that, the district or county.
_AREA = re.compile(r"[^省市区县\d\s,，]{1,6}?(?:街道|镇|乡)")
_DISTRICT = re.compile(r"[^省市\d\s,，]{1,6}?(?:区|县)")
UNKNOWN_AREA = "未注明"
UNKNOWN_CATEGORY = "未分类"


def area_of(address: str) -> str:
    """The area an order counts in: the first street/town/township of its address."""
    text = (address or "").strip()
    for pattern in (_AREA, _DISTRICT):
        m = pattern.search(text)
        if m:
            return m.group(0)
    return UNKNOWN_AREA


def top_category(category: str | None) -> str:
    """The first level of the category path (``城建/物业`` → ``城建``)."""
    return (category or UNKNOWN_CATEGORY).split("/", 1)[0] or UNKNOWN_CATEGORY


@dataclass(frozen=True)
class OrderRow:
    id: int
    created_at: dt.datetime
    channel: str
    category: str
    address: str
    title: str
    lead_unit: str | None
    order: Order
    phrases: tuple[str, ...] = ()

    @property
    def area(self) -> str:
        return area_of(self.address)

    @property
    def major(self) -> bool:
        o = self.order
        return o.urgency in MAJOR_URGENCIES or o.escalated or bool(o.supervision)


@dataclass(frozen=True)
class FigureRow:
    """One row of the ACD's interval figures (``acd_interval_figures``, kind "contacts")."""

    interval_start: int
    queue: str
    channel: str
    figures: Mapping[str, float]


@dataclass(frozen=True)
class ContactOptions:
    """The options the ACD counted with (its settings); stated on every report."""

    answer_threshold_s: float = 15.0
    exclude_abandons_shorter_than_s: float = 0.0
    internet_response_s: float = 60.0
    interval_s: int = 900


def contact_figures(rows: Sequence[FigureRow], options: ContactOptions) -> dict[str, Any]:
    """Volumes by channel and the ACD's rates, by its own formulas (``acd.core.stats``)."""
    stats = Stats(options.interval_s, options.exclude_abandons_shorter_than_s, options.internet_response_s)
    stats.merge({"rows": [[[r.interval_start, r.queue, r.channel], dict(r.figures)] for r in rows], "seat_time": []})
    by_channel = {row["channel"]: row for row in stats.report(by=("channel",))}
    totals = stats.report(by=())
    channels = {
        ch: {k: int(row.get(k, 0)) for k in ("offered", "answered", "abandoned", "blocked", "closed", "callbacks")}
        for ch, row in sorted(by_channel.items())
    }
    t: dict[str, Any] = totals[0] if totals else {}
    voice_den = int(t.get("voice_offered", 0)) - int(t.get("voice_short", 0))
    return {
        "by_channel": channels,
        "answer_rate_15s": Rate(int(t.get("voice_within", 0)), voice_den).as_dict(),
        "connection_rate": Rate(int(t.get("answered", 0)), int(t.get("offered", 0))).as_dict(),
        "internet_response_rate": Rate(int(t.get("replied_within", 0)), int(t.get("internet_offered", 0))).as_dict(),
        "abandoned": int(t.get("abandoned", 0)),
        "short_abandoned": int(t.get("short_abandoned", 0)),
        # DOMAIN.md: calls refused at the door and closed-hours calls are reported apart from abandons.
        "blocked": int(t.get("blocked", 0)),
        "closed_hours": int(t.get("closed", 0)),
        "asa_s": round(float(t["asa_s"]), 1) if t.get("asa_s") is not None else None,
    }


def counted(values: Iterable[str], n: int) -> list[dict[str, Any]]:
    """The ``n`` most frequent values, ties by name so that a report is the same every time."""
    counts = Counter(values)
    return [{"name": k, "count": v} for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def in_period(t: dt.datetime | None, start: dt.datetime, end: dt.datetime) -> bool:
    return t is not None and start <= t < end


def case_json(r: OrderRow) -> dict[str, Any]:
    o = r.order
    return {
        "id": r.id,
        "created_at": r.created_at.isoformat(),
        "title": r.title,
        "category": r.category,
        "area": r.area,
        "unit": r.lead_unit,
        "urgency": o.urgency.value,
        "state": o.state.value,
        "escalated": o.escalated,
        "supervised": bool(o.supervision),
    }


@dataclass(frozen=True)
class Selection:
    """Which orders a topic report covers: a category (path prefix), an area, or both."""

    category: str | None = None
    area: str | None = None
    predicate: Callable[[OrderRow], bool] | None = field(default=None, compare=False)

    def __call__(self, r: OrderRow) -> bool:
        if self.category and not (r.category == self.category or r.category.startswith(self.category + "/")):
            return False
        if self.area and r.area != self.area:
            return False
        return self.predicate(r) if self.predicate else True
