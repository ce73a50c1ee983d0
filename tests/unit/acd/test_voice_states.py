"""The voice call's state table: every entry walked, every other pair refused without a change."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.voice.core.call import Call
from acd.voice.core.states import (
    ARRIVED,
    CALL_STATES,
    CALL_TABLE,
    CALLBACK,
    ENDED,
    OFFERED,
    QUEUED,
    TALKING,
    IllegalCallTransition,
    next_call_state,
)

ACTIONS = sorted({action for row in CALL_TABLE.values() for action in row})
ENTRIES = [(state, action, target) for state, row in CALL_TABLE.items() for action, target in row.items()]


def call_in(state: str) -> Call:
    call = Call(contact_id="c1", channel_id="c1", caller="13800000000", arrived=0.0)
    call.state = state
    return call


@pytest.mark.parametrize(("state", "action", "target"), ENTRIES)
def test_every_entry_of_the_table_moves_the_call_where_it_says(state: str, action: str, target: str) -> None:
    call = call_in(state)
    assert call.move(action) == target
    assert call.state == target


@pytest.mark.parametrize("state", CALL_STATES)
def test_an_action_not_in_a_states_row_is_refused_and_changes_nothing(state: str) -> None:
    for action in ACTIONS:
        if action in CALL_TABLE[state]:
            continue
        call = call_in(state)
        with pytest.raises(IllegalCallTransition, match=f"{action!r} is not allowed when {state!r}"):
            call.move(action)
        assert call.state == state


def test_the_table_names_only_known_states_and_an_ended_call_stays_ended() -> None:
    assert set(CALL_TABLE) == set(CALL_STATES)
    assert all(target in CALL_STATES for row in CALL_TABLE.values() for target in row.values())
    assert CALL_TABLE[ENDED] == {}


def test_every_state_is_reached_from_arrival_and_every_live_state_can_end() -> None:
    seen, frontier = {ARRIVED}, [ARRIVED]
    while frontier:
        for target in CALL_TABLE[frontier.pop()].values():
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(CALL_STATES)

    def ends(state: str, path: frozenset[str] = frozenset()) -> bool:
        return state == ENDED or any(ends(t, path | {state}) for t in CALL_TABLE[state].values() if t not in path)

    assert all(ends(s) for s in CALL_STATES)
    # The citizen leaving ends the call wherever the citizen is on the line; a call-back waits
    # for its seat whatever becomes of the channel the citizen called from.
    assert all(CALL_TABLE[s].get("citizen_left") == ENDED for s in CALL_STATES if s not in (ENDED, CALLBACK))
    assert "citizen_left" not in CALL_TABLE[CALLBACK]


def test_a_cancel_racing_a_seats_answer_leaves_the_call_waiting_not_talking() -> None:
    """The core's ring timer ends an offer while the seat's answer is being bridged: the offer
    ends (the call waits again), and the late answer may no longer make it a talk."""
    call = call_in(OFFERED)
    call.move("offer_ended")
    assert call.state == QUEUED
    call.move("offer_ended")  # the bridging's own failure finds it waiting already
    with pytest.raises(IllegalCallTransition):
        call.move("answered")
    assert next_call_state("c1", CALLBACK, "offer") == OFFERED
    assert next_call_state("c1", TALKING, "enqueue") == QUEUED  # transferred to a queue


@given(st.lists(st.sampled_from(ACTIONS), max_size=30))
def test_any_sequence_of_actions_keeps_the_call_in_a_known_state(actions: list[str]) -> None:
    call = call_in(ARRIVED)
    for action in actions:
        before = call.state
        expected = CALL_TABLE[before].get(action)
        if expected is None:
            with pytest.raises(IllegalCallTransition):
                call.move(action)
            assert call.state == before
        else:
            call.move(action)
            assert call.state == expected
        assert call.state in CALL_STATES
