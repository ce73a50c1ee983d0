"""The numbers of the supervisor's board and the seat's own day, from the ACD's statistics rows.

Rates follow DOMAIN.md through the ACD's counters: 15-second rate = voice answered within the
target ÷ (voice offered − short abandons); internet response rate = internet contacts replied
within T ÷ internet contacts that asked for a seat. A ratio with nothing to divide by is None
(shown as "—"), never 0 or 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

UTC_OFFSET_S: Final = 8 * 3600  # China Standard Time, no daylight saving
SUMMED: Final = (
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "voice_offered",
    "voice_short",
    "voice_within",
    "internet_offered",
    "replied_within",
)


def day_start(now: float, utc_offset_s: int = UTC_OFFSET_S) -> float:
    """Epoch seconds of local midnight of the day that contains ``now``."""
    return float((int(now) + utc_offset_s) // 86400 * 86400 - utc_offset_s)


def ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _sum(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    acc = dict.fromkeys(SUMMED, 0.0)
    for row in rows:
        for name in SUMMED:
            acc[name] += float(row.get(name, 0) or 0)
    return acc


def rates(acc: Mapping[str, float]) -> dict[str, float | None]:
    return {
        "sl15": ratio(acc["voice_within"], acc["voice_offered"] - acc["voice_short"]),
        "internet_response_rate": ratio(acc["replied_within"], acc["internet_offered"]),
        "connection_rate": ratio(acc["answered"], acc["offered"]),
    }


def queue_board(
    live_queues: Mapping[str, Mapping[str, Any]],
    rows: Iterable[Mapping[str, Any]],
    now: float,
    interval_s: int,
    window_s: float = 1800.0,
) -> list[dict[str, Any]]:
    """One line per queue: waiting, longest wait, today's and the last window's rates.

    ``rows`` are the ACD's statistics per (interval, queue, channel). An interval counts in the
    last window when any part of it lies within it (15-minute intervals: the current one and the
    one or two before), which is as fine as the counters allow.
    """
    start = day_start(now)
    today: dict[str, list[Mapping[str, Any]]] = {}
    recent: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        t = float(row["interval"])
        if t < start:
            continue
        queue = str(row["queue"])
        today.setdefault(queue, []).append(row)
        if t + interval_s > now - window_s:
            recent.setdefault(queue, []).append(row)
    out = []
    for name in sorted(set(live_queues) | set(today)):
        live = live_queues.get(name, {})
        day = _sum(today.get(name, ()))
        last = _sum(recent.get(name, ()))
        day_rates, last_rates = rates(day), rates(last)
        out.append(
            {
                "queue": name,
                "waiting": int(live.get("waiting", 0)),
                "longest_wait_s": float(live.get("longest_wait_s", 0.0)),
                "offered": int(day["offered"]),
                "answered": int(day["answered"]),
                "abandoned": int(day["abandoned"]),
                "sl15_today": day_rates["sl15"],
                "sl15_last30": last_rates["sl15"],
                "internet_rate_today": day_rates["internet_response_rate"],
                "internet_rate_last30": last_rates["internet_response_rate"],
            }
        )
    return out


def day_series(rows: Iterable[Mapping[str, Any]], now: float, interval_s: int) -> list[dict[str, Any]]:
    """Today's intervals, all queues together, for the charts: every interval up to now, empty ones too."""
    start = day_start(now)
    by_interval: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        t = int(row["interval"])
        if t >= start:
            by_interval.setdefault(t, []).append(row)
    out = []
    t = int(start)
    while t <= now:
        acc = _sum(by_interval.get(t, ()))
        out.append(
            {
                "interval": t,
                "offered": int(acc["offered"]),
                "answered": int(acc["answered"]),
                "abandoned": int(acc["abandoned"]),
                **rates(acc),
            }
        )
        t += interval_s
    return out


# ---- the seat's own day ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Activity:
    """One thing a seat did with a contact: offered, accepted, rejected or wrapped up."""

    at: float
    kind: str  # offer | accept | reject | wrapup
    contact_id: str
    channel: str = ""


KINDS: Final = frozenset({"offer", "accept", "reject", "wrapup"})


def seat_today(activities: Iterable[Activity], now: float) -> dict[str, Any]:
    """Counts of today (local day) and the average handling time from accept to wrap-up."""
    start = day_start(now)
    counts = dict.fromkeys(("offer", "accept", "reject", "wrapup"), 0)
    accepted_at: dict[str, float] = {}
    handle: list[float] = []
    voice = chats = 0
    for a in sorted(activities, key=lambda a: a.at):
        if a.kind not in KINDS:
            raise ValueError(f"unknown activity kind {a.kind!r}")
        if not start <= a.at <= now:
            continue
        counts[a.kind] += 1
        if a.kind == "accept":
            accepted_at[a.contact_id] = a.at
            if a.channel in ("voice", "callback"):
                voice += 1
            else:
                chats += 1
        elif a.kind == "wrapup" and a.contact_id in accepted_at:
            handle.append(a.at - accepted_at.pop(a.contact_id))
    return {
        "offered": counts["offer"],
        "accepted": counts["accept"],
        "rejected": counts["reject"],
        "missed": max(0, counts["offer"] - counts["accept"] - counts["reject"]),
        "wrapped": counts["wrapup"],
        "calls": voice,
        "chats": chats,
        "avg_handle_s": sum(handle) / len(handle) if handle else None,
        "accept_rate": ratio(counts["accept"], counts["offer"]),
    }
