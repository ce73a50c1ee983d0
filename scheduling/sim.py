"""A day of calls through the real ACD core, staffed by the generated roster, with the surge response.

Deterministic for a seed. Arrivals are Poisson per half hour around the forecast (times
``surge_factor`` in the surge intervals), handle times exponential, patience exponential. Seats log
in, take breaks and leave as the roster says; a seat busy at a break or at the end of its shift
finishes the call first (the ACD's pending pause). Every ``check_every_s`` the shift manager's desk
runs the intraday view; an alert on the running interval activates (or widens) a surge with the
missing number of cloud seats for an hour, as a manager would: only when the projection falls
clearly below target (``act_below``), not for every one-seat dip of a shift change.

The 15-second rate is measured here, independently of the ACD's own statistics: answered with
wait ≤ 15 s ÷ arrivals that reached the seat queue (abandons count as misses).
"""

from __future__ import annotations

import heapq
import logging
import math
import random
from dataclasses import dataclass, field
from typing import Any

from acd.core.commands import CancelOffer, Offer
from acd.core.config import AcdSettings, QueueConfig
from acd.core.engine import Acd
from acd.core.events import (
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    Event,
    OfferAccepted,
    QueueConfigured,
    SeatLoggedIn,
    SeatLoggedOut,
    SeatNotReady,
    SeatReady,
    Tick,
)
from scheduling.core.actions import ACTIVE, ActivateSurge, CloudSeat, IvrAnnouncement, ManagerDesk, NotifySeat
from scheduling.core.intraday import intraday_view
from scheduling.core.roster import generate
from scheduling.core.shifts import Roster, Seat, default_templates
from scheduling.core.staffing import seats_per_interval

logger = logging.getLogger(__name__)

SLOT_S = 1800
SKILL = (("voice", 1),)
DAY0 = 1_778_428_800.0  # 2026-05-11 00:00 China time, so the ACD's statistics align to local intervals


def day_shape(slot: int) -> float:
    hour = (slot + 0.5) / 2
    return 0.04 + math.exp(-((hour - 10) ** 2) / 4.5) + 0.8 * math.exp(-((hour - 15) ** 2) / 5)


@dataclass(frozen=True, slots=True)
class SimConfig:
    calls_per_day: float = 8000.0
    aht_s: float = 240.0
    patience_s: float = 180.0
    answer_delay_s: float = 2.0  # desk phone: ring to answer
    cloud_ring_delay_s: float = 5.0  # external phone: longer to ring and answer
    target: float = 0.95
    within_s: float = 15.0
    surge_interval: int | None = None  # first half hour of the surge (20 = 10:00)
    surge_intervals: int = 2
    surge_factor: float = 3.0
    respond_to_surge: bool = True
    check_every_s: float = 300.0
    act_below: float = 0.90  # the manager calls cloud seats when the projection falls below this
    seed: int = 12345
    until_interval: int = 48  # stop the day early (tests of a morning surge need not play the evening)


@dataclass(slots=True)
class IntervalResult:
    arrivals: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0

    @property
    def rate(self) -> float:
        return self.within / self.arrivals if self.arrivals else 1.0


@dataclass(slots=True)
class SimResult:
    intervals: list[IntervalResult]
    roster: Roster
    required: list[int]
    actions: list[dict[str, Any]] = field(default_factory=list)
    cloud_seats_peak: int = 0

    @property
    def day_rate(self) -> float:
        arrivals = sum(i.arrivals for i in self.intervals)
        return sum(i.within for i in self.intervals) / arrivals if arrivals else 1.0


def handle_time(config: SimConfig) -> float:
    return config.aht_s + AcdSettings().wrap_up_s.get("voice", 0.0)


def plan_day(config: SimConfig) -> tuple[list[float], list[int], Roster]:
    """Forecast, on-line seats per half hour (the 15 s budget minus ringing) and the roster."""
    shape = [day_shape(s) for s in range(48)]
    total = sum(shape)
    planned = [config.calls_per_day * v / total for v in shape]
    budget = config.within_s - config.answer_delay_s
    # Handle time as seats experience it: talk plus the ACD's after-call wrap-up.
    need = seats_per_interval(planned, 30, handle_time(config), config.target, budget)
    seats = [Seat(f"S{i:03d}", frozenset({"voice"})) for i in range(max(need) * 3)]
    return planned, need, generate({"voice": need}, default_templates(), seats)


class _Day:
    def __init__(self, config: SimConfig) -> None:
        self.c = config
        self.rng = random.Random(config.seed)
        self.acd = Acd(AcdSettings())
        self.events: list[tuple[float, int, str, str]] = []
        self.seq = 0
        self.arrived_at: dict[str, float] = {}
        self.offers: dict[str, str] = {}  # contact -> seat ringing
        self.done: set[str] = set()  # answered or abandoned
        self.leaving: set[str] = set()
        self.cloud: set[str] = set()
        self.desk = ManagerDesk()
        self.counts = [0] * 48
        self.cloud_peak = 0

    def at(self, t: float, kind: str, ident: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, ident))

    def feed(self, event: Event) -> None:
        for command in self.acd.handle(event):
            if isinstance(command, Offer):
                self.offers[command.contact_id] = command.seat_id
                delay = self.c.cloud_ring_delay_s if command.seat_id in self.cloud else self.c.answer_delay_s
                self.at(event.now + delay, "accept", f"{command.contact_id}|{command.seat_id}")
            elif isinstance(command, CancelOffer):
                self.offers.pop(command.contact_id, None)

    def run(self, planned: list[float], need: list[int], roster: Roster) -> SimResult:
        c = self.c
        result = SimResult([IntervalResult() for _ in range(48)], roster, need)
        self.feed(QueueConfigured(DAY0, QueueConfig("voice", skills=SKILL, target_s=c.within_s)))
        for shift in roster.shifts:
            if shift.seat is None:
                continue
            ident = f"{shift.seat}@{shift.start}"
            self.at(DAY0 + shift.start * SLOT_S, "login", ident)
            for b in shift.breaks:
                self.at(DAY0 + b.start * SLOT_S, "pause", ident)
                self.at(DAY0 + (b.start + b.length) * SLOT_S, "resume", ident)
            self.at(DAY0 + shift.end * SLOT_S, "leave", ident)
        n = 0
        for slot in range(min(48, c.until_interval)):
            surge = c.surge_interval is not None and c.surge_interval <= slot < c.surge_interval + c.surge_intervals
            rate = planned[slot] * (c.surge_factor if surge else 1.0) / SLOT_S
            t = DAY0 + slot * SLOT_S
            while True:
                t += self.rng.expovariate(rate)
                if t >= DAY0 + (slot + 1) * SLOT_S:
                    break
                n += 1
                self.at(t, "arrive", f"C{n}")
        check = DAY0 + c.check_every_s
        end = DAY0 + min(48, c.until_interval) * SLOT_S
        while self.events:
            deadline = self.acd.next_deadline()
            t = self.events[0][0]
            if t >= end and c.until_interval < 48:
                break
            if check <= min(t, deadline if deadline is not None else math.inf) and check < end:
                self.manage(check, planned, need)
                check += c.check_every_s
                continue
            if deadline is not None and deadline < t:
                self.feed(Tick(deadline))
                self.logout_leavers(deadline)
                continue
            t, _, kind, ident = heapq.heappop(self.events)
            self.step(t, kind, ident, result)
            self.logout_leavers(t)
        result.actions = [
            {
                "at_s": r.at - DAY0,
                "who": r.who,
                "why": r.why,
                "action": r.action if isinstance(r.action, str) else type(r.action).__name__,
            }
            for r in self.desk.log
        ]
        return result

    def step(self, t: float, kind: str, ident: str, result: SimResult) -> None:
        c = self.c
        seat = ident.split("@")[0]
        if kind == "arrive":
            slot = min(47, int((t - DAY0) // SLOT_S))
            result.intervals[slot].arrivals += 1
            self.counts[slot] += 1
            self.arrived_at[ident] = t
            self.feed(ContactArrived(t, ident, "voice", "voice", skills=SKILL))
            self.at(t + self.rng.expovariate(1 / c.patience_s), "abandon", ident)
        elif kind == "abandon":
            if ident not in self.done:
                self.done.add(ident)
                self.offers.pop(ident, None)
                self.feed(ContactAbandoned(t, ident))
                result.intervals[self.slot_of(ident)].abandoned += 1
        elif kind == "accept":
            cid, seat_id = ident.split("|")
            if self.offers.get(cid) != seat_id or cid in self.done:
                return
            del self.offers[cid]
            self.done.add(cid)
            self.feed(OfferAccepted(t, cid, seat_id))
            interval = result.intervals[self.slot_of(cid)]
            interval.answered += 1
            if t - self.arrived_at[cid] <= c.within_s:
                interval.within += 1
            self.at(t + self.rng.expovariate(1 / c.aht_s), "end", cid)
        elif kind == "end":
            self.feed(ContactEnded(t, ident))
        elif kind == "login":
            self.leaving.discard(seat)
            self.feed(SeatLoggedIn(t, seat, SKILL, kind="onsite", ready=True))
        elif kind == "pause" and seat not in self.leaving:
            self.feed(SeatNotReady(t, seat, "break"))
        elif kind == "resume" and seat not in self.leaving:
            self.feed(SeatReady(t, seat))
        elif kind == "leave":
            self.feed(SeatNotReady(t, seat, "shift_end"))
            self.leaving.add(seat)

    def slot_of(self, cid: str) -> int:
        return min(47, int((self.arrived_at[cid] - DAY0) // SLOT_S))

    def logout_leavers(self, t: float) -> None:
        for seat in list(self.leaving):
            if self.acd.seat_state(seat)["state"] == "not_ready":
                self.leaving.discard(seat)
                self.feed(SeatLoggedOut(t, seat))

    def manage(self, now: float, planned: list[float], need: list[int]) -> None:
        c = self.c
        states = self.acd.seats_by_state()
        waiting = self.acd.queue_snapshot("voice")["waiting"]
        busy = [s for s in self.cloud if self.acd.seat_state(s)["state"] in ("busy", "reserved", "wrap_up")]
        for out in self.desk.tick(now, waiting=waiting, busy_seats=busy):
            self.apply(out)
        if not c.respond_to_surge:
            return
        current = int((now - DAY0) // SLOT_S)
        elapsed = ((now - DAY0) % SLOT_S) / SLOT_S
        logged_in = sum(v for k, v in states.items() if k not in ("logged_out", "not_ready"))
        scheduled = need  # the roster covers the requirement; the view takes on-seat coverage
        _, alerts = intraday_view(
            "voice",
            planned,
            self.counts[: current + 1],
            current,
            scheduled,
            logged_in,
            min(logged_in, states.get("ready", 0)),
            aht_s=handle_time(c),
            target=c.target,
            within_s=c.within_s - c.answer_delay_s,
            elapsed=elapsed,
            alert_intervals=1,
            only_alert_window=True,
        )
        # Calling a surge needs a clear miss; topping up a running surge only needs any miss.
        threshold = c.target if self.desk.surge_state == ACTIVE else c.act_below
        if not alerts or elapsed < 0.1 or alerts[0].projected_service_level >= threshold:
            return
        # Cloud seats ring longer than desk phones: one more than the desk-phone shortfall.
        missing = alerts[0].missing + 1
        seats = tuple(
            CloudSeat(f"cloud-{len(self.cloud) + i + 1}", SKILL, ring_delay_s=c.cloud_ring_delay_s)
            for i in range(missing)
        )
        action = ActivateSurge(seats, until=now + 3600, announcement="因突发事件来电较多，请您耐心等待。")
        why = alerts[0].message
        for out in self.desk.apply(action, now=now, who="sim-manager", why=why):
            self.apply(out)

    def apply(self, out: object) -> None:
        if isinstance(out, SeatLoggedIn):
            self.cloud.add(out.seat_id)
            self.cloud_peak = max(self.cloud_peak, len(self.cloud))
            self.feed(out)
        elif isinstance(out, SeatLoggedOut):
            self.cloud.discard(out.seat_id)
            self.feed(out)
        elif isinstance(out, (IvrAnnouncement, NotifySeat)):
            logger.debug("adapter command: %s", out)
        elif isinstance(out, Event):
            self.feed(out)


def simulate_day(config: SimConfig | None = None) -> SimResult:
    config = config or SimConfig()
    planned, need, roster = plan_day(config)
    day = _Day(config)
    result = day.run(planned, need, roster)
    result.cloud_seats_peak = sum(
        1 for r in day.desk.log if isinstance(r.action, ActivateSurge) for _ in r.action.seats
    )
    if day.desk.surge_state == ACTIVE:
        logger.info("surge still active at the end of the day")
    return result
