import pytest

from channels.core.conversation import LABELS, STATES, TRANSITIONS, IllegalTransition, accepts_citizen, next_state

EVENTS = ("citizen_message", "seat_assigned", "seat_reply", "transfer", "window_expired", "close")


@pytest.mark.parametrize(
    ("state", "event", "target"), [(s, e, t) for s, row in TRANSITIONS.items() for e, t in row.items()]
)
def test_every_table_entry_is_a_legal_step(state, event, target):
    assert next_state(state, event) == target
    assert target in STATES


@pytest.mark.parametrize(
    ("state", "event"), [(s, e) for s in STATES for e in EVENTS if e not in TRANSITIONS[s]] + [("nowhere", "close")]
)
def test_every_pair_missing_from_the_table_raises(state, event):
    with pytest.raises(IllegalTransition):
        next_state(state, event)


def test_a_citizen_reopens_a_closed_window_by_writing_and_a_closed_conversation_takes_nothing():
    assert next_state("window_closed", "citizen_message") == "queued"
    assert accepts_citizen("window_closed") and not accepts_citizen("closed")


def test_every_state_has_a_chinese_label():
    assert set(LABELS) == set(STATES)
