"""sipp's message traces of both sides, paired by caller number, and the measures taken from them."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HEAD = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$", re.M)
_FROM_USER = re.compile(r"^From:[^<\n]*<sip:([^@>;]+)", re.M | re.I)
_TO_USER = re.compile(r"^To:[^<\n]*<sip:([^@>;]+)", re.M | re.I)
_CALL_ID = re.compile(r"^Call-ID:\s*(\S+)", re.M | re.I)
_CSEQ = re.compile(r"^CSeq:\s*\d+\s+(\w+)", re.M | re.I)
_PAI = re.compile(r"^P-Asserted-Identity:[^<\n]*<sip:([^@>;]+)", re.M | re.I)


@dataclass
class Msg:
    t: float
    sent: bool
    first: str
    call_id: str
    cseq: str
    from_user: str
    to_user: str
    pai: str


def read_trace(path: Path) -> list[Msg]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    heads = list(_HEAD.finditer(text))
    out = []
    for i, h in enumerate(heads):
        body = text[h.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        lines = [x for x in body.strip().splitlines() if x.strip()]
        if len(lines) < 2:
            continue
        t = dt.datetime.strptime(h.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC).timestamp()

        def grab(rx: re.Pattern[str], body: str = body) -> str:
            m = rx.search(body)
            return m.group(1) if m else ""

        out.append(
            Msg(
                t,
                "sent" in lines[0],
                lines[1].strip(),
                grab(_CALL_ID),
                grab(_CSEQ).upper(),
                grab(_FROM_USER),
                grab(_TO_USER),
                grab(_PAI),
            )
        )
    return out


@dataclass
class CallerCall:
    number: str
    invite: float
    connected: float | None = None
    abandoned: float | None = None


@dataclass
class SeatCall:
    seat: str
    number: str
    invite: float
    answered: float | None = None
    cancelled: float | None = None
    freed: float | None = None


@dataclass
class Traces:
    callers: dict[str, CallerCall] = field(default_factory=dict)  # by number
    seat_calls: list[SeatCall] = field(default_factory=list)


def parse(caller_msgs: list[Msg], seat_msgs: list[Msg]) -> Traces:
    tr = Traces()
    by_cid: dict[str, CallerCall] = {}
    for m in caller_msgs:
        call = by_cid.get(m.call_id)
        if call is None:
            if m.sent and m.first.startswith("INVITE "):
                by_cid[m.call_id] = tr.callers[m.from_user] = CallerCall(m.from_user, m.t)
            continue
        # The re-INVITE with the connected line; app_queue's for a ringing seat shows 12345.
        if not m.sent and m.first.startswith("INVITE ") and m.pai not in ("", "12345") and call.connected is None:
            call.connected = m.t
        elif m.sent and m.first.startswith("BYE ") and call.abandoned is None and call.connected is None:
            call.abandoned = m.t
    legs: dict[str, SeatCall] = {}
    for m in seat_msgs:
        leg = legs.get(m.call_id)
        if leg is None:
            if not m.sent and m.first.startswith("INVITE "):
                seat = m.first.split()[1].split("@")[0].removeprefix("sip:").removeprefix("seat")
                legs[m.call_id] = SeatCall(seat, m.from_user, m.t)
                tr.seat_calls.append(legs[m.call_id])
            continue
        if m.sent and m.first.startswith("SIP/2.0 200") and m.cseq == "INVITE" and leg.answered is None:
            leg.answered = m.t
        elif not m.sent and m.first.startswith("CANCEL ") and leg.cancelled is None:
            leg.cancelled = leg.freed = m.t
        elif m.first.startswith("BYE ") and leg.freed is None:
            leg.freed = m.t  # the seat hung up (sent) or the caller did (received)
    return tr


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 2)


def phase1_metrics(tr: Traces, failed_sipp: int) -> dict[str, Any]:
    first: dict[str, float] = {}
    for leg in tr.seat_calls:
        first[leg.number] = min(first.get(leg.number, leg.invite), leg.invite)
    delays = [first[n] - c.invite for n, c in tr.callers.items() if n in first]
    never = sum(1 for c in tr.callers.values() if c.connected is None)
    return {
        "calls": len(tr.callers),
        "p50_ms": _pct(delays, 50),
        "p99_ms": _pct(delays, 99),
        "max_ms": _pct(delays, 100),
        "failed": max(never, failed_sipp),
        "seat_cancels": sum(1 for leg in tr.seat_calls if leg.cancelled is not None),
    }


def phase2_metrics(tr: Traces, failed_sipp: int, target_s: float = 15.0) -> dict[str, Any]:
    answer: dict[str, float] = {}
    offered: dict[str, float] = {}
    for leg in tr.seat_calls:
        offered[leg.number] = min(offered.get(leg.number, leg.invite), leg.invite)
        if leg.answered is not None:
            answer[leg.number] = min(answer.get(leg.number, leg.answered), leg.answered)
    waits, abandons = [], 0
    for n, c in tr.callers.items():
        a = answer.get(n)
        if a is not None and (c.abandoned is None or a < c.abandoned):
            waits.append(a - c.invite)
        elif c.abandoned is not None:
            abandons += 1
    calls = len(tr.callers)
    abandoned_at = {n: c.abandoned for n, c in tr.callers.items() if c.abandoned is not None}
    wasted = sum(1 for leg in tr.seat_calls if leg.answered is None and leg.number in abandoned_at)
    # Callers waiting without a seat ringing for them: (arrival, first seat INVITE or abandon).
    unserved = sorted((c.invite, min(offered.get(n, math.inf), c.abandoned or math.inf)) for n, c in tr.callers.items())
    gaps = []
    by_seat: dict[str, list[SeatCall]] = {}
    for leg in tr.seat_calls:
        by_seat.setdefault(leg.seat, []).append(leg)
    for legs in by_seat.values():
        legs.sort(key=lambda x: x.invite)
        for prev, nxt in itertools.pairwise(legs):
            t = prev.freed
            if t is None or nxt.invite < t:
                continue
            if any(a < t < b for a, b in unserved if a < t):
                gaps.append(nxt.invite - t)
    return {
        "calls": calls,
        "answered": len(waits),
        "sl15": round(sum(1 for w in waits if w <= target_s) / calls, 4) if calls else None,
        "wait_p50_s": None if not waits else round(sorted(waits)[len(waits) // 2], 3),
        "abandons": abandons,
        "wasted_rings": wasted,
        "reuse_gap_p50_ms": _pct(gaps, 50),
        "reuse_gap_p90_ms": _pct(gaps, 90),
        "reuse_gaps": len(gaps),
        "failed": failed_sipp,
    }
