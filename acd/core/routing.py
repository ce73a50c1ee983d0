"""Contact side of the engine: arrival, widening, offers and their outcomes, the end of contacts."""

from __future__ import annotations

import math
from typing import Any

from acd.core.base import CHECK, MAX_SHOWN_WAIT, WRAP, CoreState, Needs, Route
from acd.core.commands import Announce, CancelOffer, Overflow, Widened
from acd.core.config import CHANNELS, INTERNET_CHANNELS, QueueConfig, check_skills, media_of
from acd.core.events import (
    CallbackRequested,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    SeatReplied,
    TalkResumed,
)
from acd.core.model import Bucket, Contact, Level, Seat, needs_class
from acd.core.states import BUSY, CALLBACK, CONNECTED, NOT_READY, OFFERED, READY, RESERVED, next_contact_state


class RoutingMixin(CoreState):
    # -- helpers --------------------------------------------------------------------------
    def _contact_action(self, contact: Contact, action: str) -> None:
        contact.state = next_contact_state(contact.id, contact.state, action)

    def _route(self, q: QueueConfig, media: str, needs: Needs, ident: str) -> Route:
        """The buckets a contact may widen through, their class and the needs themselves, one
        object of each shared by all contacts with the same needs (500,000 waiting contacts
        would otherwise carry 500,000 copies of a few hundred needs)."""
        ckey = (q.name, media, *needs)
        found = self._level_cache.get(ckey)
        if found is not None and found[0] is q:  # hashing the queue itself would cost more
            return found[1]
        skills, preferred, language = needs
        need = dict(q.skills)
        for name, level in check_skills(skills, f"contact {ident}"):
            need[name] = max(need.get(name, 0), level)
        if language:
            need[f"lang:{language}"] = max(need.get(f"lang:{language}", 0), 1)
        pref = {k: v for k, v in check_skills(preferred, f"contact {ident}") if k not in need}
        groups, cloud = q.groups, False

        def key() -> tuple[str, str, tuple[tuple[str, int], ...], tuple[str, ...], bool]:
            return (q.name, media, tuple(sorted({**need, **pref}.items())), groups, cloud)

        levels = [Level(self.index.bucket(key()), "start", None)]
        for i, step in enumerate(q.widening):
            if step == "proficiency":
                floor = q.floor_proficiency
                need = {k: v if k.startswith("lang:") else min(v, floor) for k, v in need.items()}
                pref = {k: min(v, floor) for k, v in pref.items()}
            elif step == "preferred":
                pref = {}
            elif step == "groups":
                groups = ()
            else:
                cloud = True
            bucket = self.index.bucket(key())
            if bucket is not levels[-1].bucket:
                levels.append(Level(bucket, step, q.widen_after_s[i] if q.widen_after_s else None))
        result = tuple(levels)
        route = (result, needs_class(result), needs)
        if len(self._level_cache) > 100_000:  # needs are few in practice; never let it grow unbounded
            self._level_cache.clear()
        self._level_cache[ckey] = (q, route)
        return route

    def projected_wait(self, contact: Contact, bucket: Bucket, position: int) -> float:
        """Expected wait from the position in a bucket: (position + 1) x AHT / seats serving it."""
        servers = bucket.staffed * (self.settings.max_chats if bucket.media == "chat" else 1)
        if servers <= 0:
            return math.inf
        return (position + 1) * self.aht[bucket.media] / servers

    def _widen_reason(self, contact: Contact, q: QueueConfig) -> str | None:
        if contact.level + 1 >= len(contact.levels):
            return None
        elapsed = self.now - contact.enq
        after = contact.levels[contact.level + 1].after_s
        if after is not None and elapsed >= after:
            return f"waited {elapsed:.0f} s >= fixed step {after:g} s"
        if not q.widen_on_projection:
            return None
        bucket = contact.bucket
        key = (contact.prio, contact.qprio, contact.enq, contact.seq)
        pos = int(bucket.waiting.bisect_left(key))
        wait = self.projected_wait(contact, bucket, pos)
        limit = self.settings.projection_margin * q.target_for(contact.channel)
        if elapsed + wait > limit:
            shown = "no seat" if math.isinf(wait) else f"{wait:.0f} s"
            return f"projected wait {shown} at position {pos + 1} with {bucket.staffed} seats > {limit:g} s"
        return None

    # -- placing a contact ----------------------------------------------------------------
    def _place(self, contact: Contact, why: str) -> None:
        """Offer to the best ready seat, widening while the target is at risk; else wait in line."""
        q = self.queue(contact.queue)
        prefer = None
        if self.settings.repeat_caller and contact.caller is not None:
            seat_id = self.last_seat.get(contact.caller)
            prefer = self.index.seats.get(seat_id) if seat_id is not None else None
        while True:
            seat = self.index.best_seat(contact.bucket, prefer, contact.avoid)
            if seat is not None and contact.bucket.keep:
                held = self._held_until(contact)
                if held is not None and self.now < held and self.index.kept_languages(seat):
                    seat = self.index.best_unkept_seat(contact.bucket, contact.avoid)
            if seat is not None and self._take_earlier(contact, seat):
                continue  # the seat went to an earlier contact of the same needs: look again
            if seat is not None:
                reason = why
                if seat is prefer:
                    reason = f"{why}; repeat caller, served last by {seat.id}"
                self._offer(contact, seat, f"{reason}; {q.strategy} at level {contact.level}")
                return
            widen = self._widen_reason(contact, q)
            if widen is None:
                break
            contact.level += 1
            self._out.append(Widened(contact.id, contact.level, f"{contact.levels[contact.level].step}: {widen}"))
        self.index.push(contact)
        self._schedule_check(contact)

    def _held_until(self, contact: Contact) -> float | None:
        """Until when the contact may be kept off a seat that is the only one ready for a language
        (None: never; a contact that needs a language is never kept from its seats)."""
        bucket = contact.bucket
        if not bucket.keep or bucket.langs:
            return None
        return contact.enq + self.settings.projection_margin * bucket.target

    def _schedule_check(self, contact: Contact) -> None:
        q = self.queue(contact.queue)
        due = math.inf
        if contact.level + 1 < len(contact.levels):
            after = contact.levels[contact.level + 1].after_s
            if after is not None:
                due = min(due, contact.enq + after)
            if q.widen_on_projection:
                pos = self.index.position(contact)
                limit = self.settings.projection_margin * q.target_for(contact.channel)
                slack = limit - (self.now - contact.enq) - self.projected_wait(contact, contact.bucket, pos)
                due = min(due, self.now + max(1.0, slack))
        if self._max_wait_applies(contact, q):
            due = min(due, contact.enq + (q.max_wait_s or 0.0))
        held = self._held_until(contact) if contact.bucket.keep else None
        if held is not None and self.now < held:
            due = min(due, held)  # then a seat it was kept off may take it
        if contact.next_announce is not None:
            due = min(due, contact.next_announce)
        due = max(due, self.now + 0.001)  # a due time in the past must not fire in a loop
        contact.timer += 1
        if due < math.inf:
            self._timer(due, CHECK, contact.id, contact.timer)

    def _check(self, contact: Contact) -> None:
        """A waiting contact's timer: max wait, widening, announcements."""
        q = self.queue(contact.queue)
        elapsed = self.now - contact.enq
        late = self._max_wait_applies(contact, q) and elapsed >= (q.max_wait_s or 0.0)
        if late and self._overflow(contact, q, f"waited {elapsed:.0f} s >= max wait {q.max_wait_s} s"):
            return
        if contact.next_announce is not None and self.now >= contact.next_announce:
            pos = self.index.position(contact)
            wait = min(self.projected_wait(contact, contact.bucket, pos), MAX_SHOWN_WAIT)
            self._out.append(Announce(contact.id, pos + 1, round(wait, 1), "periodic announcement"))
            every = q.announce_every_s or 0.0
            contact.next_announce = self.now + every if every else None
        if self._widen_reason(contact, q) is not None:
            self.index.pull(contact)
            self._place(contact, "widened while waiting")
            return
        held = self._held_until(contact) if contact.bucket.keep else None
        if held is not None and self.now >= held and contact.bucket.avail:  # kept off a ready seat till now
            self._place_unheld(contact.bucket)
            if contact.entry is None:
                return
        self._schedule_check(contact)

    def _first_unheld(self, bucket: Bucket) -> tuple[int, int, float, int, Contact] | None:
        """The first contact of a line, in its order, whose margin is used up (keep_language_seat).
        Within one priority class an earlier contact's margin ends first, so only contacts of a better
        class that arrived within the margin are passed over."""
        margin = self.settings.projection_margin * bucket.target
        now = self.now
        for entry in bucket.waiting:
            if now >= entry[2] + margin:
                return entry  # type: ignore[no-any-return]
        return None

    def _place_unheld(self, bucket: Bucket) -> None:
        """A contact's margin ended while a seat it was kept off is ready: the contacts of its line
        whose margins are used up go to the ready seats, in line order (margins ending at the same
        instant fire in the order their timers were set, which is not always the line's)."""
        while bucket.avail:
            entry = self._first_unheld(bucket)
            if entry is None:
                return
            first = entry[4]
            self.index.pull(first)
            self._place(first, f"waited {self.now - first.enq:.1f} s, no longer kept off a language seat")

    @staticmethod
    def _max_wait_applies(contact: Contact, q: QueueConfig) -> bool:
        if q.max_wait_s is None or contact.overflowed:
            return False
        # the citizen chose a call-back: no message to play, no second offer of one
        return contact.state != CALLBACK or q.overflow.startswith("queue:")

    def _overflow(self, contact: Contact, q: QueueConfig, why: str) -> bool:
        """Apply the queue's overflow action; True when the contact left this queue."""
        action = q.overflow
        if action == "callback":
            contact.overflowed = True
            self._out.append(Overflow(contact.id, "callback", f"{why}: offer a call-back"))
            return False
        self.index.pull(contact)
        if action.startswith("queue:"):
            target = self.queue(action[6:])
            self._contact_action(contact, "move")
            contact.queue = target.name
            contact.qprio = target.priority
            # the new queue's max wait counts from the original enqueue time too; one already
            # passed would bounce the contact on every tick, so it stays put then
            elapsed = self.now - contact.enq
            contact.overflowed = target.max_wait_s is None or elapsed >= target.max_wait_s
            contact.levels, contact.klass, contact.needs = self._route(target, contact.media, contact.needs, contact.id)
            contact.level = 0
            self._out.append(Overflow(contact.id, action, f"{why}: moved to {target.name}"))
            self._place(contact, f"overflow from {q.name}")
            return True
        self._contact_action(contact, "overflow")
        self.stats.add(contact.enq, contact.home, contact.channel, "overflowed")
        del self.contacts[contact.id]
        self._out.append(Overflow(contact.id, "message", f"{why}: closing message"))
        return True

    # -- arrival and departure ------------------------------------------------------------
    def _on_arrived(self, e: ContactArrived) -> None:
        self._arrive(e, 0, counted=e.enqueued_at is not None)

    def _arrive(self, e: ContactArrived, depth: int, counted: bool) -> None:
        """``counted``: a re-queued contact was counted as offered when it first arrived."""
        if e.channel not in CHANNELS:
            raise ValueError(f"contact {e.contact_id!r}: channel must be one of {', '.join(CHANNELS)}")
        if e.contact_id in self.contacts:
            raise ValueError(f"contact {e.contact_id!r} is already in the engine")
        if e.priority not in self.settings.priorities:
            raise ValueError(f"contact {e.contact_id!r}: unknown priority {e.priority!r}")
        if e.callback_number is not None and (e.channel != "callback" or not e.callback_number):
            raise ValueError(f"contact {e.contact_id!r}: a call-back number needs the callback channel and digits")
        q = self.queue(e.queue)
        enq = self.now if e.enqueued_at is None else min(float(e.enqueued_at), self.now)
        media = media_of(e.channel)
        needs = (e.skills, e.preferred, e.language)
        levels, klass, needs = self._route(q, media, needs, e.contact_id)
        if not q.is_open(self.now):
            self.stats.add(enq, q.name, e.channel, "closed")
            self._out.append(Overflow(e.contact_id, "message", f"queue {q.name} is closed now"))
            return
        queued = self.index.by_queue.get(q.name)
        if q.max_length is not None and queued is not None and len(queued) >= q.max_length:
            self.stats.add(enq, q.name, e.channel, "blocked")
            if q.overflow.startswith("queue:") and depth < len(self.index.queues):
                self._out.append(Overflow(e.contact_id, q.overflow, f"queue {q.name} full ({q.max_length})"))
                moved = ContactArrived(**{**_fields(e), "queue": q.overflow[6:], "enqueued_at": enq})
                self._arrive(moved, depth + 1, counted)
            else:
                action = "message" if q.overflow.startswith("queue:") else q.overflow
                self._out.append(Overflow(e.contact_id, action, f"queue {q.name} full ({q.max_length})"))
            return
        self._seq += 1
        prio = self.settings.priorities[e.priority]
        contact = Contact(e.contact_id, e.channel, media, q, prio, enq, self._seq, e.caller, levels, self.now, klass)
        contact.needs = needs
        contact.avoid = e.avoid_seat
        if counted:
            if e.home is not None and e.home in self.index.queues:
                contact.home = e.home
            contact.answered_before = e.answered
            contact.replied = e.replied
        self.contacts[contact.id] = contact
        if not counted:
            self.stats.add(enq, contact.home, contact.channel, "offered")
        while contact.level + 1 < len(levels) and (levels[contact.level + 1].after_s or math.inf) <= self.now - enq:
            contact.level += 1  # fixed steps already passed before a re-queue
        if q.announce_every_s is not None and media == "voice":
            contact.next_announce = self.now + q.announce_every_s
        if e.callback_number is not None:  # waits for a call back from the start
            self._contact_action(contact, "callback")
            contact.number = e.callback_number
            contact.next_announce = None
            self.stats.add(enq, contact.home, contact.channel, "callbacks")
        self._place(contact, "arrived")

    def _on_abandoned(self, e: ContactAbandoned) -> None:
        contact = self._contact(e.contact_id)
        if contact.state == CONNECTED:
            self._on_ended(ContactEnded(e.now, e.contact_id))
            return
        next_contact_state(contact.id, contact.state, "abandon")
        self._abandon(contact)

    def _abandon(self, contact: Contact) -> None:
        seat = self.index.seats.get(contact.seat or "") if contact.state == OFFERED else None
        self.index.pull(contact)
        self._contact_action(contact, "abandon")
        if contact.answered_at is None and not contact.answered_before:
            self.stats.abandoned(contact.enq, contact.home, contact.channel, self.now - contact.enq)
        del self.contacts[contact.id]
        if seat is not None:
            self._out.append(CancelOffer(contact.id, seat.id, "citizen hung up", contact.channel))
            seat.offer = None
            self._free_seat(seat, count_rona=False, unreachable=False)

    def _on_callback(self, e: CallbackRequested) -> None:
        contact = self._contact(e.contact_id)
        next_contact_state(contact.id, contact.state, "callback")
        if not e.number:
            raise ValueError(f"contact {e.contact_id!r}: a call-back needs a number")
        self._contact_action(contact, "callback")
        contact.number = e.number
        contact.next_announce = None
        self.stats.add(contact.enq, contact.home, contact.channel, "callbacks")

    def _on_replied(self, e: SeatReplied) -> None:
        contact = self._contact(e.contact_id)
        if contact.state != CONNECTED:
            raise ValueError(f"contact {e.contact_id!r} is {contact.state}, not connected to a seat")
        if not contact.replied and contact.channel in INTERNET_CHANNELS:
            contact.replied = True
            self.stats.replied(contact.enq, contact.home, contact.channel, self.now - contact.enq)

    def _on_ended(self, e: ContactEnded) -> None:
        contact = self._contact(e.contact_id)
        if contact.state != CONNECTED:  # hung up before a seat answered
            next_contact_state(contact.id, contact.state, "abandon")
            self._abandon(contact)
            return
        held = self.detached.get(contact.seat or "")
        if held is not None and contact.id in held:  # its seat has not signed in again
            self._contact_action(contact, "end")
            held.remove(contact.id)
            if not held:
                del self.detached[contact.seat or ""]
            self._count_handled(contact)
            del self.contacts[contact.id]
            return
        seat = self._seat(contact.seat or "")
        self._end_contact(contact, seat)
        self._after_end(seat, contact.media)

    def _end_contact(self, contact: Contact, seat: Seat) -> None:
        self._contact_action(contact, "end")
        if seat.voice == contact.id:
            seat.voice = None
        else:
            seat.chats.remove(contact.id)
        self._count_handled(contact)
        del self.contacts[contact.id]

    def _count_handled(self, contact: Contact) -> None:
        handled = self.now - (contact.answered_at or self.now)
        self.stats.add(contact.enq, contact.home, contact.channel, "handled")
        self.stats.add(contact.enq, contact.home, contact.channel, "handle_sum", handled)
        alpha = self.settings.aht_alpha
        self.aht[contact.media] = (1 - alpha) * self.aht[contact.media] + alpha * handled

    def _on_talk_resumed(self, e: TalkResumed) -> None:
        if e.contact_id in self.contacts:
            raise ValueError(f"contact {e.contact_id!r} is already in the engine")
        if e.channel not in CHANNELS:
            raise ValueError(f"contact {e.contact_id!r}: channel must be one of {', '.join(CHANNELS)}")
        q = self.queue(e.queue)
        media = media_of(e.channel)
        seat = self.index.seats.get(e.seat_id)
        waiting = [self.contacts[c] for c in self.detached.get(e.seat_id, ())]
        if media == "voice" and (
            (seat is not None and seat.voice is not None) or any(c.media == "voice" for c in waiting)
        ):
            raise ValueError(f"seat {e.seat_id!r} is on another call")
        enq = min(float(e.enqueued_at), self.now)
        levels, klass, needs = self._route(q, media, ((), (), None), e.contact_id)
        self._seq += 1
        prio = self.settings.priorities["normal"]
        contact = Contact(e.contact_id, e.channel, media, q, prio, enq, self._seq, e.caller, levels, self.now, klass)
        contact.needs = needs
        contact.state = CONNECTED  # connected before the restart: offered and answered then
        contact.seat = e.seat_id
        contact.answered_at = min(max(float(e.answered_at), enq), self.now)
        contact.answered_before = True
        contact.replied = e.replied
        self.contacts[contact.id] = contact
        if seat is not None and seat.offer is None and seat.state in (READY, NOT_READY):
            self._attach_talk(contact, seat, "talk_resumed")
        elif seat is not None and seat.state == BUSY and media != "voice":
            seat.chats.append(contact.id)  # a seat busy on chats takes its own back at once
            self.index.refresh_avail(seat)
        else:  # the seat signs in later (or has an offer ringing now): it gets the contact then
            self.detached.setdefault(e.seat_id, []).append(contact.id)

    def _attach_talk(
        self, contact: Contact, seat: Seat, action: str, pause: str | None = None, serve: bool = True
    ) -> None:
        """A resumed call or chat becomes the seat's: busy now; a seat that was not ready (or signs
        in not ready) is not ready again once it is over."""
        if pause is None and seat.state == NOT_READY:
            pause = seat.reason or "break"
        self._seat_action(seat, action, f"connected {contact.id}", refresh=False)
        if contact.media == "voice":
            seat.voice = contact.id
        else:
            seat.chats.append(contact.id)
        if pause:
            was = self.index.counts_staffed(seat)
            seat.pending = pause
            self.index.staffing_changed(seat, was)
        if serve:
            self._serve(seat)

    def _give_back(self, seat: Seat, contacts: list[str], ready: bool) -> None:
        """A seat signs in to the calls and chats it held before an engine restart."""
        first, *rest = contacts
        # Everything it held first, then the room left: served after the first chat alone, a seat
        # that held three chats was offered a fourth (found by the faults tier's busy-hour kill).
        self._attach_talk(self.contacts[first], seat, "login_talking", None if ready else "login", serve=False)
        for cid in rest:
            contact = self.contacts[cid]
            if contact.media == "voice":
                seat.voice = cid
            else:
                seat.chats.append(cid)
        self.index.refresh_avail(seat)
        self._serve(seat)

    def _after_end(self, seat: Seat, media: str) -> None:
        if seat.state == RESERVED:
            self._seat_action(seat, "end_busy")
            return
        if seat.load:
            self._seat_action(seat, "end_busy", refresh=False)
        else:
            wrap = self.settings.wrap_up_s.get(media, 0.0)
            if wrap > 0:
                self._seat_action(seat, "end_wrap", f"wrap-up {wrap:g} s")
                seat.wrap_token += 1
                self._timer(self.now + wrap, WRAP, seat.id, seat.wrap_token)
                return
            if seat.pending:
                reason = seat.pending  # cleared by the move to not_ready
                self._seat_action(seat, "end_paused", reason)
                return
            self._seat_action(seat, "end_idle", refresh=False)
        self._serve(seat)


def _fields(e: ContactArrived) -> dict[str, Any]:
    return {name: getattr(e, name) for name in e.__dataclass_fields__}
