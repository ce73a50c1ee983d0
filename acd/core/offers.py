"""Offers and their outcomes, and a freed seat looking for its next contact."""

from __future__ import annotations

import math

from acd.core.base import RING, STARVING
from acd.core.commands import CancelOffer, Offer, StartCallback, Widened
from acd.core.events import OFFER_FAILURES, OfferAccepted, OfferFailed, OfferRejected
from acd.core.model import Bucket, Contact, Seat
from acd.core.routing import RoutingMixin
from acd.core.states import CALLBACK, OFFERED


class OffersMixin(RoutingMixin):
    # -- offers ---------------------------------------------------------------------------
    def _ring_timeout(self, contact: Contact, seat: Seat) -> float:
        return self.queue(contact.queue).ring_timeout_s + seat.ring_delay_s

    def _offer(self, contact: Contact, seat: Seat, reason: str) -> None:
        callback = contact.state == CALLBACK
        self.index.pull(contact)
        self._contact_action(contact, "offer")
        contact.seat = seat.id
        seat.offer = contact.id
        self._seat_action(seat, "offer", f"offered {contact.id}")
        timeout = self._ring_timeout(contact, seat)
        contact.timer += 1
        self._timer(self.now + timeout, RING, contact.id, contact.timer)
        channel = "callback" if callback else contact.channel
        self._out.append(Offer(contact.id, seat.id, channel, timeout, reason))
        if callback:
            self._out.append(StartCallback(contact.id, seat.id, contact.number or "", f"call-back: {reason}"))

    def _offered_pair(self, contact_id: str, seat_id: str) -> tuple[Contact, Seat]:
        contact = self._contact(contact_id)
        seat = self._seat(seat_id)
        if contact.state != OFFERED or contact.seat != seat_id:
            raise ValueError(f"contact {contact_id!r} is {contact.state}, not offered to seat {seat_id!r}")
        return contact, seat

    def _on_accepted(self, e: OfferAccepted) -> None:
        contact, seat = self._offered_pair(e.contact_id, e.seat_id)
        self._contact_action(contact, "accept")
        seat.offer = None
        seat.rona = 0
        if contact.media == "voice":
            seat.voice = contact.id
        else:
            seat.chats.append(contact.id)
        self._seat_action(seat, "accept", f"connected {contact.id}", refresh=False)
        if contact.answered_at is None:
            contact.answered_at = self.now
            if not contact.answered_before:
                wait = self.now - contact.enq
                target = self.queue(contact.home).target_for(contact.channel)
                self.stats.answered(contact.enq, contact.home, contact.channel, wait, target)
        if contact.caller is not None:
            self.last_seat[contact.caller] = seat.id
        self._serve(seat)

    def _on_rejected(self, e: OfferRejected) -> None:
        contact, seat = self._offered_pair(e.contact_id, e.seat_id)
        self._release(contact, seat, "rejected", count_rona=True)

    def _on_failed(self, e: OfferFailed) -> None:
        if e.cause not in OFFER_FAILURES:
            raise ValueError(f"offer failure cause must be one of {', '.join(OFFER_FAILURES)}")
        contact, seat = self._offered_pair(e.contact_id, e.seat_id)
        unreachable = e.cause in ("unreachable", "unregistered")
        missed = not unreachable and e.cause != "not_connected"
        self._release(contact, seat, e.cause, count_rona=missed, unreachable=unreachable)

    def _cancel(self, contact: Contact, seat: Seat, why: str) -> None:
        self._out.append(CancelOffer(contact.id, seat.id, why, contact.channel))

    def _requeue_offered(self, contact: Contact, seat: Seat) -> None:
        self._contact_action(contact, "requeue_callback" if contact.number else "requeue")
        contact.seat = None
        seat.offer = None
        self._place(contact, f"requeued at original place after {seat.id}")

    def _release(self, contact: Contact, seat: Seat, why: str, count_rona: bool, unreachable: bool = False) -> None:
        """Put the contact back at its original place first (the seat is still reserved, so it is
        not offered the same contact again before every other seat had the chance)."""
        self._requeue_offered(contact, seat)
        self._free_seat(seat, count_rona, unreachable, why)

    def _free_seat(self, seat: Seat, count_rona: bool, unreachable: bool, why: str = "") -> None:
        if count_rona:
            seat.rona += 1
        pause = None
        if unreachable:
            pause = "unreachable"
        elif seat.rona >= self.settings.rona_limit:
            seat.rona = 0
            pause = "no_answer"
        elif seat.pending:
            pause = seat.pending  # cleared by the move to not_ready
        if pause is None:
            self._seat_action(seat, "release_busy" if seat.load else "release_idle", why, refresh=False)
            self._serve(seat)
        elif seat.load:  # chats in hand: not_ready once they end, as a pause asked while working
            was = self.index.counts_staffed(seat)
            seat.pending = pause
            self.index.staffing_changed(seat, was)
            self._seat_action(seat, "release_busy", f"pause pending: {pause}")
        else:
            self._seat_action(seat, "release_paused", pause)

    # -- a seat looks for work ------------------------------------------------------------
    def _serve(self, seat: Seat, release: bool = True) -> None:
        """Offer the freed seat the waiting contact most at risk; otherwise it stays ready."""
        index = self.index
        voice = index.can_take(seat, "voice")
        chat = index.can_take(seat, "chat")
        if not (voice or chat):
            index.refresh_avail(seat)  # leave ready lists it may still be in
            return
        best: Contact | None = None
        best_score: tuple[float, ...] | None = None
        best_bucket: Bucket | None = None
        now = self.now
        aht = self.aht
        max_chats = self.settings.max_chats
        kept: frozenset[str] | None = None  # languages this seat is the only ready one for, once asked
        for bucket in seat.buckets:
            head = bucket.head
            if head is None or not (voice if bucket.voice else chat):
                continue
            if bucket.keep and not bucket.langs:
                if kept is None:
                    kept = index.kept_languages(seat)
                if kept and now < head[2] + self.settings.projection_margin * bucket.target:
                    # the head is kept off this seat (its _held_until): the first whose margin is over
                    head = self._first_unheld(bucket)
                    if head is None:
                        continue
            contact: Contact = head[4]
            # the score, inlined (this loop runs for every bucket of every freed seat): starving
            # or FIFO first, then within target, then late
            prio, qprio, enq, seq = head[0], head[1], head[2], head[3]
            if best_score is not None and prio > best_score[0]:
                continue  # a lower priority class never wins
            elapsed = now - enq
            target = bucket.target
            score: tuple[float, ...]
            if bucket.fifo or elapsed >= STARVING * target:
                score = (prio, qprio, 0, enq, seq)
            elif elapsed > target:
                score = (prio, qprio, 3, enq, seq)
            else:
                # chance that no other seat of its bucket frees up before its deadline if this
                # seat passes it by (exponential handle times): take the contact needing it most
                others = (bucket.staffed - 1) * (max_chats if bucket.media == "chat" else 1)
                miss = math.exp(-(target - elapsed) * others / aht[bucket.media]) if others > 0 else 1.0
                score = (prio, qprio, 1, -miss, enq + target, seq)
            if best_score is None or score < best_score:
                best, best_score, best_bucket = contact, score, bucket
        if best is None or best_bucket is None:
            index.refresh_avail(seat)
            if release:  # a seat that was alone ready for a language may now take contacts kept off it
                for other in index.no_longer_alone(seat):
                    self._serve(other, release=False)
            return
        if self._take_earlier(best, seat):
            return
        late = self.now - best.enq
        self._offer(best, seat, f"seat freed; head of {best_bucket.label} waited {late:.0f} s")

    def _take_earlier(self, contact: Contact, seat: Seat) -> bool:
        """FIFO among equal needs: a contact that widened further must not pass an earlier one
        still waiting for a better seat; that one widens to the same level and takes the seat."""
        earlier = self.index.earlier_of_class(contact)
        if earlier is None:
            return False
        self.index.pull(earlier)
        earlier.level = contact.level
        step = earlier.levels[earlier.level].step
        self._out.append(Widened(earlier.id, earlier.level, f"{step}: {contact.id} with the same needs came later"))
        self._offer(earlier, seat, f"first of its needs at level {earlier.level}; {seat.id} freed")
        return True
