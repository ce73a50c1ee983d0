import datetime as dt

import pytest

from ivr.core import session as ivr_session
from ivr.core import survey as ivr_survey
from ivr.core import waiting as ivr_waiting
from ivr.core.errors import IllegalEvent
from ivr.core.flow import Survey
from ivr.core.messages import DigitsReceived, DigitTimeout, Hangup, LookupAnswered, PromptFinished, RecordingFinished

from .flows import at, city

T0 = dt.datetime(2026, 11, 26, 10, 0)
EVENTS = [
    PromptFinished(),
    DigitsReceived("1"),
    DigitTimeout(),
    Hangup(),
    RecordingFinished(),
    LookupAnswered(True, "closed"),
    ivr_waiting.WaitUpdate(T0, 1, 10),
]


def machines() -> list[tuple[str, object, dict[object, dict[type, str]]]]:
    return [
        ("session", ivr_session.IvrSession(city(), "13812345678", at("2026-11-26T10:00")), ivr_session.TABLE),
        ("survey", ivr_survey.SurveySession(Survey()), ivr_survey.TABLE),
        ("waiting", ivr_waiting.WaitingAnnouncer("13812345678", "general", T0), ivr_waiting.TABLE),
    ]


@pytest.mark.parametrize("index", range(3))
def test_every_state_event_pair_missing_from_a_table_raises(index: int) -> None:
    _name, machine, table = machines()[index]
    for state, row in table.items():
        for event in EVENTS:
            if type(event) in row:
                continue
            machine.state = state  # type: ignore[attr-defined]
            with pytest.raises(IllegalEvent):
                machine.on_event(event)  # type: ignore[attr-defined]


@pytest.mark.parametrize("index", range(3))
def test_every_state_of_a_table_has_an_entry_and_every_handler_exists(index: int) -> None:
    name, machine, table = machines()[index]
    states = {s for s in type(next(iter(table)))}  # the state enum
    assert set(table) == states
    for row in table.values():
        for handler in row.values():
            assert callable(getattr(machine, handler)), f"{name}: {handler}"
