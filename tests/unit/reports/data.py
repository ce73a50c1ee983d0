"""A small hand-made day (2026-03-10, Asia/Shanghai) whose figures were worked out by hand."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from reports.core.figures import FigureRow, OrderRow
from workorders.core.deadlines import Urgency
from workorders.core.model import Assignment, Callback, Order, Satisfaction, State

TZ = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 3, 10, tzinfo=TZ)
END = START + dt.timedelta(days=1)
AS_OF = END + dt.timedelta(hours=1)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def assign(unit: str, dispatched: str, reply_by: str, replied: str | None = None, **kw: object) -> Assignment:
    d = at(dispatched)
    return Assignment(
        unit=unit,
        dispatched_at=d,
        sign_by=d + dt.timedelta(hours=2),
        return_by=d + dt.timedelta(days=1),
        reply_by=at(reply_by),
        signed_at=d + dt.timedelta(hours=1),
        replied_at=at(replied) if replied else None,
        **kw,  # type: ignore[arg-type]
    )


def row(
    i: int,
    created: str,
    channel: str,
    category: str,
    address: str,
    *assignments: Assignment,
    title: str = "",
    phrases: tuple[str, ...] = (),
    **kw: object,
) -> OrderRow:
    unit = assignments[-1].unit if assignments else None
    order = Order(
        id=i,
        created_at=at(created),
        category=category,
        lead_unit=unit,
        assignments=assignments,
        **kw,  # type: ignore[arg-type]
    )
    return OrderRow(i, at(created), channel, category, address, title or category, unit, order, phrases)


def callback(sat: Satisfaction, resolved: bool = True) -> Callback:
    return Callback(at("2026-03-10 09:30"), True, sat, resolved)


ORDERS = [
    # New on the day: 1 (voice), 2 (webchat, 特殊: a major case), 6 (voice, late evening).
    row(
        1,
        "2026-03-10 09:00",
        "voice",
        "城建/供水",
        "如城街道海阳路1号",
        assign("water", "2026-03-10 09:10", "2026-03-10 17:00", "2026-03-10 16:00"),
        title="海阳路停水",
        phrases=("停水", "海阳路"),
        state=State.HANDLING,
    ),
    row(
        2,
        "2026-03-10 10:00",
        "webchat",
        "城建/供水",
        "如城街道海阳路9号",
        assign("water", "2026-03-10 10:05", "2026-03-10 15:00"),
        title="家里停水一天了",
        phrases=("停水",),
        urgency=Urgency.SPECIAL,
        state=State.HANDLING,
    ),
    row(6, "2026-03-10 23:30", "voice", "交通/停车", "白蒲镇人民路", phrases=("停车",), state=State.PENDING_DISPATCH),
    # Older orders closed on the day: satisfied, unsatisfied, basically satisfied.
    row(
        3,
        "2026-03-03 08:00",
        "voice",
        "环保/噪声",
        "城北街道",
        assign("env", "2026-03-03 08:10", "2026-03-09 17:00", "2026-03-09 10:00"),
        state=State.CLOSED,
        reply_approved_at=at("2026-03-10 10:00"),
        closed_at=at("2026-03-10 11:00"),
        callback=callback(Satisfaction.SATISFIED),
    ),
    row(
        4,
        "2026-03-05 08:00",
        "voice",
        "环保/噪声",
        "城北街道",
        assign("env", "2026-03-05 08:10", "2026-03-09 17:00", "2026-03-09 11:00"),
        state=State.CLOSED,
        reply_approved_at=at("2026-03-10 10:00"),
        closed_at=at("2026-03-10 12:00"),
        callback=callback(Satisfaction.UNSATISFIED, resolved=False),
    ),
    row(
        5,
        "2026-03-05 09:00",
        "wechat",
        "城建/物业",
        "如城街道",
        assign("housing", "2026-03-05 09:10", "2026-03-09 17:00", "2026-03-09 12:00"),
        state=State.CLOSED,
        reply_approved_at=at("2026-03-10 10:00"),
        closed_at=at("2026-03-10 13:00"),
        callback=callback(Satisfaction.BASICALLY),
    ),
    # The next day: counts nowhere in this day's report.
    row(7, "2026-03-11 00:10", "voice", "城建/供水", "如城街道", state=State.INTAKE),
]


def figures() -> list[FigureRow]:
    t = int(at("2026-03-10 09:00").timestamp())
    voice = {"offered": 10, "answered": 8, "answered_within": 7, "abandoned": 2, "short_abandoned": 1, "closed": 3}
    chat = {"offered": 4, "answered": 4, "replied": 4, "replied_within": 3}
    return [
        FigureRow(t, "general", "voice", voice),
        FigureRow(t, "web", "webchat", chat),
        FigureRow(t + 900, "general", "voice", {"offered": 0, "blocked": 2}),
    ]
