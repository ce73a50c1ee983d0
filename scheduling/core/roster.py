"""Roster generator: cover the required seats per slot with few seat-hours, then give shifts to seats.

A heuristic without a solver, in three passes per skill group:

1. **Forward sweep.** Walk the slots in time order keeping the on-seat coverage of the shifts
   started so far. Breaks float: a break is taken at the first slot in its window where coverage
   exceeds the requirement for the whole break (later shifts only add coverage, so that slot stays
   covered); if its window closes first it is forced where the surplus is largest. Any remaining
   deficit at slot t is covered by new shifts starting at t (the earliest uncovered slot is best
   served by a shift that starts there), each time with the template that wastes the fewest
   slots (slots where coverage already meets the requirement), the longest on ties, so that seats
   work few long shifts.
2. **Prune.** Shifts whose every on-seat slot is over-covered are dropped, most wasteful first.
3. **Assign.** Shifts go to seats in time order; a seat is eligible when it has the skill, is
   available that day, has no shift that day, keeps the rest time, the weekly and period hour caps
   and the consecutive-day limit. Among eligible seats the one with the fewest hours so far wins,
   which spreads the load and keeps capacity for later weeks. A shift no seat can take stays
   unassigned and shows in ``Roster.shortfall``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scheduling.core.shifts import Break, BreakRule, Roster, Rules, Seat, Shift, ShiftTemplate

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Draft:
    template: ShiftTemplate
    start: int
    breaks: list[Break] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Floating:
    draft: _Draft
    rule: BreakRule
    earliest: int  # absolute slot
    latest: int


def _allowed(template: ShiftTemplate, slot: int, slots_per_day: int) -> bool:
    return template.starts is None or slot % slots_per_day in template.starts


def _latest_start(template: ShiftTemplate, t: int, slots_per_day: int) -> int | None:
    """The latest allowed start at or before ``t`` from which the shift still covers ``t``."""
    for start in range(t, max(t - template.length, -1), -1):
        if _allowed(template, start, slots_per_day):
            return start
    return None


def _cover_group(
    need: Sequence[int], templates: Sequence[ShiftTemplate], slots_per_day: int, spread: bool
) -> tuple[list[_Draft], list[int]]:
    horizon = len(need)
    cov = [0] * horizon
    drafts: list[_Draft] = []
    floating: list[_Floating] = []

    def add(slot_from: int, slot_to: int, delta: int) -> None:
        for s in range(max(slot_from, 0), min(slot_to, horizon)):
            cov[s] += delta

    def min_surplus(start: int, length: int) -> int:
        # Slots past the horizon need nobody, so a break there is free.
        return min((cov[s] - need[s] for s in range(start, min(start + length, horizon))), default=1 << 30)

    def place(f: _Floating, at: int) -> None:
        f.draft.breaks.append(Break(at, f.rule.length, f.rule.label, f.rule.paid))
        add(at, at + f.rule.length, -1)

    for t in range(horizon):
        floating.sort(key=lambda f: f.latest)
        keep: list[_Floating] = []
        for f in floating:
            if f.earliest <= t and min_surplus(t, f.rule.length) >= 1:
                place(f, t)  # free: coverage here only grows later
            else:
                keep.append(f)
        # Breaks with no free slot are forced, spread evenly over what is left of their windows:
        # forcing them all at the deadline would call in one relief shift per break.
        open_ = [f for f in keep if f.earliest <= t]
        force = 0
        for i, f in enumerate(open_):
            window = f.latest - t + 1 if spread else 1
            if spread or f.latest <= t:
                force = max(force, -(-(i + 1) // window))
        forced = {id(f) for f in open_[:force]}
        for f in open_[:force]:
            place(f, t)
        floating = [f for f in keep if id(f) not in forced]
        while cov[t] < need[t]:
            best: tuple[ShiftTemplate, int] | None = None
            best_key: tuple[int, int] = (0, 0)
            for template in templates:
                start = _latest_start(template, t, slots_per_day)
                if start is None:
                    continue
                span = range(start, start + template.length)
                waste = sum(1 for s in span if s >= horizon or cov[s] >= need[s])
                # Breaks are taken in surplus where possible, so count only on-seat time as waste.
                waste = max(0, waste - (template.length - template.on_seat))
                key = (waste, -template.length)
                if best is None or key < best_key:
                    best, best_key = (template, start), key
            if best is None:
                # No template may cover this slot: it stays short and the shortfall report shows it.
                break
            template, start = best
            draft = _Draft(template, start)
            drafts.append(draft)
            add(start, start + template.length, 1)
            for rule in template.breaks:
                f = _Floating(draft, rule, start + rule.earliest, start + rule.latest)
                if f.latest <= t:
                    # A shift started back in time (fixed start times): its break goes where the
                    # past slots have the most room, which this shift itself just added.
                    place(f, max(range(f.earliest, f.latest + 1), key=lambda p: min_surplus(p, rule.length)))
                else:
                    f.earliest = max(f.earliest, t + 1)
                    floating.append(f)
    for f in floating:  # windows reaching past the horizon: the roomiest slot, past the end if allowed
        place(f, max(range(f.earliest, f.latest + 1), key=lambda p: (min_surplus(p, f.rule.length), -p)))
    return drafts, cov


def _on_seat_slots(draft: _Draft, horizon: int) -> list[int]:
    off = {b.start + i for b in draft.breaks for i in range(b.length)}
    return [s for s in range(draft.start, min(draft.start + draft.template.length, horizon)) if s not in off]


def _prune(drafts: list[_Draft], need: Sequence[int], cov: list[int]) -> list[_Draft]:
    horizon = len(need)

    def waste(d: _Draft) -> int:
        return sum(1 for s in _on_seat_slots(d, horizon) if cov[s] > need[s])

    kept: list[_Draft] = []
    for draft in sorted(drafts, key=waste, reverse=True):
        slots = _on_seat_slots(draft, horizon)
        if all(cov[s] > need[s] for s in slots):
            for s in slots:
                cov[s] -= 1
        else:
            kept.append(draft)
    kept.sort(key=lambda d: d.start)
    return kept


@dataclass(slots=True)
class _SeatState:
    seat: Seat
    last_end: int | None = None
    last_day: int | None = None
    streak: int = 0
    paid_slots: int = 0
    week_slots: dict[int, int] = field(default_factory=dict)


def _assign(drafts: Sequence[tuple[str, _Draft]], seats: Sequence[Seat], rules: Rules) -> list[Shift]:
    per_day = rules.slots_per_day
    rest = round(rules.min_rest_hours * 60 / rules.slot_minutes)
    week_cap = rules.max_hours_per_week * 60 / rules.slot_minutes
    period_cap = None if rules.max_hours_per_period is None else rules.max_hours_per_period * 60 / rules.slot_minutes
    states = [_SeatState(seat) for seat in seats]
    by_skill: dict[str, list[_SeatState]] = {}
    for state in states:
        for skill in state.seat.skills:
            by_skill.setdefault(skill, []).append(state)
    shifts: list[Shift] = []
    for group, draft in sorted(drafts, key=lambda gd: (gd[1].start, -gd[1].template.length)):
        day = draft.start // per_day
        week = day // 7
        paid = draft.template.paid
        chosen: _SeatState | None = None
        for state in by_skill.get(group, ()):
            if day in state.seat.unavailable_days or state.last_day == day:
                continue
            if state.last_end is not None and draft.start - state.last_end < rest:
                continue
            cap = week_cap
            if state.seat.max_hours_per_week is not None:
                cap = min(cap, state.seat.max_hours_per_week * 60 / rules.slot_minutes)
            if state.week_slots.get(week, 0) + paid > cap:
                continue
            if period_cap is not None and state.paid_slots + paid > period_cap:
                continue
            streak = state.streak + 1 if state.last_day == day - 1 else 1
            if streak > rules.max_consecutive_days:
                continue
            # Fewest hours first spreads the load; fewer skills first keeps versatile seats free.
            if chosen is None or (state.paid_slots, len(state.seat.skills)) < (
                chosen.paid_slots,
                len(chosen.seat.skills),
            ):
                chosen = state
        seat_id: str | None = None
        if chosen is not None:
            chosen.streak = chosen.streak + 1 if chosen.last_day == day - 1 else 1
            chosen.last_day = day
            chosen.last_end = draft.start + draft.template.length
            chosen.paid_slots += paid
            chosen.week_slots[week] = chosen.week_slots.get(week, 0) + paid
            seat_id = chosen.seat.id
        shifts.append(
            Shift(
                group=group,
                template=draft.template.name,
                start=draft.start,
                length=draft.template.length,
                breaks=tuple(sorted(draft.breaks, key=lambda b: b.start)),
                seat=seat_id,
            )
        )
    return shifts


def generate(
    requirement: Mapping[str, Sequence[int]],
    templates: Sequence[ShiftTemplate],
    seats: Sequence[Seat],
    rules: Rules | None = None,
) -> Roster:
    """A roster covering ``requirement`` (seats on seat per slot, per skill group) within ``rules``."""
    rules = rules or Rules()
    if not templates:
        raise ValueError("at least one shift template is needed")
    lengths = {len(v) for v in requirement.values()}
    if len(lengths) > 1:
        raise ValueError("every group's requirement must cover the same number of slots")
    horizon = lengths.pop() if lengths else 0
    for group, need in requirement.items():
        if any(v < 0 for v in need):
            raise ValueError(f"group {group!r}: required seats must be >= 0")
    ids = [s.id for s in seats]
    if len(set(ids)) != len(ids):
        raise ValueError("seat ids must be unique")
    drafts: list[tuple[str, _Draft]] = []
    for group, need in sorted(requirement.items()):
        # Two ways of forcing breaks; neither wins on every requirement shape, so keep the cheaper.
        options = []
        for spread in (False, True):
            covered, cov = _cover_group(need, templates, rules.slots_per_day, spread)
            options.append(_prune(covered, need, cov))
        kept = min(options, key=lambda ds: sum(d.template.on_seat for d in ds))
        logger.debug("group %s: %d shifts", group, len(kept))
        drafts.extend((group, d) for d in kept)
    return Roster(rules.slot_minutes, horizon, tuple(_assign(drafts, seats, rules)))
