"""Response-time tracking for internet seats: first and next response, late flags, the KPI.

Events in (``CitizenWrote``, ``SeatAssigned``, ``SeatReplied``, ``ConversationClosed``,
``Tick``), commands out (``FlagLate`` to the seat and the supervisor, ``OfferElsewhere``
after the second threshold). Time is a float of seconds passed in with every event.

Internet real-time response rate (DOMAIN.md) = conversations whose first seat reply came
within T s of the citizen's first message that asked for a seat ÷ such conversations. A
conversation still inside T without a reply is *pending* and left out of both sides until
it is decided; one past T without a reply (or closed without one) counts as missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenWrote:
    conversation: str
    at: float
    asks_seat: bool = True


@dataclass(frozen=True)
class SeatAssigned:
    conversation: str
    seat: str
    at: float


@dataclass(frozen=True)
class SeatReplied:
    conversation: str
    seat: str
    at: float


@dataclass(frozen=True)
class ConversationClosed:
    conversation: str
    at: float


@dataclass(frozen=True)
class Tick:
    now: float


Event = CitizenWrote | SeatAssigned | SeatReplied | ConversationClosed | Tick

# ---- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagLate:
    """Citizen has waited past the first threshold: highlight to the seat and the supervisor."""

    conversation: str
    seat: str | None
    waited: float


@dataclass(frozen=True)
class OfferElsewhere:
    """The assigned seat has not answered past the second threshold: offer to another seat."""

    conversation: str
    seat: str
    waited: float


Command = FlagLate | OfferElsewhere

# ---- state --------------------------------------------------------------------------------


@dataclass
class ConversationTimes:
    conversation: str
    first_ask_at: float | None = None
    first_response_s: float | None = None
    next_response_s: list[float] = field(default_factory=list)
    waiting_since: float | None = None
    seat: str | None = None
    assigned_at: float | None = None
    flagged: bool = False
    offered: bool = False
    closed_at: float | None = None


@dataclass(frozen=True)
class ResponseStats:
    threshold: float
    asked: int
    in_time: int
    missed: int
    pending: int

    @property
    def rate(self) -> float | None:
        decided = self.in_time + self.missed
        return self.in_time / decided if decided else None


class UnknownConversation(KeyError):
    pass


class ResponseTracker:
    def __init__(self, realtime_threshold: float = 60.0, flag_after: float = 60.0, reassign_after: float = 120.0):
        if realtime_threshold <= 0 or flag_after <= 0 or reassign_after <= flag_after:
            raise ValueError("thresholds must be positive and reassign_after > flag_after")
        self.threshold = realtime_threshold
        self.flag_after = flag_after
        self.reassign_after = reassign_after
        self._convs: dict[str, ConversationTimes] = {}

    def times(self, conversation: str) -> ConversationTimes:
        try:
            return self._convs[conversation]
        except KeyError:
            raise UnknownConversation(conversation) from None

    def handle(self, event: Event) -> list[Command]:
        if isinstance(event, Tick):
            return self._tick(event.now)
        if isinstance(event, CitizenWrote):
            conv = self._convs.setdefault(event.conversation, ConversationTimes(event.conversation))
            if conv.closed_at is not None:
                raise ValueError(f"conversation {event.conversation} is closed")
            if event.asks_seat:
                if conv.first_ask_at is None:
                    conv.first_ask_at = event.at
                if conv.waiting_since is None:
                    # The wait runs from the oldest message not yet answered.
                    conv.waiting_since = event.at
                    conv.flagged = False
                    conv.offered = False
            return []
        conv = self.times(event.conversation)
        if isinstance(event, SeatAssigned):
            conv.seat = event.seat
            conv.assigned_at = event.at
            conv.offered = False
        elif isinstance(event, SeatReplied):
            if conv.waiting_since is not None:
                if conv.first_response_s is None and conv.first_ask_at is not None:
                    conv.first_response_s = event.at - conv.first_ask_at
                else:
                    conv.next_response_s.append(event.at - conv.waiting_since)
                conv.waiting_since = None
                conv.flagged = False
                conv.offered = False
        else:
            conv.closed_at = event.at
            conv.waiting_since = None
        return []

    def _tick(self, now: float) -> list[Command]:
        out: list[Command] = []
        for conv in self._convs.values():
            if conv.waiting_since is None:
                continue
            waited = now - conv.waiting_since
            if not conv.flagged and waited >= self.flag_after:
                conv.flagged = True
                out.append(FlagLate(conv.conversation, conv.seat, waited))
            if conv.seat is not None and not conv.offered:
                # A newly assigned seat gets the full second threshold, not the remainder of the old one.
                since = max(conv.waiting_since, conv.assigned_at or conv.waiting_since)
                if now - since >= self.reassign_after:
                    conv.offered = True
                    out.append(OfferElsewhere(conv.conversation, conv.seat, waited))
        return out

    def stats(self, now: float, since: float | None = None, until: float | None = None) -> ResponseStats:
        """The real-time response rate over conversations whose first ask fell in [since, until)."""
        asked = in_time = missed = pending = 0
        for conv in self._convs.values():
            first = conv.first_ask_at
            if first is None or (since is not None and first < since) or (until is not None and first >= until):
                continue
            asked += 1
            if conv.first_response_s is not None:
                if conv.first_response_s <= self.threshold:
                    in_time += 1
                else:
                    missed += 1
            elif conv.closed_at is not None or now - first > self.threshold:
                missed += 1
            else:
                pending += 1
        return ResponseStats(self.threshold, asked, in_time, missed, pending)

    def by_interval(self, now: float, start: float, end: float, step: float) -> list[tuple[float, ResponseStats]]:
        """Stats per interval of ``step`` seconds (e.g. 1800 for half-hours) between start and end."""
        if step <= 0 or end < start:
            raise ValueError("step must be positive and end not before start")
        out = []
        t = start
        while t < end:
            out.append((t, self.stats(now, t, min(t + step, end))))
            t += step
        return out

    def forget_closed(self, before: float) -> int:
        """Drop conversations closed before ``before`` (after they were written to storage)."""
        gone = [k for k, c in self._convs.items() if c.closed_at is not None and c.closed_at < before]
        for key in gone:
            del self._convs[key]
        return len(gone)
