"""Whether a seat's console is there: a table of states, with the grace period as a deadline.

Presence is about sockets only; whether the seat is logged in to the ACD is the adapter's
business (an expiry for a seat that has logged out changes nothing). A seat may have several sockets (two tabs, a refresh that connects before the old socket
closes). Losing the last one starts the grace period; any socket coming back within it resumes
the session as it was. When the grace period runs out the adapter sets the seat not ready
("disconnected") and sends its pending offer elsewhere.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Final

ONLINE: Final = "online"
AWAY: Final = "away"
OFFLINE: Final = "offline"

PRESENCE_TABLE: Final[dict[str, dict[str, str]]] = {
    OFFLINE: {"connect": ONLINE},
    ONLINE: {"connect": ONLINE, "disconnect": ONLINE, "disconnect_last": AWAY},
    AWAY: {"connect": ONLINE, "expire": OFFLINE},
}


class IllegalPresence(ValueError):
    def __init__(self, seat_id: str, state: str, action: str) -> None:
        super().__init__(f"seat {seat_id!r} in presence {state!r} cannot take {action!r}")
        self.seat_id, self.state, self.action = seat_id, state, action


def next_presence(seat_id: str, state: str, action: str) -> str:
    try:
        return PRESENCE_TABLE[state][action]
    except KeyError:
        raise IllegalPresence(seat_id, state, action) from None


@dataclass(frozen=True, slots=True)
class Connected:
    now: float
    seat_id: str
    sid: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    now: float
    seat_id: str
    sid: str


@dataclass(frozen=True, slots=True)
class Tick:
    now: float


PresenceEvent = Connected | Disconnected | Tick


@dataclass(frozen=True, slots=True)
class Resumed:
    """A socket came back within the grace period: show the session as it is."""

    seat_id: str
    away_s: float


@dataclass(frozen=True, slots=True)
class Expired:
    """No console for longer than the grace period: set the seat not ready, offers go elsewhere."""

    seat_id: str
    away_since: float


PresenceCommand = Resumed | Expired


@dataclass(slots=True)
class _Seat:
    state: str = OFFLINE
    sids: set[str] = field(default_factory=set)
    away_since: float = 0.0
    token: int = 0


class Presence:
    def __init__(self, grace_s: float) -> None:
        if not grace_s > 0:
            raise ValueError("grace_s must be positive")
        self.grace_s = grace_s
        self.now = float("-inf")
        self.seats: dict[str, _Seat] = {}
        self._timers: list[tuple[float, str, int]] = []

    def state(self, seat_id: str) -> str:
        seat = self.seats.get(seat_id)
        return seat.state if seat else OFFLINE

    def sockets(self, seat_id: str) -> frozenset[str]:
        seat = self.seats.get(seat_id)
        return frozenset(seat.sids) if seat else frozenset()

    def handle(self, event: PresenceEvent) -> list[PresenceCommand]:
        if event.now < self.now:
            raise ValueError(f"time went backwards: {event.now} < {self.now}")
        self.now = event.now
        out: list[PresenceCommand] = []
        if isinstance(event, Connected):
            seat = self.seats.setdefault(event.seat_id, _Seat())
            was = seat.state
            seat.state = next_presence(event.seat_id, seat.state, "connect")
            seat.sids.add(event.sid)
            if was == AWAY:
                seat.token += 1  # the pending expiry no longer applies
                out.append(Resumed(event.seat_id, event.now - seat.away_since))
        elif isinstance(event, Disconnected):
            seat = self.seats.get(event.seat_id) or _Seat()
            if event.sid not in seat.sids:
                raise ValueError(f"seat {event.seat_id!r} has no socket {event.sid!r}")
            action = "disconnect_last" if len(seat.sids) == 1 else "disconnect"
            seat.state = next_presence(event.seat_id, seat.state, action)
            seat.sids.discard(event.sid)
            if seat.state == AWAY:
                seat.away_since = event.now
                seat.token += 1
                heapq.heappush(self._timers, (event.now + self.grace_s, event.seat_id, seat.token))
        out.extend(self._fire())
        return out

    def _fire(self) -> list[PresenceCommand]:
        out: list[PresenceCommand] = []
        while self._timers and self._timers[0][0] <= self.now:
            _, seat_id, token = heapq.heappop(self._timers)
            seat = self.seats.get(seat_id)
            if seat is None or seat.token != token or seat.state != AWAY:
                continue
            next_presence(seat_id, seat.state, "expire")
            del self.seats[seat_id]
            out.append(Expired(seat_id, seat.away_since))
        return out

    def next_deadline(self) -> float | None:
        while self._timers:
            due, seat_id, token = self._timers[0]
            seat = self.seats.get(seat_id)
            if seat is not None and seat.token == token and seat.state == AWAY:
                return due
            heapq.heappop(self._timers)
        return None
