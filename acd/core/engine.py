"""The ACD: ``Acd.handle(event) -> list[Command]``. Deterministic: the same events give the same
commands, so the event log replays and a snapshot restores to the same future decisions.

Routing in one paragraph: a contact goes to the best ready seat of its current bucket; when
none is ready it waits, unless its projected wait (position in the bucket, staffed eligible
seats, moving-average handle time) would break ``projection_margin`` x target, in which case
it widens a step (lower proficiency, no preferred skill, any group, cloud seats) and tries
again. A freed seat looks only at the heads of its buckets and takes, within the highest
priority class, first a contact starving (waited 4 x target), then the contact still within
its target with the lowest chance that another seat of its bucket frees up in time (so the
one caller only this seat can serve goes before one that a big pool will soon take), then
those already late, oldest first.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from typing import Any

from acd.core.base import RING, WRAP, Timer, UnknownId
from acd.core.commands import Command, SeatStateChanged
from acd.core.config import AcdSettings, QueueConfig, check_skills
from acd.core.events import (
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    Event,
    OfferAccepted,
    OfferFailed,
    OfferRejected,
    QueueConfigured,
    SeatGone,
    SeatLoggedIn,
    SeatLoggedOut,
    SeatNotReady,
    SeatReady,
    SeatReplied,
    SeatSkillsChanged,
    TalkResumed,
    Tick,
    WrapUpDone,
)
from acd.core.model import Seat
from acd.core.offers import OffersMixin
from acd.core.snapshot import restore_into, settings_of, take
from acd.core.states import (
    NOT_READY,
    READY,
    SEAT_STATES,
    WRAP_UP,
    next_seat_state,
)
from acd.core.views import ContactView, SeatView


class Acd(OffersMixin):
    def __init__(self, settings: AcdSettings | None = None) -> None:
        super().__init__(settings)
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            Tick: lambda e: None,
            QueueConfigured: self._on_queue,
            ContactArrived: self._on_arrived,
            ContactAbandoned: self._on_abandoned,
            CallbackRequested: self._on_callback,
            ContactEnded: self._on_ended,
            SeatReplied: self._on_replied,
            SeatLoggedIn: self._on_login,
            SeatLoggedOut: self._on_logout,
            SeatReady: self._on_ready,
            SeatNotReady: self._on_not_ready,
            SeatSkillsChanged: self._on_skills,
            SeatGone: self._on_gone,
            OfferAccepted: self._on_accepted,
            OfferRejected: self._on_rejected,
            OfferFailed: self._on_failed,
            WrapUpDone: self._on_wrap_done,
            TalkResumed: self._on_talk_resumed,
        }

    # -- the entry point ------------------------------------------------------------------
    def handle(self, event: Event) -> list[Command]:
        """Apply one event; return the commands to carry out, in order.

        Raises ValueError (IllegalTransition, UnknownId, bad data) before changing any state.
        """
        try:
            now = float(event.now)
        except (TypeError, ValueError, AttributeError):
            raise ValueError(f"event {type(event).__name__} needs a number in 'now'") from None
        if math.isnan(now) or now < self.now:
            raise ValueError(f"time went backwards: event at {now}, engine at {self.now}")
        handler = self._handlers.get(type(event))
        if handler is None:
            raise ValueError(f"not an ACD event: {type(event).__name__}")
        # timers due strictly before the event happened before it; a timer due at the same
        # instant yields to the event (an answer at the last moment still counts)
        self._out = self._carried
        self._carried = []
        self.now = now
        self._fire_timers(inclusive=False)
        try:
            handler(event)  # validates first, so a bad event changes nothing but the clock
        except ValueError:
            self._carried = self._out  # commands of timers already fired go out with the next event
            raise
        self._fire_timers(inclusive=True)
        return self._out

    def next_deadline(self) -> float | None:
        """When the adapter should send the next Tick (None: nothing pending)."""
        while self._timers and not self._timer_live(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def snapshot(self) -> dict[str, Any]:
        """The whole state as a JSON-able dict (see :mod:`acd.core.snapshot`)."""
        return take(self)

    @staticmethod
    def restore(data: dict[str, Any]) -> Acd:
        """Rebuild an engine from :meth:`snapshot`; a damaged snapshot raises ValueError."""
        engine = Acd(settings_of(data))
        restore_into(engine, data)
        return engine

    # -- timers ---------------------------------------------------------------------------
    def _timer_live(self, timer: Timer) -> bool:
        _, _, kind, ident, token = timer
        if kind == WRAP:
            seat = self.index.seats.get(ident)
            return seat is not None and seat.state == WRAP_UP and seat.wrap_token == token
        contact = self.contacts.get(ident)
        if contact is None or contact.timer != token:
            return False
        return contact.state == "offered" if kind == RING else contact.state in ("waiting", "callback")

    def _fire_timers(self, inclusive: bool) -> None:
        timers = self._timers
        now = self.now
        while timers and (timers[0][0] <= now if inclusive else timers[0][0] < now):
            timer = heapq.heappop(timers)
            if not self._timer_live(timer):
                continue
            _, _, kind, ident, _ = timer
            if kind == WRAP:
                self._finish_wrap(self.index.seats[ident])
            elif kind == RING:
                contact = self.contacts[ident]
                seat = self.index.seats[contact.seat or ""]
                self._cancel(contact, seat, f"no answer within {self._ring_timeout(contact, seat):g} s")
                self._release(contact, seat, "no_answer", count_rona=True)
            else:
                self._check(self.contacts[ident])

    # -- seats ----------------------------------------------------------------------------
    def _on_login(self, e: SeatLoggedIn) -> None:
        if e.seat_id in self.index.seats:
            raise ValueError(f"seat {e.seat_id!r} is already logged in")
        if e.kind not in ("onsite", "cloud"):
            raise ValueError(f"seat {e.seat_id!r}: kind must be onsite or cloud, got {e.kind!r}")
        if e.ring_delay_s < 0 or (e.max_chats is not None and e.max_chats < 0):
            raise ValueError(f"seat {e.seat_id!r}: ring_delay_s and max_chats must be >= 0")
        skills = dict(check_skills(e.skills, f"seat {e.seat_id}"))
        self._seat_seq += 1
        max_chats = self.settings.max_chats if e.max_chats is None else e.max_chats
        if not e.calls and max_chats <= 0:
            raise ValueError(f"seat {e.seat_id!r}: a seat must take calls or chats")
        seat = Seat(e.seat_id, self._seat_seq, skills, frozenset(e.groups), e.kind, e.ring_delay_s, max_chats, e.now)
        seat.calls = e.calls
        self.index.attach(seat)
        held = self.detached.pop(e.seat_id, None)
        if held:  # its call or chats went on through an engine restart: busy on them from the start
            self._give_back(seat, held, e.ready)
            return
        self._seat_action(seat, "login_ready" if e.ready else "login", "" if e.ready else "login", refresh=False)
        self._serve(seat)

    def _on_logout(self, e: SeatLoggedOut) -> None:
        seat = self._seat(e.seat_id)
        next_seat_state(seat.id, seat.state, "logout")
        self._drop_seat(seat, "logout", "logged out")

    def _on_gone(self, e: SeatGone) -> None:
        seat = self._seat(e.seat_id)
        next_seat_state(seat.id, seat.state, "gone")
        self._drop_seat(seat, "gone", "seat vanished")

    def _drop_seat(self, seat: Seat, action: str, why: str) -> None:
        """Whatever the seat held goes back to the queue at its original place, at once."""
        self.index.detach(seat)  # first, so nothing is offered back to the vanishing seat
        if seat.offer is not None:
            contact = self.contacts[seat.offer]
            self._cancel(contact, seat, why)
            self._requeue_offered(contact, seat)
        for cid in list(seat.chats):
            contact = self.contacts[cid]
            seat.chats.remove(cid)
            self._contact_action(contact, "requeue")
            contact.seat = None
            self._place(contact, f"requeued: {why}")
        if seat.voice is not None:
            self._end_contact(self.contacts[seat.voice], seat)
        self._seat_action(seat, action, why)

    def _on_ready(self, e: SeatReady) -> None:
        seat = self._seat(e.seat_id)
        action = "ready" if seat.state in (NOT_READY, READY) else "resume"
        next_seat_state(seat.id, seat.state, action)
        if action == "resume":
            was = self.index.counts_staffed(seat)
            seat.pending = None
            self.index.staffing_changed(seat, was)
        self._seat_action(seat, action, refresh=False)
        self._serve(seat)

    def _on_not_ready(self, e: SeatNotReady) -> None:
        seat = self._seat(e.seat_id)
        next_seat_state(seat.id, seat.state, "pause")
        if seat.state in (READY, NOT_READY):
            self._seat_action(seat, "pause", e.reason)
        else:  # working: the pause waits for the seat's contacts to end
            was = self.index.counts_staffed(seat)
            seat.pending = e.reason
            self.index.staffing_changed(seat, was)
            self._seat_action(seat, "pause", f"pause pending: {e.reason}")

    def _on_skills(self, e: SeatSkillsChanged) -> None:
        seat = self._seat(e.seat_id)
        skills = dict(check_skills(e.skills, f"seat {e.seat_id}"))
        self.index.detach(seat)
        seat.skills = skills
        seat.groups = frozenset(e.groups)
        self.index.attach(seat)
        self.index.refresh_avail(seat)
        self._out.append(SeatStateChanged(seat.id, seat.state, "skills changed"))
        self._serve(seat)

    def _on_wrap_done(self, e: WrapUpDone) -> None:
        seat = self._seat(e.seat_id)
        next_seat_state(seat.id, seat.state, "wrap_done")
        self._finish_wrap(seat)

    def _finish_wrap(self, seat: Seat) -> None:
        if seat.pending:
            reason = seat.pending  # cleared by the move to not_ready
            self._seat_action(seat, "wrap_done_paused", reason)
        else:
            self._seat_action(seat, "wrap_done", refresh=False)
            self._serve(seat)

    # -- queues ---------------------------------------------------------------------------
    def _on_queue(self, e: QueueConfigured) -> None:
        q = e.queue
        if q.overflow.startswith("queue:") and q.overflow[6:] == q.name:
            raise ValueError(f"queue {q.name}: cannot overflow into itself")
        old = self.index.queues.get(q.name)
        self.index.queues[q.name] = q
        for bucket in self.index.buckets.values():
            if bucket.queue == q.name:
                bucket.configure(q)
        if old is not None and (old.strategy, old.pack_chats) != (q.strategy, q.pack_chats):
            self.index.rebuild_avail()  # the ready lists are sorted by these

    # -- queries for the adapters and the console ------------------------------------------
    # Everything outside the core reads the engine through these (views, never its index or
    # contacts table); what they return is the engine's own object, typed read-only.
    def seat(self, seat_id: str) -> SeatView | None:
        return self.index.seats.get(seat_id)

    def has_seat(self, seat_id: str) -> bool:
        return seat_id in self.index.seats

    def seats(self) -> Iterable[SeatView]:
        return self.index.seats.values()

    def seat_ids(self) -> list[str]:
        return sorted(self.index.seats)

    def seat_count(self) -> int:
        return len(self.index.seats)

    def contact(self, contact_id: str) -> ContactView | None:
        return self.contacts.get(contact_id)

    def has_contact(self, contact_id: str) -> bool:
        return contact_id in self.contacts

    def all_contacts(self) -> Iterable[ContactView]:
        return self.contacts.values()

    def queue_config(self, name: str) -> QueueConfig | None:
        return self.index.queues.get(name)

    def queue_names(self) -> list[str]:
        return sorted(self.index.queues)

    def waiting_in(self, name: str) -> int:
        queued = self.index.by_queue.get(name)
        return len(queued) if queued is not None else 0

    def seat_state(self, seat_id: str) -> dict[str, Any]:
        seat = self._seat(seat_id)
        return {
            "seat": seat.id,
            "state": seat.state,
            "reason": seat.reason,
            "pending": seat.pending,
            "since": seat.since,
            "time_in_state_s": max(0.0, self.now - seat.since),
            "offer": seat.offer,
            "voice": seat.voice,
            "chats": list(seat.chats),
            "kind": seat.kind,
        }

    def seats_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(SEAT_STATES, 0)
        for seat in self.index.seats.values():
            counts[seat.state] += 1
        return counts

    def queue_snapshot(self, name: str) -> dict[str, Any]:
        self.queue(name)
        queued = self.index.by_queue.get(name)
        waiting = len(queued) if queued is not None else 0
        oldest: float | None = queued[0] if queued else None
        return {
            "queue": name,
            "waiting": waiting,
            "longest_wait_s": max(0.0, self.now - oldest) if oldest is not None else 0.0,
        }

    def contact_position(self, contact_id: str) -> dict[str, Any]:
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise UnknownId(f"contact {contact_id!r} is not in the engine")
        if contact.entry is None:
            return {"contact": contact_id, "state": contact.state, "position": 0, "expected_wait_s": 0.0}
        pos = self.index.position(contact)
        return {
            "contact": contact_id,
            "state": contact.state,
            "position": pos + 1,
            "expected_wait_s": self.projected_wait(contact, contact.bucket, pos),
            "level": contact.level,
        }

    def live_stats(self) -> dict[str, Any]:
        """Today's counters per queue and channel, plus the current waiting and seat states."""
        return {
            "queues": {name: self.queue_snapshot(name) for name in sorted(self.index.queues)},
            "seats": self.seats_by_state(),
            "totals": self.stats.report(by=("queue", "channel")),
            "aht_s": dict(self.aht),
        }

    def interval_stats(self, interval_s: int | None = None) -> list[dict[str, Any]]:
        return self.stats.report(interval_s)


__all__ = ["Acd", "UnknownId"]
