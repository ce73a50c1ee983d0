"""Roster generator: covers every slot, keeps every rule, beats a naive fixed-shift plan."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.core.roster import generate
from scheduling.core.shifts import (
    BreakRule,
    Roster,
    Rules,
    Seat,
    ShiftTemplate,
    default_templates,
    fixed_shift_on_seat_hours,
    plan_vs_required,
)

PER_DAY = 48


def weekly_need(days: int, peak: int) -> list[int]:
    """A day with a quiet night and two peaks; weekends at 70%."""
    out = []
    for day in range(days):
        scale = 0.7 if day % 7 >= 5 else 1.0
        for slot in range(PER_DAY):
            hour = slot / 2
            shape = 0.08 + math.exp(-((hour - 10) ** 2) / 5) + 0.8 * math.exp(-((hour - 15) ** 2) / 5)
            out.append(max(1, round(peak * scale * shape)))
    return out


def independent_coverage(roster: Roster, group: str) -> list[int]:
    cov = [0] * roster.horizon
    for shift in roster.shifts:
        if shift.group != group or shift.seat is None:
            continue
        off = {b.start + i for b in shift.breaks for i in range(b.length)}
        for slot in range(shift.start, shift.start + shift.length):
            if slot < roster.horizon and slot not in off:
                cov[slot] += 1
    return cov


def assert_rules_kept(roster: Roster, seats: list[Seat], rules: Rules, templates: tuple[ShiftTemplate, ...]) -> None:
    by_name = {t.name: t for t in templates}
    skills = {s.id: s for s in seats}
    per_seat = defaultdict(list)
    for shift in roster.shifts:
        template = by_name[shift.template]
        assert shift.length == template.length
        # Each template break appears once, inside its window and inside the shift.
        assert len(shift.breaks) == len(template.breaks)
        for rule in template.breaks:
            matches = [
                b
                for b in shift.breaks
                if b.label == rule.label
                and b.length == rule.length
                and rule.earliest <= b.start - shift.start <= rule.latest
            ]
            assert matches, (shift, rule)
        if template.starts is not None:
            assert shift.start % PER_DAY in template.starts
        if shift.seat is not None:
            assert shift.group in skills[shift.seat].skills
            per_seat[shift.seat].append(shift)
    rest = rules.min_rest_hours * 2
    for seat_id, shifts in per_seat.items():
        shifts.sort(key=lambda s: s.start)
        days = [s.start // PER_DAY for s in shifts]
        assert len(days) == len(set(days)), f"{seat_id} works twice a day"
        assert not set(days) & skills[seat_id].unavailable_days
        for before, after in itertools.pairwise(shifts):
            assert after.start - (before.start + before.length) >= rest
        weekly: dict[int, float] = defaultdict(float)
        for s in shifts:
            weekly[s.start // PER_DAY // 7] += s.paid_slots / 2
        assert max(weekly.values()) <= rules.max_hours_per_week
        own_cap = skills[seat_id].max_hours_per_week
        if own_cap is not None:
            assert max(weekly.values()) <= own_cap
        if rules.max_hours_per_period is not None:
            assert sum(weekly.values()) <= rules.max_hours_per_period
        run = 1
        for a, b in itertools.pairwise(days):
            run = run + 1 if b == a + 1 else 1
            assert run <= rules.max_consecutive_days


def test_two_weeks_are_fully_covered_within_the_rules() -> None:
    need = weekly_need(14, 30)
    seats = [Seat(f"S{i}", frozenset({"voice"})) for i in range(80)]
    templates = default_templates()
    rules = Rules()
    roster = generate({"voice": need}, templates, seats, rules)
    assert roster.unassigned() == ()
    cov = independent_coverage(roster, "voice")
    assert all(c >= n for c, n in zip(cov, need, strict=True))
    assert roster.coverage("voice") == cov
    assert roster.shortfall({"voice": need}) == {}
    assert_rules_kept(roster, seats, rules, templates)
    required = sum(need) / 2
    assert roster.on_seat_hours() <= 1.10 * required
    assert roster.on_seat_hours() < fixed_shift_on_seat_hours(need, PER_DAY, 16, 30)


def test_breaks_avoid_creating_holes_at_a_flat_requirement() -> None:
    # A flat day needs a few relief shifts for breaks, not a second team.
    need = [10] * PER_DAY * 2
    roster = generate({"voice": need}, default_templates(), [Seat(f"S{i}", frozenset({"voice"})) for i in range(60)])
    assert roster.shortfall({"voice": need}) == {}
    assert roster.on_seat_hours() <= 1.1 * sum(need) / 2


def test_unavailable_days_and_skills_are_respected_across_groups() -> None:
    need_voice = weekly_need(7, 12)
    need_chat = [max(0, n // 3) for n in need_voice]
    seats = [Seat(f"V{i}", frozenset({"voice"}), frozenset({i % 7})) for i in range(30)]
    seats += [Seat(f"C{i}", frozenset({"chat"})) for i in range(8)]
    seats += [Seat(f"B{i}", frozenset({"voice", "chat"})) for i in range(8)]
    seats += [Seat(f"P{i}", frozenset({"voice"}), max_hours_per_week=20) for i in range(6)]  # part-timers
    templates = default_templates()
    rules = Rules(max_hours_per_period=36)
    roster = generate({"voice": need_voice, "chat": need_chat}, templates, seats, rules)
    assert roster.shortfall({"voice": need_voice, "chat": need_chat}) == {}
    assert_rules_kept(roster, seats, rules, templates)


def test_too_few_seats_leave_a_reported_shortfall_but_no_broken_rule() -> None:
    need = weekly_need(7, 30)
    seats = [Seat(f"S{i}", frozenset({"voice"})) for i in range(10)]
    templates = default_templates()
    roster = generate({"voice": need}, templates, seats)
    short = roster.shortfall({"voice": need})
    assert roster.unassigned()
    assert short["voice"]
    cov = independent_coverage(roster, "voice")
    assert all(need[t] - cov[t] == missing for t, missing in short["voice"])
    assert_rules_kept(roster, seats, Rules(), templates)


def test_restricted_start_times_are_honoured() -> None:
    templates = (ShiftTemplate("day", 16, (BreakRule(2, 6, 9, paid=False, label="meal"),), frozenset({16, 20, 24})),)
    need = [0] * 16 + [3] * 24 + [0] * 8
    roster = generate({"voice": need}, templates, [Seat(f"S{i}", frozenset({"voice"})) for i in range(10)])
    assert roster.shortfall({"voice": need}) == {}
    assert {s.start for s in roster.shifts} <= {16, 20, 24}


def test_zero_requirement_needs_no_shifts() -> None:
    roster = generate({"voice": [0] * 96}, default_templates(), [Seat("S1", frozenset({"voice"}))])
    assert roster.shifts == ()
    assert roster.on_seat_hours() == 0


def test_plan_vs_required_rows_chart_one_day() -> None:
    need = weekly_need(2, 10)
    roster = generate({"voice": need}, default_templates(), [Seat(f"S{i}", frozenset({"voice"})) for i in range(20)])
    rows = plan_vs_required(roster, {"voice": need}, 1, PER_DAY)
    assert len(rows) == PER_DAY
    assert [r["required"] for r in rows] == need[PER_DAY:]
    assert all(int(r["scheduled"]) >= int(r["required"]) for r in rows)


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ({"voice": [1, -1]}, ">= 0"),
        ({"voice": [1, 1], "chat": [1]}, "same number"),
    ],
)
def test_bad_requirements_are_rejected(requirement: dict[str, list[int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(requirement, default_templates(), [Seat("S1", frozenset({"voice"}))])


def test_duplicate_seat_ids_and_impossible_templates_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        generate({"voice": [1]}, default_templates(), [Seat("S1", frozenset({"voice"}))] * 2)
    with pytest.raises(ValueError, match="after the shift"):
        ShiftTemplate("bad", 4, (BreakRule(2, 3, 3),))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=PER_DAY * 2, max_size=PER_DAY * 2))
def test_any_requirement_is_covered_by_a_large_enough_team(need: list[int]) -> None:
    seats = [Seat(f"S{i}", frozenset({"voice"})) for i in range(60)]
    templates = default_templates()
    roster = generate({"voice": need}, templates, seats)
    assert roster.shortfall({"voice": need}) == {}
    assert_rules_kept(roster, seats, Rules(), templates)


def test_a_break_moves_within_its_window_and_nowhere_else() -> None:
    from scheduling.core.shifts import move_break

    template = next(t for t in default_templates() if t.name == "8h")
    need = [0] * 16 + [2] * 16 + [0] * 16
    roster = generate({"voice": need}, (template,), [Seat(f"S{i}", frozenset({"voice"})) for i in range(6)])
    shift = roster.shifts[0]
    first = shift.breaks[0]  # the morning break, window 3..6 slots after the start
    target = shift.start + (6 if first.start - shift.start != 6 else 3)
    moved = move_break(shift, template, first.start, target)
    assert next(b.start for b in moved.breaks if b.label == "break") == target
    assert len(moved.breaks) == len(shift.breaks)
    with pytest.raises(ValueError, match="slots after"):
        move_break(shift, template, first.start, shift.start + 9)
    meal = next(b for b in shift.breaks if b.label == "meal")
    with pytest.raises(ValueError, match=r"overlap|slots after"):
        move_break(shift, template, first.start, meal.start)
    with pytest.raises(ValueError, match="no break"):
        move_break(shift, template, shift.start, shift.start + 4)
