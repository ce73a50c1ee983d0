"""Shift managers' actions, turned into ACD events (routing changes at once) and adapter commands.

Every action carries who and why; ``ManagerDesk.apply`` refuses one without them and appends an
``ActionRecord`` to its log, so the audit trail is the log itself.

Surge (突发事件应急): cloud seats, remote staff reached at their external numbers or home browsers,
are logged in to the ACD as ``kind="cloud"`` seats for a period or until the queue drains, and the
IVR plays an emergency announcement meanwhile. The surge's life is a table; a pair missing from
it raises. Ending a surge never cuts a call: the cloud seats are set not-ready first and logged
out only once the caller reports them idle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from acd.core.config import Skills
from acd.core.events import SeatLoggedIn, SeatLoggedOut, SeatNotReady, SeatReady, SeatSkillsChanged

IDLE: Final = "idle"
ACTIVE: Final = "active"
ENDING: Final = "ending"  # no new contacts to cloud seats; waiting for them to finish

SURGE_TRANSITIONS: Final[dict[str, dict[str, str]]] = {
    IDLE: {"activate": ACTIVE},
    ACTIVE: {"extend": ACTIVE, "period_over": ENDING, "queue_drained": ENDING, "cancel": ENDING},
    ENDING: {"activate": ACTIVE, "all_idle": IDLE},
}


class IllegalTransition(ValueError):
    pass


def next_surge_state(state: str, event: str) -> str:
    try:
        return SURGE_TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(f"surge: {event!r} is not allowed in state {state!r}") from None


@dataclass(frozen=True, slots=True)
class CloudSeat:
    seat_id: str
    skills: Skills
    groups: tuple[str, ...] = ()
    ring_delay_s: float = 8.0  # an external phone rings later than a desk phone
    number: str | None = None  # external phone number; None: the seat works in a home browser


@dataclass(frozen=True, slots=True)
class MoveSeats:
    """Move seats to other skill groups now."""

    seat_ids: tuple[str, ...]
    skills: Skills
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CancelBreak:
    """Call seats back from a break (they are asked; routing sees them when they press ready)."""

    seat_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StartBreak:
    """Send seats on a break now (a moved break); they stop receiving contacts at once."""

    seat_ids: tuple[str, ...]
    reason: str = "break"


@dataclass(frozen=True, slots=True)
class MoveBreak:
    """A planned break moved in the published roster (the adapter checks and stores it first)."""

    seat_id: str
    roster: str
    old_start: str  # ISO local time
    new_start: str


@dataclass(frozen=True, slots=True)
class CallInReserves:
    """Ask reserve seats (预备座席) to come in; they count once they log in."""

    seat_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActivateSurge:
    seats: tuple[CloudSeat, ...]
    until: float | None  # None: until the queue drains
    announcement: str  # IVR text (Chinese), e.g. 因突发事件来电较多，请耐心等待


@dataclass(frozen=True, slots=True)
class EndSurge:
    pass


Action = MoveSeats | CancelBreak | StartBreak | MoveBreak | CallInReserves | ActivateSurge | EndSurge


@dataclass(frozen=True, slots=True)
class NotifySeat:
    """Tell a seat (console message, SMS to a reserve) what the manager wants."""

    seat_id: str
    text: str


@dataclass(frozen=True, slots=True)
class IvrAnnouncement:
    """Turn the IVR's emergency announcement on (text) or off (None)."""

    text: str | None


Output = SeatLoggedIn | SeatLoggedOut | SeatNotReady | SeatReady | SeatSkillsChanged | NotifySeat | IvrAnnouncement


@dataclass(frozen=True, slots=True)
class ActionRecord:
    at: float
    who: str
    why: str
    action: Action | str  # a string for automatic steps (surge ended because the queue drained)
    outputs: int


@dataclass(slots=True)
class ManagerDesk:
    """Pure state of the manager's actions: the running surge and the audit log."""

    surge_state: str = IDLE
    surge_seats: tuple[CloudSeat, ...] = ()
    surge_until: float | None = None
    surge_started: float | None = None
    # A queue is often empty for a moment while a surge builds; "until drained" means after this long.
    min_drain_s: float = 900.0
    log: list[ActionRecord] = field(default_factory=list)

    def apply(self, action: Action, *, now: float, who: str, why: str) -> list[Output]:
        if not who.strip() or not why.strip():
            raise ValueError("every manager action needs who (操作人) and why (原因)")
        out = self._apply(action, now)
        self.log.append(ActionRecord(now, who, why, action, len(out)))
        return out

    def _apply(self, action: Action, now: float) -> list[Output]:
        if isinstance(action, MoveSeats):
            return [SeatSkillsChanged(now, s, action.skills, action.groups) for s in action.seat_ids]
        if isinstance(action, CancelBreak):
            return [NotifySeat(s, "值班长已取消您的休息，请尽快置闲接听。") for s in action.seat_ids]
        if isinstance(action, StartBreak):
            return [SeatNotReady(now, s, action.reason) for s in action.seat_ids]
        if isinstance(action, MoveBreak):
            return [
                NotifySeat(
                    action.seat_id, f"您的休息时间已调整：{action.old_start[11:16]} 改为 {action.new_start[11:16]}。"
                )
            ]
        if isinstance(action, CallInReserves):
            return [NotifySeat(s, "话务量上升，请尽快上岗登录座席。") for s in action.seat_ids]
        if isinstance(action, ActivateSurge):
            return self._activate(action, now)
        return self._end(now, "cancel")

    def _activate(self, action: ActivateSurge, now: float) -> list[Output]:
        if not action.seats:
            raise ValueError("a surge needs at least one cloud seat")
        if action.until is not None and action.until <= now:
            raise ValueError("a surge's end time must be in the future")
        event = "extend" if self.surge_state == ACTIVE else "activate"
        self.surge_state = next_surge_state(self.surge_state, event)
        known = {s.seat_id for s in self.surge_seats}
        out: list[Output] = []
        for seat in action.seats:
            if seat.seat_id in known:
                out.append(SeatReady(now, seat.seat_id))
                continue
            out.append(
                SeatLoggedIn(
                    now,
                    seat.seat_id,
                    seat.skills,
                    seat.groups,
                    kind="cloud",
                    ring_delay_s=seat.ring_delay_s,
                    ready=True,
                )
            )
        self.surge_seats = self.surge_seats + tuple(s for s in action.seats if s.seat_id not in known)
        self.surge_until = action.until
        self.surge_started = now if event == "activate" else self.surge_started
        out.append(IvrAnnouncement(action.announcement))
        return out

    def _end(self, now: float, event: str) -> list[Output]:
        self.surge_state = next_surge_state(self.surge_state, event)
        out: list[Output] = [SeatNotReady(now, s.seat_id, "surge_end") for s in self.surge_seats]
        out.append(IvrAnnouncement(None))
        return out

    def tick(self, now: float, *, waiting: int, busy_seats: Iterable[str]) -> list[Output]:
        """Automatic surge steps: period over or queue drained, then log out idle cloud seats."""
        if self.surge_state == ACTIVE:
            if self.surge_until is not None and now >= self.surge_until:
                out = self._end(now, "period_over")
                self.log.append(ActionRecord(now, "system", "surge period over", "surge_end", len(out)))
                return out
            started = self.surge_started if self.surge_started is not None else now
            if self.surge_until is None and waiting == 0 and now - started >= self.min_drain_s:
                out = self._end(now, "queue_drained")
                self.log.append(ActionRecord(now, "system", "queue drained", "surge_end", len(out)))
                return out
            return []
        if self.surge_state == ENDING:
            busy = set(busy_seats)
            leaving = [s for s in self.surge_seats if s.seat_id not in busy]
            self.surge_seats = tuple(s for s in self.surge_seats if s.seat_id in busy)
            out2: list[Output] = [SeatLoggedOut(now, s.seat_id) for s in leaving]
            if not self.surge_seats:
                self.surge_state = next_surge_state(self.surge_state, "all_idle")
                self.surge_until = self.surge_started = None
            return out2
        return []
