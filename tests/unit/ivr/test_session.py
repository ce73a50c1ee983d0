import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.errors import IllegalEvent
from ivr.core.flow import QueueLoad
from ivr.core.flowfile import parse_flow
from ivr.core.messages import (
    CollectDigits,
    Command,
    DigitsReceived,
    DigitTimeout,
    Enqueue,
    Hangup,
    LookupAnswered,
    LookupWorkOrder,
    Play,
    PromptFinished,
    PromptRef,
    RecordingFinished,
    RecordMessage,
    RequestCallback,
    Say,
    Transfer,
)
from ivr.core.session import IvrSession, State
from ivr.core.speech import pieces_for

from .flows import CATALOG, MINIMAL, at, city, flow

WORKDAY_10AM = at("2026-11-26T10:00")  # a Thursday
MENU = """
[nodes.a]
type = "menu"
prompt = "m"
retries = 2
timeout = 4
barge_in = false
choices = { 1 = "q", 22 = "t" }
on_timeout = "q"
on_failure = "bye"

[nodes.q]
type = "queue"
queue = "general"
skills = ["general"]
priority = 2

[nodes.t]
type = "transfer"
prompt = "transfer_emergency"
number = "110"

[nodes.bye]
type = "hangup"
prompt = "goodbye"
"""


def session(text: str, caller: str = "13812345678", now: dt.datetime = WORKDAY_10AM, **kw: object) -> IvrSession:
    return IvrSession(flow(text), caller, now, **kw)  # type: ignore[arg-type]


def names(cmd: Command) -> list[str]:
    assert isinstance(cmd, Play)
    return [p.name if isinstance(p, PromptRef) else f"say:{p.text}" for p in cmd.pieces]


def test_a_menu_plays_its_prompt_and_collects_digits_with_its_settings() -> None:
    s = session(MENU)
    play, collect = s.start()
    assert names(play) == ["m"] and play.barge_in is False  # type: ignore[union-attr]
    assert collect == CollectDigits(max_digits=2, timeout=4.0, terminator="#")
    assert s.on_event(PromptFinished()) == []  # the digit timeout runs after the prompt
    assert s.on_event(DigitsReceived("1")) == [Enqueue("general", ("general",), 2)]
    assert s.state is State.HANDED_OFF
    assert s.record()["path"] == [{"node": "a", "kind": "menu", "digits": "1"}, {"node": "q", "kind": "queue"}]
    assert s.outcome == "queue:general"


def test_a_terminal_with_a_prompt_acts_only_after_the_prompt_finished() -> None:
    s = session(MENU)
    s.start()
    assert names(s.on_event(DigitsReceived("22#"))[0]) == ["transfer_emergency"]
    assert s.on_event(PromptFinished()) == [Transfer("110")]
    assert s.outcome == "transfer:110"


def test_invalid_digits_are_retried_with_the_complaint_then_follow_the_failure_branch() -> None:
    s = session(MENU)
    s.start()
    again = s.on_event(DigitsReceived("7"))
    assert names(again[0]) == ["invalid_input", "m"] and isinstance(again[1], CollectDigits)
    s.on_event(DigitsReceived("8"))
    out = s.on_event(DigitsReceived("9"))  # third wrong answer: retries (2) are used up
    assert names(out[0]) == ["goodbye"]
    assert s.on_event(PromptFinished()) == [Hangup()]
    notes = [(p.digits, p.note) for p in s.path if p.node == "a"]
    assert notes == [("7", "invalid"), ("8", "invalid"), ("9", "invalid")]


def test_silence_is_retried_then_follows_the_timeout_branch() -> None:
    s = session(MENU)
    s.start()
    assert names(s.on_event(DigitTimeout())[0]) == ["no_input", "m"]
    s.on_event(DigitTimeout())
    assert s.on_event(DigitTimeout()) == [Enqueue("general", ("general",), 2)]


def test_a_play_node_moves_on_when_its_prompt_ends_and_ignores_stray_keys() -> None:
    s = session('[nodes.a]\ntype = "play"\nprompt = ["welcome", "hold_please"]\nnext = "q"\n'
                '[nodes.q]\ntype = "queue"\nqueue = "general"\n')  # fmt: skip
    assert s.start() == [Play((PromptRef("welcome"), PromptRef("hold_please")))]
    assert s.on_event(DigitsReceived("5")) == []
    assert s.on_event(PromptFinished()) == [Enqueue("general", (), 0)]


LOOKUP = """
[nodes.a]
type = "lookup"
prompt = "wo_enter_number"
min_digits = 4
max_digits = 8
retries = 1
next = "bye"
on_failure = "q"

[nodes.q]
type = "queue"
queue = "general"

[nodes.bye]
type = "hangup"
prompt = "goodbye"
"""


def test_a_work_order_lookup_reads_the_number_and_its_state_back() -> None:
    s = session(LOOKUP)
    s.start()
    assert s.on_event(DigitsReceived("20251#")) == [LookupWorkOrder("20251")]
    assert s.state is State.LOOKING_UP
    (play,) = s.on_event(LookupAnswered(True, "handling"))
    assert names(play) == ["wo_readback", "say:二零二五幺", "wo_status_handling"]
    assert names(s.on_event(PromptFinished())[0]) == ["goodbye"]


def test_a_lookup_of_an_unknown_order_or_state_says_so() -> None:
    s = session(LOOKUP)
    s.start()
    s.on_event(DigitsReceived("9999"))
    assert names(s.on_event(LookupAnswered(False))[0]) == ["wo_readback", "say:九九九九", "wo_not_found"]
    s2 = session(LOOKUP)
    s2.start()
    s2.on_event(DigitsReceived("9999"))
    assert names(s2.on_event(LookupAnswered(True, "weird"))[0])[-1] == "wo_status_unknown"


def test_a_lookup_refuses_too_short_numbers_and_falls_back_to_a_seat() -> None:
    s = session(LOOKUP)
    s.start()
    assert names(s.on_event(DigitsReceived("12#"))[0]) == ["invalid_input", "wo_enter_number"]
    assert s.on_event(DigitsReceived("1*3")) == [Enqueue("general", (), 0)]


HOURS = """
[nodes.a]
type = "working_day"
yes = "b"
no = "closed"

[nodes.b]
type = "time_of_day"
periods = ["08:30-12:00", "13:30-17:30"]
inside = "open"
outside = "closed"

[nodes.open]
type = "queue"
queue = "general"

[nodes.closed]
type = "message"
prompt = "after_hours_notice"
"""


@pytest.mark.parametrize(
    ("when", "outcome"),
    [
        ("2026-11-26T10:00", "queue:general"),
        ("2026-11-26T08:29", "message"),
        ("2026-11-26T08:30", "queue:general"),
        ("2026-11-26T12:00", "message"),  # lunch break
        ("2026-11-26T17:29", "queue:general"),
        ("2025-10-01T10:00", "message"),  # National Day 2025
        ("2026-10-05T10:00", "message"),  # National Day holiday on a Monday
        ("2026-02-16T10:00", "message"),  # Spring Festival 2026
        ("2025-09-28T10:00", "queue:general"),  # a Sunday worked in exchange (调休上班)
        ("2026-02-28T10:00", "queue:general"),  # a Saturday worked in exchange
        ("2026-11-28T10:00", "message"),  # an ordinary Saturday
    ],
)
def test_after_hours_follows_the_holiday_calendar_and_the_office_hours(when: str, outcome: str) -> None:
    s = session(HOURS, now=at(when))
    out = s.start()
    if outcome == "message":
        out = s.on_event(PromptFinished())
    assert s.outcome == outcome
    assert out[-1] == (Hangup() if outcome == "message" else Enqueue("general", (), 0))


def test_an_injected_working_day_calendar_is_used_instead_of_the_package() -> None:
    s = session(HOURS, now=at("2026-11-26T10:00"), calendar=lambda day: False)
    s.start()
    assert s.path[0].note == "no" and s.outcome == "message"


def test_a_period_across_midnight_covers_both_sides() -> None:
    text = ('[nodes.a]\ntype = "time_of_day"\nperiods = ["22:00-06:00"]\ninside = "n"\noutside = "d"\n'
            '[nodes.n]\ntype = "queue"\nqueue = "night"\n[nodes.d]\ntype = "queue"\nqueue = "day"\n')  # fmt: skip
    for when, queue in (("2026-11-26T23:00", "night"), ("2026-11-26T05:59", "night"), ("2026-11-26T06:00", "day")):
        assert session(text, now=at(when)).start() == [Enqueue(queue, (), 0)]


LISTS = """
[nodes.a]
type = "caller_list"
list = "blocked"
match = "blocked"
other = "v"

[nodes.v]
type = "caller_list"
list = "vip"
match = "tag"
other = "q"

[nodes.tag]
type = "tag"
tags = ["vip"]
priority_boost = 10
next = "q"

[nodes.q]
type = "queue"
queue = "general"
priority = 1

[nodes.blocked]
type = "message"
prompt = "blocked_notice"
"""


@pytest.mark.parametrize(
    ("caller", "first"),
    [
        ("13000000000", Play((PromptRef("blocked_notice"),))),
        ("055112345678", Play((PromptRef("blocked_notice"),))),  # the area-code prefix entry 0551*
        ("+8613900000000", Enqueue("general", (), 11)),  # VIP: priority boosted
        ("13812345678", Enqueue("general", (), 1)),
        ("", Enqueue("general", (), 1)),  # anonymous callers are never on a list
    ],
)
def test_caller_lists_block_numbers_and_raise_vip_priority(caller: str, first: Command) -> None:
    s = session(LISTS, caller=caller)
    assert s.start() == [first]
    if caller.endswith("13900000000"):
        assert s.tags == ["vip"] and s.record()["tags"] == ["vip"]


def test_a_voice_message_is_recorded_then_thanked_and_hung_up() -> None:
    s = session('[nodes.a]\ntype = "voicemail"\nprompt = "voicemail_intro"\nmax_seconds = 60\n')
    assert names(s.start()[0]) == ["voicemail_intro"]
    assert s.on_event(PromptFinished()) == [RecordMessage(60, beep=True)]
    assert s.state is State.RECORDING
    assert names(s.on_event(RecordingFinished(12.5))[0]) == ["voicemail_thanks"]
    assert s.on_event(PromptFinished()) == [Hangup()]
    assert s.outcome == "voicemail" and s.state is State.ENDED


def test_a_callback_request_confirms_the_callers_number_digit_by_digit() -> None:
    s = session('[nodes.a]\ntype = "callback"\nprompt = "callback_confirm"\nqueue = "general"\nreason = "after_hours"\n',
                caller="13812345678")  # fmt: skip
    request, play = s.start()
    assert request == RequestCallback("13812345678", "general", "after_hours")
    assert play == Play((PromptRef("callback_confirm"), Say("幺三八幺二三四五六七八")))
    assert s.on_event(PromptFinished()) == [Hangup()]


def test_a_hangup_node_without_prompt_ends_at_once() -> None:
    s = session('[nodes.a]\ntype = "hangup"\n')
    assert s.start() == [Hangup()]
    assert s.finished and s.outcome == "hangup"


def test_a_bounded_loop_leaves_by_its_overflow_branch() -> None:
    text = ('[nodes.a]\ntype = "menu"\nprompt = "m"\nretries = 0\nchoices = { 1 = "q" }\non_failure = "b"\n'
            'max_visits = 2\non_max_visits = "q"\n'
            '[nodes.b]\ntype = "play"\nprompt = "x"\nnext = "a"\n[nodes.q]\ntype = "queue"\nqueue = "general"\n')  # fmt: skip
    s = session(text)
    s.start()
    s.on_event(DigitTimeout())
    s.on_event(PromptFinished())  # back in the menu, second visit
    s.on_event(DigitTimeout())
    assert s.on_event(PromptFinished()) == [Enqueue("general", (), 0)]
    assert [p.note for p in s.path if p.node == "a"][-1] == "max_visits"


def test_a_caller_hanging_up_in_a_menu_is_recorded() -> None:
    s = session(MENU)
    s.start()
    assert s.on_event(Hangup()) == []
    assert s.outcome == "caller_hangup" and s.path[-1].note == "caller"
    assert s.on_event(Hangup()) == []  # a second report of the same hang-up is harmless


def test_an_event_the_state_does_not_accept_raises() -> None:
    s = session(MENU)
    with pytest.raises(IllegalEvent):
        s.on_event(PromptFinished())  # not started
    s.start()
    with pytest.raises(IllegalEvent, match="RecordingFinished in state collecting"):
        s.on_event(RecordingFinished())
    with pytest.raises(IllegalEvent):
        s.start()


def test_a_call_in_progress_keeps_the_flow_it_started_with() -> None:
    old = city()
    s = IvrSession(old, "13812345678", WORKDAY_10AM)
    s.start()
    assert s.flow is old and s.record()["flow_version"] == old.version


TERMINAL = (Enqueue, Transfer, RecordMessage, Hangup)


@given(
    keys=st.lists(
        st.one_of(st.none(), st.sampled_from(["0", "1", "2", "3", "4", "9", "5", "12345678#", "#"])), max_size=30
    ),
    day=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2026, 12, 31)),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
    caller=st.sampled_from(["13812345678", "13000000000", "13900000000", ""]),
    found=st.booleans(),
    busy=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_the_city_flow_never_leaves_a_caller_in_silence(
    keys: list[str | None], day: dt.date, minute: int, caller: str, found: bool, busy: bool
) -> None:
    now = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    s = IvrSession(city(), caller, now, queue_load={"general": QueueLoad(20, 600 if busy else 30)})
    out = s.start()
    for _ in range(200):
        assert out, f"no command while the caller waits in state {s.state} at {s.node_id}"
        for cmd in out:  # everything said can be played: prompts exist, spoken numbers have pieces
            if isinstance(cmd, Play):
                assert all(p.name in CATALOG for p in cmd.pieces if isinstance(p, PromptRef))
                assert all(pieces_for(p.text) for p in cmd.pieces if isinstance(p, Say))
        if s.finished:
            break
        last = out[-1]
        if isinstance(last, CollectDigits):
            key = keys.pop(0) if keys else None
            out = s.on_event(DigitTimeout() if key is None else DigitsReceived(key))
        elif isinstance(last, LookupWorkOrder):
            out = s.on_event(LookupAnswered(found, "handling"))
        elif isinstance(last, RecordMessage):
            out = s.on_event(RecordingFinished(3.0))
        else:
            assert isinstance(last, Play)
            out = s.on_event(PromptFinished())
    assert s.finished and isinstance(out[-1], TERMINAL)
    assert s.outcome and s.path


def test_an_aware_time_is_read_on_the_hotlines_clock() -> None:
    utc_9am_cst = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)  # 09:00 in China, 01:00 in UTC
    s = session(HOURS, now=utc_9am_cst)
    assert s.start() == [Enqueue("general", (), 0)]
    utc_sunday_night = dt.datetime(2026, 11, 29, 17, 0, tzinfo=dt.UTC)  # Monday 01:00 in China
    assert session(HOURS, now=utc_sunday_night).start()[0] == Play((PromptRef("after_hours_notice"),))


LOAD = """
[nodes.a]
type = "queue_load"
queue = "general"
max_waiting = 10
max_expected_wait = 180
ok = "q"
overloaded = "busy"

[nodes.q]
type = "queue"
queue = "general"

[nodes.busy]
type = "callback"
prompt = "callback_confirm_busy"
queue = "general"
reason = "overload"
"""


@pytest.mark.parametrize(
    ("load", "overloaded"),
    [
        (None, False),  # no snapshot: let the caller in
        (QueueLoad(waiting=3, expected_wait=60), False),
        (QueueLoad(waiting=10, expected_wait=60), True),
        (QueueLoad(waiting=2, expected_wait=200), True),
        (QueueLoad(waiting=0, expected_wait=0, seats_logged_in=0), True),
    ],
)
def test_an_overloaded_queue_branches_to_the_overload_path(load: QueueLoad | None, overloaded: bool) -> None:
    s = session(LOAD, queue_load={"general": load} if load else {})
    first = s.start()[0]
    assert isinstance(first, RequestCallback) is overloaded
    assert s.path[0].note == ("overloaded" if overloaded else "ok")


def test_the_city_flow_offers_a_callback_when_the_general_desk_is_overloaded() -> None:
    s = IvrSession(city(), "13812345678", WORKDAY_10AM, queue_load={"general": QueueLoad(12, 400)})
    s.start()
    s.on_event(PromptFinished())
    s.on_event(DigitsReceived("1"))
    request, _ = s.on_event(DigitsReceived("2"))
    assert request == RequestCallback("13812345678", "general", "overload")
    assert [p.node for p in s.path][-3:] == ["general_load", "busy", "callback_busy"]


def test_an_anonymous_caller_at_a_callback_node_is_told_or_sent_on() -> None:
    node = '[nodes.a]\ntype = "callback"\nprompt = "callback_confirm"\nqueue = "general"\n'
    told = session(node, caller="anonymous")
    assert told.start() == [Play((PromptRef("callback_no_number"),))]
    assert told.on_event(PromptFinished()) == [Hangup()] and told.outcome == "callback_no_number"
    routed = session(node + 'no_number = "q"\n[nodes.q]\ntype = "queue"\nqueue = "general"\n', caller="")
    assert routed.start() == [Enqueue("general", (), 0)]
    assert [(p.node, p.note) for p in routed.path] == [("a", "no_number"), ("q", "")]


def test_the_minimal_flow_greets_and_goes_straight_to_a_seat() -> None:
    f = parse_flow(MINIMAL.read_text(), str(MINIMAL), prompts=CATALOG, queues={"general"})
    s = IvrSession(f, "13812345678", WORKDAY_10AM)
    assert s.start() == [Play((PromptRef("welcome"),))]
    assert s.on_event(PromptFinished()) == [Play((PromptRef("to_agent"),))]
    assert s.on_event(PromptFinished()) == [Enqueue("general", ("general",), 0)]


# -- taken over in the menu: another session goes on from the checkpoint ------------------------

RESUMED = """
[nodes.a]
type = "caller_list"
list = "vip"
match = "tag"
other = "w"

[nodes.tag]
type = "tag"
tags = ["vip"]
priority_boost = 10
next = "w"

[nodes.w]
type = "play"
prompt = "welcome"
next = "m"

[nodes.m]
type = "menu"
prompt = "m"
choices = { 1 = "q" }
on_timeout = "q"
on_failure = "q"

[nodes.q]
type = "queue"
queue = "general"
priority = 1
"""


def test_a_session_goes_on_from_another_ones_checkpoint_with_its_path_and_tags() -> None:
    first = session(RESUMED, caller="+8613900000000")
    first.start()
    assert first.checkpoint is not None and first.checkpoint["node"] == "w"
    first.on_event(PromptFinished())  # the welcome heard: now in the menu
    saved = first.checkpoint
    assert saved is not None and saved["node"] == "m"
    # The engine dies; the next one takes the caller over with what was saved (as JSON).
    import json

    second = session(RESUMED, caller="+8613900000000")
    play, _collect = second.resume(json.loads(json.dumps(saved)))
    assert names(play) == ["m"], "the menu again, not the welcome"
    assert second.tags == ["vip"]
    assert second.on_event(DigitsReceived("1")) == [Enqueue("general", (), 11)]  # the VIP boost kept
    assert [p["node"] for p in second.record()["path"]] == ["a", "tag", "w", "m", "q"]  # each once


def test_a_checkpoint_of_another_flow_or_version_or_unreadable_starts_from_the_beginning() -> None:
    first = session(RESUMED)
    first.start()
    first.on_event(PromptFinished())
    saved = dict(first.checkpoint or {})
    for bad in (
        {**saved, "version": "other"},
        {**saved, "flow": "other"},
        {**saved, "node": "gone"},
        {**saved, "path": [{"kind": "play"}]},
        {**saved, "visits": "x"},
    ):
        s = session(RESUMED)
        assert names(s.resume(bad)[0]) == ["welcome"], bad
    s = session(RESUMED)
    s.start()
    with pytest.raises(IllegalEvent):
        s.resume(saved)


GREETING_QUEUE = """
[nodes.a]
type = "play"
prompt = "welcome"
next = "q"

[nodes.q]
type = "queue"
prompt = "to_agent"
queue = "general"
"""


@pytest.mark.parametrize(
    ("node", "prompt", "first"),
    [
        ("a", "again", [Play((PromptRef("welcome"),))]),
        ("a", "playing", []),  # the other session's greeting still plays: its end is waited for
        ("a", "heard", [Play((PromptRef("to_agent"),))]),  # heard to its end: on to the queue's words
        ("q", "again", [Play((PromptRef("to_agent"),))]),
        ("q", "heard", [Enqueue("general", (), 0)]),  # straight into line
    ],
)
def test_a_resumed_prompt_is_waited_for_played_again_or_passed_as_the_adapter_found_it(
    node: str, prompt: str, first: list[Command]
) -> None:
    s = session(GREETING_QUEUE)
    s.start()
    if node == "q":
        s.on_event(PromptFinished())
    saved = dict(s.checkpoint or {})
    again = session(GREETING_QUEUE)
    assert again.resume(saved, prompt=prompt) == first
    if prompt == "playing":
        assert again.on_event(PromptFinished()) == [Play((PromptRef("to_agent"),))]
    assert [p.node for p in again.path].count(node) == 1


def test_a_menu_taken_over_asks_again_whatever_became_of_its_prompt() -> None:
    s = session(RESUMED)
    s.start()
    s.on_event(PromptFinished())
    again = session(RESUMED)
    play, collect = again.resume(dict(s.checkpoint or {}), prompt="heard")
    assert names(play) == ["m"] and isinstance(collect, CollectDigits)
