"""The indexes behind routing: buckets by skill, seats per bucket, waiting contacts per bucket.

Every operation touches only the buckets one seat or one contact belongs to, never all
waiting contacts or all seats, so an event costs O(k log n) with k the buckets of a seat.
"""

from __future__ import annotations

import math
from typing import Any

from sortedcontainers import SortedList

from acd.core.config import QueueConfig
from acd.core.model import Bucket, BucketKey, Contact, Seat
from acd.core.states import BUSY, READY, STAFFED

INF = math.inf


class Index:
    def __init__(self, max_chats_default: int, chats_during_call: bool) -> None:
        self.buckets: dict[BucketKey, Bucket] = {}
        self._by_skill: dict[str, list[Bucket]] = {}
        self._no_skill: list[Bucket] = []
        self.seats: dict[str, Seat] = {}  # logged-in seats
        self._seats_by_skill: dict[str, dict[str, Seat]] = {}
        self.queues: dict[str, QueueConfig] = {}
        # queue -> SortedList of enqueue times (equal times are interchangeable: only the count and
        # the oldest are read), the contact's own float, so a waiting contact costs one slot here
        self.by_queue: dict[str, Any] = {}
        # needs class -> SortedList of the entries of its contacts that may still widen
        self.classes: dict[tuple[int, ...], Any] = {}
        self.chats_during_call = chats_during_call
        self.max_chats_default = max_chats_default

    # -- buckets ---------------------------------------------------------------------------
    def bucket(self, key: BucketKey) -> Bucket:
        found = self.buckets.get(key)
        if found is not None:
            return found
        bucket = Bucket(len(self.buckets), key)
        if bucket.queue in self.queues:
            bucket.configure(self.queues[bucket.queue])
        self.buckets[key] = bucket
        skills = bucket.skills
        if skills:
            self._by_skill.setdefault(skills[0][0], []).append(bucket)
            # the rarest skill gives the fewest seats to check
            rarest = min((self._seats_by_skill.get(name, {}) for name, _ in skills), key=len)
            candidates = list(rarest.values())
        else:
            self._no_skill.append(bucket)
            candidates = list(self.seats.values())
        for seat in candidates:
            if bucket.accepts(seat):
                seat.buckets.append(bucket)
                if seat.state in STAFFED and not seat.pending:
                    bucket.staffed += 1
                self._set_avail(seat, bucket)
                seat.avail_sig = None
        return bucket

    def _candidate_buckets(self, seat: Seat) -> list[Bucket]:
        out = [b for b in self._no_skill if b.accepts(seat)]
        for name in seat.skills:
            out.extend(b for b in self._by_skill.get(name, ()) if b.accepts(seat))
        out.sort(key=lambda b: b.id)  # creation order: the same on replay and after restore
        return out

    # -- seats -----------------------------------------------------------------------------
    def attach(self, seat: Seat) -> None:
        self.seats[seat.id] = seat
        for name in seat.skills:
            self._seats_by_skill.setdefault(name, {})[seat.id] = seat
        seat.buckets = self._candidate_buckets(seat)
        seat.avail_sig = None
        if self.counts_staffed(seat):
            for b in seat.buckets:
                b.staffed += 1

    def detach(self, seat: Seat) -> None:
        self.drop_avail(seat)
        if self.counts_staffed(seat):
            for b in seat.buckets:
                b.staffed -= 1
        seat.buckets = []
        for name in seat.skills:
            self._seats_by_skill.get(name, {}).pop(seat.id, None)
        self.seats.pop(seat.id, None)

    @staticmethod
    def counts_staffed(seat: Seat) -> bool:
        return seat.state in STAFFED and not seat.pending

    def staffing_changed(self, seat: Seat, was: bool) -> None:
        """Call after a state change with what ``counts_staffed`` said before it."""
        now_staffed = self.counts_staffed(seat)
        if now_staffed != was:
            step = 1 if now_staffed else -1
            for b in seat.buckets:
                b.staffed += step

    def can_take(self, seat: Seat, media: str) -> bool:
        if seat.offer is not None or seat.pending:
            return False
        if seat.state == READY:
            return seat.calls if media == "voice" else seat.max_chats > 0
        if seat.state != BUSY or media != "chat":
            return False
        return len(seat.chats) < seat.max_chats and (seat.voice is None or self.chats_during_call)

    def _entry(self, seat: Seat, bucket: Bucket) -> tuple[float, float, float, int, Seat]:
        queue = self.queues.get(bucket.queue)
        strategy = queue.strategy if queue else "longest_idle"
        k0: float
        if strategy == "least_occupied":
            k0 = seat.load / max(1, seat.max_chats) if bucket.media == "chat" else 0.0
            k1, k2 = seat.occupied_s, seat.idle_since
        elif strategy == "highest_proficiency":
            prof = sum(seat.skills.get(name, 0) for name, _ in bucket.skills) or max(seat.skills.values(), default=0)
            k0, k1, k2 = -float(prof), seat.ring_delay_s, seat.idle_since
        elif strategy == "least_skilled":  # keep the seats with rare skills free for the calls only they can take
            k0, k1, k2 = seat.ring_delay_s, float(len(seat.skills)), seat.idle_since
        else:
            k0, k1, k2 = seat.ring_delay_s, seat.idle_since, 0.0
        if queue is not None and queue.pack_chats and bucket.media == "chat":
            # the fullest seat first; the strategy's last tie-break gives way to the login order
            return (-float(seat.load), k0, k1, seat.seq, seat)
        return (k0, k1, k2, seat.seq, seat)

    def _set_avail(self, seat: Seat, bucket: Bucket) -> None:
        old = seat.avail.get(bucket)
        new = self._entry(seat, bucket) if self.can_take(seat, bucket.media) else None
        if old == new:
            return
        if old is not None:
            bucket.avail.remove(old)
            del seat.avail[bucket]
        if new is not None:
            bucket.avail.add(new)
            seat.avail[bucket] = new

    def refresh_avail(self, seat: Seat) -> None:
        """Put the seat into (or take it out of) the ready lists of its buckets."""
        voice = self.can_take(seat, "voice")
        chat = self.can_take(seat, "chat")
        # everything the ready-list entries depend on; unchanged means nothing to do
        sig = (voice, chat, seat.load, seat.idle_since, seat.occupied_s, len(seat.buckets))
        if sig == seat.avail_sig:
            return
        seat.avail_sig = sig
        if not seat.avail and not (voice or chat):
            return
        for b in seat.buckets:
            self._set_avail(seat, b)

    def drop_avail(self, seat: Seat) -> None:
        for bucket, entry in seat.avail.items():
            bucket.avail.remove(entry)
        seat.avail.clear()
        seat.avail_sig = None

    def rebuild_avail(self) -> None:
        """After a queue's strategy changed: recompute every ready list."""
        for seat in self.seats.values():
            self.drop_avail(seat)
            self.refresh_avail(seat)

    # -- contacts --------------------------------------------------------------------------
    def push(self, contact: Contact) -> None:
        entry = (contact.prio, contact.qprio, contact.enq, contact.seq, contact)
        contact.entry = entry
        bucket = contact.bucket
        bucket.waiting.add(entry)
        if bucket.head is None or entry < bucket.head:
            bucket.head = entry
        queued = self.by_queue.get(contact.queue)
        if queued is None:
            queued = self.by_queue[contact.queue] = SortedList()
        queued.add(contact.enq)
        if contact.level + 1 < len(contact.levels):
            tracked = self.classes.get(contact.klass)
            if tracked is None:
                tracked = self.classes[contact.klass] = SortedList()
            tracked.add(entry)

    def pull(self, contact: Contact) -> None:
        if contact.entry is not None:
            bucket = contact.bucket
            bucket.waiting.remove(contact.entry)
            if bucket.head is contact.entry:
                bucket.head = bucket.waiting[0] if bucket.waiting else None
            if contact.level + 1 < len(contact.levels):
                self.classes[contact.klass].remove(contact.entry)
            contact.entry = None
            self.by_queue[contact.queue].remove(contact.enq)

    def earlier_of_class(self, contact: Contact) -> Contact | None:
        """A contact of the same needs that came before and still waits at a narrower level."""
        if contact.level == 0:
            return None
        tracked = self.classes.get(contact.klass)
        if not tracked:
            return None
        key = (contact.prio, contact.qprio, contact.enq, contact.seq)
        for entry in tracked:
            if entry[:4] >= key:
                return None
            other: Contact = entry[4]
            if other.level < contact.level:
                return other
        return None

    def position(self, contact: Contact) -> int:
        """Contacts ahead in its bucket (0 = next)."""
        if contact.entry is None:
            return 0
        return int(contact.bucket.waiting.bisect_left(contact.entry))

    def kept_languages(self, seat: Seat) -> frozenset[str]:
        """Languages for which this seat is the only one ready to take a voice contact needing them."""
        if not self.can_take(seat, "voice"):
            return frozenset()
        kept: set[str] = set()
        for b in seat.buckets:
            if b.langs and b.voice and len(b.avail) == (1 if b in seat.avail else 0):
                kept.update(b.langs)
        return frozenset(kept)

    def no_longer_alone(self, seat: Seat) -> list[Seat]:
        """Seats that this ready seat joined in the ready list of a language bucket, where they were alone."""
        out: list[Seat] = []
        for b in seat.avail:
            if b.langs and b.voice and len(b.avail) == 2:
                first: Seat = b.avail[0][4]
                other = b.avail[1][4] if first is seat else first
                if other not in out:
                    out.append(other)
        return out

    def best_unkept_seat(self, bucket: Bucket, avoid: str | None) -> Seat | None:
        """The best ready seat of the bucket that is not the only one ready for a language."""
        fallback = None
        for entry in bucket.avail:
            seat: Seat = entry[4]
            if self.kept_languages(seat):
                continue
            if seat.id != avoid:
                return seat
            fallback = seat
        return fallback

    def best_seat(self, bucket: Bucket, prefer: Seat | None, avoid: str | None = None) -> Seat | None:
        if prefer is not None and bucket in prefer.avail and prefer.id != avoid:
            return prefer
        if not bucket.avail:
            return None
        seat: Seat = bucket.avail[0][4]
        if seat.id == avoid:
            # The next best, else the avoided seat after all (better than leaving the citizen waiting).
            return bucket.avail[1][4] if len(bucket.avail) > 1 else seat
        return seat
