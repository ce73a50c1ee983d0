"""The 督办 and letter lifecycles as tables: every entry walked, every missing pair refused."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from supervision.core.lifecycle import (
    LETTER_TRANSITIONS,
    MAY,
    TRANSITIONS,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    allowed,
    decide,
    letter_step,
)
from supervision.core.model import Actor, LetterState, Level, Result, State, Supervision

NOW = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
SUP = Actor("sup1", "supervisor")
ADMIN = Actor("admin1", "admin")
WATER = Actor("water1", "unit", "water")
POWER = Actor("power1", "unit", "power")
SEAT = Actor("seat1", "seat")
DATA = {"follow_up": {"text": "已上门核实"}, "close": {"result": "resolved"}, "cancel": {"reason": "误发"}}


def sup(state: State = State.OPEN) -> Supervision:
    return Supervision(
        1, "water", Level.KEY, (7,), "", "三日内解决", "sup1", NOW, NOW + dt.timedelta(days=3), state=state
    )


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(MAY))
def test_every_pair_is_either_in_the_table_or_refused_as_illegal(state: State, action: str) -> None:
    target = TRANSITIONS[state].get(action)
    if target is None:
        with pytest.raises(IllegalTransition):
            decide(sup(state), action, SUP, NOW, DATA[action])
    else:
        d = decide(sup(state), action, SUP, NOW, DATA[action])
        assert d.supervision.state is target and d.supervision.version == 2 and d.from_state is state


def test_the_supervised_unit_follows_up_but_may_not_close_or_cancel() -> None:
    d = decide(sup(), "follow_up", WATER, NOW, {"text": "已维修"})
    assert d.follow_up == "已维修" and d.supervision.state is State.OPEN
    for action in ("close", "cancel"):
        with pytest.raises(Forbidden):
            decide(sup(), action, WATER, NOW, DATA[action])
    assert allowed(sup(), WATER) == ["follow_up"]
    assert allowed(sup(), ADMIN) == ["follow_up", "close", "cancel"]


@pytest.mark.parametrize("actor", [POWER, SEAT, Actor("x", "unit", None)])
def test_another_unit_or_a_seat_may_do_nothing(actor: Actor) -> None:
    assert allowed(sup(), actor) == []
    with pytest.raises(Forbidden):
        decide(sup(), "follow_up", actor, NOW, {"text": "x"})


def test_forbidden_is_said_before_illegal_so_a_closed_one_tells_nothing_to_strangers() -> None:
    with pytest.raises(Forbidden):
        decide(sup(State.CLOSED), "follow_up", POWER, NOW, {"text": "x"})


def test_closing_unresolved_needs_a_reason_and_records_the_result() -> None:
    with pytest.raises(InvalidInput):
        decide(sup(), "close", SUP, NOW, {"result": "unresolved"})
    with pytest.raises(InvalidInput):
        decide(sup(), "close", SUP, NOW, {"result": "maybe"})
    d = decide(sup(), "close", SUP, NOW, {"result": "unresolved", "reason": "需市级协调"})
    assert d.supervision.result is Result.UNRESOLVED and d.supervision.closed_at == NOW
    assert d.supervision.closed_by == "sup1" and d.supervision.reason == "需市级协调"


def test_an_empty_follow_up_is_refused_and_nothing_changes() -> None:
    before = sup()
    with pytest.raises(InvalidInput):
        decide(before, "follow_up", WATER, NOW, {"text": "   "})
    assert before == dataclasses.replace(before)


@pytest.mark.parametrize("state", list(LetterState))
@pytest.mark.parametrize("action", ["read", "acknowledge", "answer"])
def test_every_letter_pair_is_in_the_table_or_illegal(state: LetterState, action: str) -> None:
    target = LETTER_TRANSITIONS[state].get(action)
    if target is None:
        with pytest.raises(IllegalTransition):
            letter_step(state, action, WATER, "water")
    else:
        assert letter_step(state, action, WATER, "water") is target


@pytest.mark.parametrize("actor", [POWER, SUP, SEAT])
def test_only_the_addressee_unit_acknowledges_a_letter(actor: Actor) -> None:
    with pytest.raises(Forbidden):
        letter_step(LetterState.SENT, "acknowledge", actor, "water")


def test_a_letter_is_answered_only_after_it_was_acknowledged() -> None:
    with pytest.raises(IllegalTransition):
        letter_step(LetterState.READ, "answer", WATER, "water")
    assert letter_step(LetterState.ACKNOWLEDGED, "answer", WATER, "water") is LetterState.ANSWERED
