import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.core.errors import FlowError, IllegalEvent
from ivr.core.flowfile import parse_flow
from ivr.core.messages import (
    DigitsReceived,
    DigitTimeout,
    Event,
    Hangup,
    LookupAnswered,
    PromptFinished,
    RecordingFinished,
)
from ivr.core.session import IvrSession, State

from .flows import CATALOG, CITY, QUEUES, city

FLOW = city()

LINES = CITY.read_text().splitlines()
VALUES = ['"x"', "1", "-5", "true", "[]", '["a", 2]', "{ 1 = 2 }", '"q_general"', "3.5", '"25:00-26:00"', '""']


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "value", "dup", "garble"]))
        if action == "drop":
            del lines[i]
        elif action == "value" and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(st.sampled_from(VALUES))
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "garble":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        if not lines:
            break
    return "\n".join(lines)


@given(mutated())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_damaged_flow_file_is_refused_with_lines_and_never_crashes(text: str) -> None:
    try:
        parse_flow(text, "city.toml", prompts=CATALOG, queues=QUEUES)
    except FlowError as exc:
        assert exc.issues
        n = len(text.splitlines()) or 1
        assert all(1 <= i.line <= n + 1 and i.source == "city.toml" and i.reason for i in exc.issues)


EVENTS = st.one_of(
    st.just(PromptFinished()),
    st.just(DigitTimeout()),
    st.just(Hangup()),
    st.just(RecordingFinished(1.0)),
    st.builds(LookupAnswered, st.booleans(), st.sampled_from(["handling", "closed", "", "??"])),
    st.builds(DigitsReceived, st.text(alphabet="0123456789*#a一", max_size=25)),
)


@given(st.lists(EVENTS, max_size=40), st.sampled_from(["13812345678", "", "+86 139 0000 0000", "abc"]))
@settings(max_examples=200, deadline=None)
def test_any_event_sequence_gives_commands_or_an_illegal_event_error(events: list[Event], caller: str) -> None:
    s = IvrSession(FLOW, caller, dt.datetime(2026, 11, 26, 10, 0))
    s.start()
    for event in events:
        try:
            s.on_event(event)
        except IllegalEvent:
            continue
    assert s.state in State
