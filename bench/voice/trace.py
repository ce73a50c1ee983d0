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
CONNECTED, ABANDONED = "connected", "abandoned"
UNTOLD_WITHIN_S = 2.0  # the seat's BYE -> Asterisk's BYE to its caller, for a call made untold
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
    connected: float | None = None  # the re-INVITE with the connected line of the seat that answered
    abandoned: float | None = None  # its own BYE before it was connected (its patience ran out)
    answered: float | None = None  # Asterisk's 200 OK to its INVITE
    refused: int | None = None  # a final answer other than 2xx to its INVITE (503 when overloaded)
    far_bye: float | None = None  # Asterisk hung up on it
    # Never told of its seat (no connected-line re-INVITE came), yet the seat it was given
    # answered, talked and hung up, and Asterisk ended the caller just after: the call was made.
    # Seen once in 6,000 calls on an overloaded machine; counted apart, not as a loss.
    untold: float | None = None

    @property
    def reached(self) -> bool:
        """Talked to a seat: told so by the re-INVITE, or the seat's whole call says so."""
        return self.connected is not None or self.untold is not None


@dataclass
class SeatCall:
    seat: str
    number: str
    invite: float
    answered: float | None = None
    cancelled: float | None = None
    freed: float | None = None
    hung_up: float | None = None  # the seat's own BYE after it answered


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
            if call.far_bye is None:
                call.abandoned = m.t
        elif not m.sent and m.first.startswith("BYE ") and call.far_bye is None:
            call.far_bye = m.t
        elif not m.sent and m.first.startswith("SIP/2.0 ") and m.cseq == "INVITE":
            # The caller sends one INVITE: every response it receives answers that one.
            code = int(m.first.split()[1])
            if code >= 300 and call.refused is None:
                call.refused = code
            elif 200 <= code < 300 and call.answered is None:
                call.answered = m.t
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
            if m.sent:
                leg.hung_up = m.t
    for leg in tr.seat_calls:
        call = tr.callers.get(leg.number)
        if (
            call is not None
            and call.connected is None
            and call.abandoned is None
            and call.far_bye is not None
            and leg.hung_up is not None
            and leg.hung_up <= call.far_bye <= leg.hung_up + UNTOLD_WITHIN_S
        ):
            call.untold = leg.answered
    return tr


def fate(call: CallerCall | None) -> str:
    """What became of a caller: connected to a seat, abandoned (its own patience ran out), or
    why it was dropped: anything else is the engine's or Asterisk's doing."""
    if call is None:
        return "never dialled (not in the caller trace)"
    if call.reached:
        return CONNECTED
    if call.abandoned is not None:
        return ABANDONED
    if call.refused is not None:
        return f"refused with {call.refused}"
    if call.answered is None:
        return "never answered by Asterisk"
    if call.far_bye is not None:
        return "hung up by Asterisk before a seat was connected"
    return "never connected nor ended (the trace stops)"


def dropped(tr: Traces, numbers: list[str], *, patience_is_choice: bool = True) -> dict[str, str]:
    """The planned callers that were lost, with why. A caller who gave up after its patience
    abandoned by choice in phase 2; in phase 1 the seats are always free and the patience
    is a timeout, so a caller that never reached a seat is lost whatever ended it."""
    out = {}
    for number in numbers:
        what = fate(tr.callers.get(number))
        if what == ABANDONED and not patience_is_choice:
            what = "never connected to a seat before it gave up (its patience, or app_queue's ring wait)"
        if what not in (CONNECTED, ABANDONED):
            out[number] = what
    return out


def doubled(tr: Traces) -> list[str]:
    """Callers that two seats were up with at the same time (both answered, neither gone yet).
    A seat answered and then let go (a failed connection undone) before the next one answered
    is not doubled: the caller talked to one seat."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for leg in tr.seat_calls:
        if leg.answered is not None:
            spans.setdefault(leg.number, []).append((leg.answered, leg.freed if leg.freed is not None else math.inf))
    out = []
    for number, legs in spans.items():
        legs.sort()
        if any(nxt[0] < prev[1] for prev, nxt in itertools.pairwise(legs)):
            out.append(number)
    return sorted(out)


def connect_delays(tr: Traces) -> list[float]:
    """For each connected caller: the seat's 200 OK → the caller's connected-line re-INVITE.
    Both engines send that re-INVITE once caller and seat are joined: a caller's channel held
    by something else (an announcement Asterisk plays to the end) shows here."""
    answers: dict[str, list[float]] = {}
    for leg in tr.seat_calls:
        if leg.answered is not None:
            answers.setdefault(leg.number, []).append(leg.answered)
    out = []
    for number, call in tr.callers.items():
        if call.connected is None:
            continue
        before = [a for a in answers.get(number, ()) if a <= call.connected]
        if before:
            out.append(call.connected - max(before))
    return out


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
    never = sum(1 for c in tr.callers.values() if not c.reached)
    return {
        "calls": len(tr.callers),
        "p50_ms": _pct(delays, 50),
        "p99_ms": _pct(delays, 99),
        "max_ms": _pct(delays, 100),
        "failed": max(never, failed_sipp),
        "seat_cancels": sum(1 for leg in tr.seat_calls if leg.cancelled is not None),
        **_connect(tr),
    }


def _connect(tr: Traces) -> dict[str, float | None]:
    delays = connect_delays(tr)
    return {"connect_p50_ms": _pct(delays, 50), "connect_p99_ms": _pct(delays, 99), "connect_max_ms": _pct(delays, 100)}


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
        **_connect(tr),
    }
