"""Shift templates, seats, rules and the roster they make: plain data shared by the roster modules.

Time is counted in slots of ``slot_minutes`` (30 by default) from the roster's first midnight, so a
night shift that crosses midnight is an ordinary run of slots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BreakRule:
    """A break of ``length`` slots starting ``earliest``..``latest`` slots after the shift starts."""

    length: int
    earliest: int
    latest: int
    paid: bool = True
    label: str = "break"  # "break" (小休) or "meal" (用餐)

    def __post_init__(self) -> None:
        if self.length < 1 or self.earliest < 0 or self.latest < self.earliest:
            raise ValueError(f"break rule needs length >= 1 and 0 <= earliest <= latest: {self!r}")


@dataclass(frozen=True, slots=True)
class ShiftTemplate:
    """A shift shape; ``starts`` limits the slot-of-day it may begin at (None: any slot)."""

    name: str
    length: int
    breaks: tuple[BreakRule, ...] = ()
    starts: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"shift template {self.name!r} needs a length of at least one slot")
        for rule in self.breaks:
            if rule.latest + rule.length > self.length:
                raise ValueError(f"shift template {self.name!r}: a {rule.label} may end after the shift")
        if sum(rule.length for rule in self.breaks) >= self.length:
            raise ValueError(f"shift template {self.name!r}: breaks leave no time on seat")

    @property
    def on_seat(self) -> int:
        return self.length - sum(rule.length for rule in self.breaks)

    @property
    def paid(self) -> int:
        return self.length - sum(rule.length for rule in self.breaks if not rule.paid)


@dataclass(frozen=True, slots=True)
class Seat:
    """A seat (座席人员) with the skill groups they may work and the day indexes they cannot."""

    id: str
    skills: frozenset[str]
    unavailable_days: frozenset[int] = frozenset()
    max_hours_per_week: float | None = None  # part-time seats: below the rule's cap


@dataclass(frozen=True, slots=True)
class Rules:
    """Working-time rules every seat's roster must keep; hours are paid hours (unpaid meals excluded)."""

    max_hours_per_week: float = 40.0
    max_hours_per_period: float | None = None
    min_rest_hours: float = 11.0
    max_consecutive_days: int = 6
    slot_minutes: int = 30

    def __post_init__(self) -> None:
        if self.slot_minutes <= 0 or (24 * 60) % self.slot_minutes:
            raise ValueError(f"slot_minutes must divide a day, got {self.slot_minutes!r}")
        if self.max_hours_per_week <= 0 or self.min_rest_hours < 0 or self.max_consecutive_days < 1:
            raise ValueError("rules need max_hours_per_week > 0, min_rest_hours >= 0, max_consecutive_days >= 1")

    @property
    def slots_per_day(self) -> int:
        return 24 * 60 // self.slot_minutes

    def hours(self, slots: int) -> float:
        return slots * self.slot_minutes / 60.0


@dataclass(frozen=True, slots=True)
class Break:
    start: int  # absolute slot
    length: int
    label: str
    paid: bool


@dataclass(frozen=True, slots=True)
class Shift:
    """One shift in a roster; ``seat`` is None when no seat could take it within the rules."""

    group: str
    template: str
    start: int
    length: int
    breaks: tuple[Break, ...]
    seat: str | None = None

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def on_seat_slots(self) -> int:
        return self.length - sum(b.length for b in self.breaks)

    @property
    def paid_slots(self) -> int:
        return self.length - sum(b.length for b in self.breaks if not b.paid)

    def on_seat_at(self, slot: int) -> bool:
        if not (self.start <= slot < self.end):
            return False
        return not any(b.start <= slot < b.start + b.length for b in self.breaks)


@dataclass(frozen=True, slots=True)
class Roster:
    slot_minutes: int
    horizon: int  # slots
    shifts: tuple[Shift, ...]

    def coverage(self, group: str) -> list[int]:
        """Seats on seat (on shift and not on a break) per slot for ``group``."""
        cov = [0] * self.horizon
        for shift in self.shifts:
            if shift.group != group or shift.seat is None:
                continue
            for slot in range(shift.start, min(shift.end, self.horizon)):
                cov[slot] += 1
            for b in shift.breaks:
                for slot in range(b.start, min(b.start + b.length, self.horizon)):
                    cov[slot] -= 1
        return cov

    def on_seat_hours(self) -> float:
        return sum(s.on_seat_slots for s in self.shifts if s.seat is not None) * self.slot_minutes / 60.0

    def paid_hours(self) -> float:
        return sum(s.paid_slots for s in self.shifts if s.seat is not None) * self.slot_minutes / 60.0

    def unassigned(self) -> tuple[Shift, ...]:
        return tuple(s for s in self.shifts if s.seat is None)

    def shortfall(self, requirement: Mapping[str, Sequence[int]]) -> dict[str, list[tuple[int, int]]]:
        """(slot, missing seats) for every slot the assigned shifts leave short, per group."""
        out: dict[str, list[tuple[int, int]]] = {}
        for group, need in requirement.items():
            cov = self.coverage(group)
            short = [(t, need[t] - cov[t]) for t in range(min(len(need), self.horizon)) if need[t] > cov[t]]
            if short:
                out[group] = short
        return out


def move_break(shift: Shift, template: ShiftTemplate, old_start: int, new_start: int) -> Shift:
    """The shift with the break that starts at ``old_start`` moved to ``new_start`` within its rule.

    Raises ValueError when no break starts there, the new time leaves the rule's window, or it
    would overlap another break.
    """
    if shift.template != template.name:
        raise ValueError(f"shift uses template {shift.template!r}, not {template.name!r}")
    moving = next((b for b in shift.breaks if b.start == old_start), None)
    if moving is None:
        raise ValueError("no break starts at that time in this shift")
    offset = old_start - shift.start
    rule = next(
        (
            r
            for r in template.breaks
            if r.label == moving.label and r.length == moving.length and r.earliest <= offset <= r.latest
        ),
        None,
    )
    if rule is None:
        raise ValueError("the break does not match its template any more")
    if not rule.earliest <= new_start - shift.start <= rule.latest:
        raise ValueError(f"a {rule.label} must start {rule.earliest} to {rule.latest} slots after the shift starts")
    for other in shift.breaks:
        if other is not moving and new_start < other.start + other.length and other.start < new_start + moving.length:
            raise ValueError("the moved break would overlap another break")
    moved = Break(new_start, moving.length, moving.label, moving.paid)
    breaks = tuple(sorted((moved if b is moving else b for b in shift.breaks), key=lambda b: b.start))
    return Shift(shift.group, shift.template, shift.start, shift.length, breaks, shift.seat)


def default_templates() -> tuple[ShiftTemplate, ...]:
    """Common 12345 shapes at 30-minute slots: 4 h, 6 h, 8 h and a 10 h night shift.

    Meals are unpaid and an hour; short paid breaks are half an hour (the slot size).
    """
    return (
        ShiftTemplate("4h", 8),
        ShiftTemplate("6h", 12, (BreakRule(1, 4, 8),)),
        ShiftTemplate(
            "8h",
            16,
            (BreakRule(1, 3, 6), BreakRule(2, 7, 10, paid=False, label="meal"), BreakRule(1, 11, 14)),
        ),
        ShiftTemplate(
            "10h",
            20,
            (BreakRule(1, 3, 7), BreakRule(2, 8, 12, paid=False, label="meal"), BreakRule(1, 13, 18)),
        ),
    )


def plan_vs_required(
    roster: Roster, requirement: Mapping[str, Sequence[int]], day: int, slots_per_day: int
) -> list[dict[str, int | str]]:
    """Rows for one day's chart: per slot and group, required vs scheduled seats (on seat)."""
    rows: list[dict[str, int | str]] = []
    for group, need in sorted(requirement.items()):
        cov = roster.coverage(group)
        for i in range(slots_per_day):
            slot = day * slots_per_day + i
            if slot >= min(len(need), roster.horizon):
                break
            rows.append({"group": group, "slot": i, "required": need[slot], "scheduled": cov[slot]})
    return rows


def fixed_shift_on_seat_hours(need: Sequence[int], slots_per_day: int, shift_slots: int, slot_minutes: int) -> float:
    """Seat-hours of a naive plan: fixed back-to-back shifts, each staffed for its busiest slot."""
    if shift_slots < 1:
        raise ValueError("shift_slots must be >= 1")
    total = 0
    for start in range(0, len(need), shift_slots):
        block = need[start : start + shift_slots]
        total += max(block) * shift_slots
    return total * slot_minutes / 60.0
