"""What the parts of the ACD engine share: its state, the timer and seat-table primitives, the
constants of its timers, and the methods one part provides to another.

The engine is one object built from three parts, each in its module: routing (contacts:
arrival, widening, placing, ending; :mod:`acd.core.routing`), offers (offers and their outcomes,
a freed seat taking its next contact; :mod:`acd.core.offers`) and the engine itself (events in,
commands out, seats, timers, queries; :mod:`acd.core.engine`). Each part imports only this
module and the data modules, so none imports another; what routing calls of offers is declared
here as abstract and implemented there.
"""

from __future__ import annotations

import heapq
import math
from abc import ABC, abstractmethod
from typing import Any

from acd.core.commands import Command, SeatStateChanged
from acd.core.config import AcdSettings, QueueConfig
from acd.core.index import Index
from acd.core.model import Contact, Level, Seat
from acd.core.states import LOGGED_OUT, NOT_READY, OCCUPIED_STATES, READY, next_seat_state
from acd.core.stats import Stats

# Timer kinds: an offer's ring timeout, a seat's wrap-up end, a waiting contact's next check.
RING, WRAP, CHECK = 0, 1, 2
STARVING = 4.0  # x target: such a contact goes before everyone of its priority
MAX_SHOWN_WAIT = 86400.0

Timer = tuple[float, int, int, str, int]  # due, seq, kind, seat or contact id, token
Needs = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...], str | None]
Route = tuple[tuple[Level, ...], tuple[int, ...], Needs]  # levels, their class, the needs


class UnknownId(ValueError):
    """An event names a seat or contact the engine does not hold (already gone, or never seen)."""


class CoreState(ABC):
    def __init__(self, settings: AcdSettings | None = None) -> None:
        self.settings = settings or AcdSettings()
        s = self.settings
        self.index = Index(s.max_chats, s.chats_during_call)
        self.stats = Stats(s.interval_s, s.short_abandon_s, s.internet_response_s)
        self.contacts: dict[str, Contact] = {}  # waiting, call-back, offered or connected
        # Calls and chats held through an engine restart whose seat has not signed in again:
        # seat -> contacts.
        self.detached: dict[str, list[str]] = {}
        self.aht: dict[str, float] = dict(s.aht_s)
        self.last_seat: dict[str, str] = {}  # caller -> seat that served them last
        self.now = -math.inf
        self._timers: list[Timer] = []
        self._tseq = 0
        self._seq = 0
        self._seat_seq = 0
        self._level_cache: dict[tuple[Any, ...], tuple[QueueConfig, Route]] = {}
        self._out: list[Command] = []
        self._carried: list[Command] = []

    # -- primitives every part uses -------------------------------------------------------
    def _timer(self, due: float, kind: int, ident: str, token: int) -> None:
        self._tseq += 1
        heapq.heappush(self._timers, (due, self._tseq, kind, ident, token))

    def _seat(self, seat_id: str) -> Seat:
        seat = self.index.seats.get(seat_id)
        if seat is None:
            raise UnknownId(f"seat {seat_id!r} is not logged in")
        return seat

    def _seat_action(self, seat: Seat, action: str, reason: str = "", refresh: bool = True) -> None:
        """Apply a transition of the seat table; ``refresh=False`` when ``_serve`` follows, which
        puts the seat into its ready lists only if no contact is waiting for it."""
        new = next_seat_state(seat.id, seat.state, action)
        was = self.index.counts_staffed(seat)
        now = self.now
        if new != seat.state or (new == NOT_READY and action == "pause"):  # a new reason restarts the clock
            if seat.state != LOGGED_OUT and now > seat.since:
                self.stats.seat_state_time(seat.state, seat.since, now)
                if seat.state in OCCUPIED_STATES:
                    seat.occupied_s += now - seat.since
            seat.since = now
            if new == READY:
                seat.idle_since = now
            seat.state = new
            seat.reason = reason if new == NOT_READY else ""
            self._out.append(SeatStateChanged(seat.id, new, reason or action))
        elif action in ("pause", "resume"):  # pending pause set or cancelled while working
            self._out.append(SeatStateChanged(seat.id, new, reason or action))
        self.index.staffing_changed(seat, was)
        if new == NOT_READY:
            seat.pending = None  # a pending pause has taken effect (or another reason did)
        if refresh:
            self.index.refresh_avail(seat)

    def queue(self, name: str) -> QueueConfig:
        q = self.index.queues.get(name)
        if q is None:
            raise UnknownId(f"queue {name!r} is not configured; send QueueConfigured first")
        return q

    def _contact(self, contact_id: str) -> Contact:
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise UnknownId(f"contact {contact_id!r} is not in the engine (ended, abandoned or never seen)")
        return contact

    # -- provided by the offers part (acd.core.offers) ------------------------------------
    @abstractmethod
    def _offer(self, contact: Contact, seat: Seat, reason: str) -> None: ...

    @abstractmethod
    def _serve(self, seat: Seat, release: bool = True) -> None: ...

    @abstractmethod
    def _take_earlier(self, contact: Contact, seat: Seat) -> bool: ...

    @abstractmethod
    def _free_seat(self, seat: Seat, count_rona: bool, unreachable: bool, why: str = "") -> None: ...
