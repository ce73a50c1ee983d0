import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.callbacks import (
    AddCallToCallback,
    CallAbandoned,
    CallAnswered,
    CallbackClosed,
    CallbackSkipped,
    CancelCallback,
    CreateCallback,
    MissedCallPlanner,
    Tick,
)

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def mins(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def test_an_abandoned_call_becomes_a_callback_task_after_the_grace_period() -> None:
    p = MissedCallPlanner(grace=dt.timedelta(minutes=2))
    assert p.on_event(CallAbandoned("c1", "138-1234-5678", mins(0), waited=20)) == []
    assert p.on_event(Tick(mins(1))) == []
    (create,) = p.on_event(Tick(mins(2)))
    assert isinstance(create, CreateCallback)
    task = create.task
    assert (task.number, task.first_call_id, task.call_ids, task.queue) == ("13812345678", "c1", ("c1",), "general")
    assert p.on_event(Tick(mins(3))) == []  # created once


def test_repeated_abandons_from_one_number_make_one_task_counted_against_the_first_call() -> None:
    p = MissedCallPlanner()
    p.on_event(CallAbandoned("c1", "13812345678", mins(0)))
    p.on_event(CallAbandoned("c2", "+86 138 1234 5678", mins(1)))
    (create,) = p.on_event(Tick(mins(5)))
    assert isinstance(create, CreateCallback) and create.task.call_ids == ("c1", "c2")
    assert p.on_event(CallAbandoned("c3", "13812345678", mins(30))) == [AddCallToCallback(create.task.task_id, "c3")]
    assert p.on_event(Tick(mins(60))) == []


def test_a_caller_who_got_through_later_needs_no_callback() -> None:
    p = MissedCallPlanner()
    p.on_event(CallAbandoned("c1", "13812345678", mins(0)))
    p.on_event(CallAbandoned("c2", "13812345678", mins(0.5)))
    skipped = p.on_event(CallAnswered("c3", "13812345678", mins(1)))
    assert skipped == [CallbackSkipped("c1", "got_through"), CallbackSkipped("c2", "got_through")]
    assert p.on_event(Tick(mins(10))) == []


def test_a_created_task_is_cancelled_when_the_caller_gets_through() -> None:
    p = MissedCallPlanner()
    p.on_event(CallAbandoned("c1", "13812345678", mins(0)))
    (create,) = p.on_event(Tick(mins(3)))
    assert isinstance(create, CreateCallback)
    assert p.on_event(CallAnswered("c2", "13812345678", mins(10))) == [
        CancelCallback(create.task.task_id, "got_through")
    ]


def test_an_answer_from_another_number_changes_nothing() -> None:
    p = MissedCallPlanner()
    p.on_event(CallAbandoned("c1", "13812345678", mins(0)))
    assert p.on_event(CallAnswered("c2", "13900000000", mins(1))) == []
    assert len(p.on_event(Tick(mins(3)))) == 1


def test_after_the_window_or_a_closed_task_the_same_number_gets_a_new_task() -> None:
    p = MissedCallPlanner(window=dt.timedelta(hours=1))
    p.on_event(CallAbandoned("c1", "13812345678", mins(0)))
    (first,) = p.on_event(Tick(mins(3)))
    p.on_event(CallAbandoned("c2", "13812345678", mins(90)))
    (second,) = p.on_event(Tick(mins(93)))
    assert isinstance(first, CreateCallback) and isinstance(second, CreateCallback)
    assert second.task.first_call_id == "c2"
    p.on_event(CallbackClosed(second.task.task_id))
    p.on_event(CallAbandoned("c3", "13812345678", mins(95)))
    (third,) = p.on_event(Tick(mins(98)))
    assert isinstance(third, CreateCallback) and third.task.first_call_id == "c3"


def test_anonymous_and_very_short_abandons_are_skipped_with_a_reason() -> None:
    p = MissedCallPlanner(min_wait=3.0)
    assert p.on_event(CallAbandoned("c1", "anonymous", mins(0), waited=30)) == [CallbackSkipped("c1", "no_number")]
    assert p.on_event(CallAbandoned("c2", "13812345678", mins(0), waited=1)) == [CallbackSkipped("c2", "short_abandon")]
    assert p.on_event(Tick(mins(10))) == []


events = st.lists(
    st.tuples(st.sampled_from(["abandon", "answer", "tick"]), st.sampled_from(["13800000001", "13800000002"]),
              st.integers(min_value=0, max_value=5)),
    max_size=40,
)  # fmt: skip


@given(events)
@settings(max_examples=200)
def test_each_abandoned_call_is_in_exactly_one_task_or_skipped(script: list[tuple[str, str, int]]) -> None:
    p = MissedCallPlanner(window=dt.timedelta(minutes=20))
    now = T0
    abandoned: list[str] = []
    where: dict[str, list[str]] = {}  # call id -> the places it went to
    tasks: dict[str, str] = {}  # task id -> "created" | "cancelled"
    for i, (kind, number, step) in enumerate(script):
        now += dt.timedelta(minutes=step)
        if kind == "abandon":
            abandoned.append(f"c{i}")
            out = p.on_event(CallAbandoned(f"c{i}", number, now))
        elif kind == "answer":
            out = p.on_event(CallAnswered(f"a{i}", number, now))
        else:
            out = p.on_event(Tick(now))
        for cmd in out:
            if isinstance(cmd, CreateCallback):
                assert cmd.task.task_id not in tasks
                tasks[cmd.task.task_id] = "created"
                for call in cmd.task.call_ids:
                    where.setdefault(call, []).append(cmd.task.task_id)
            elif isinstance(cmd, AddCallToCallback):
                assert tasks[cmd.task_id] == "created"
                where.setdefault(cmd.call_id, []).append(cmd.task_id)
            elif isinstance(cmd, CallbackSkipped):
                where.setdefault(cmd.call_id, []).append("skipped")
            elif isinstance(cmd, CancelCallback):
                tasks[cmd.task_id] = "cancelled"
        assert set(p.open).isdisjoint(p.pending)  # one task per number at any time
    for task in p.pending.values():
        for call in task.call_ids:
            where.setdefault(call, []).append("pending")
    assert sorted(where) == sorted(abandoned)
    assert all(len(places) == 1 for places in where.values())


def test_calls_joining_a_task_not_yet_created_are_never_lost_even_past_the_window() -> None:
    p = MissedCallPlanner(window=dt.timedelta(minutes=20), grace=dt.timedelta(minutes=2))
    for i, minute in enumerate((0, 1, 6, 11, 16, 21)):  # no tick in between: the task is still pending
        p.on_event(CallAbandoned(f"c{i}", "13800000001", mins(minute)))
    (create,) = p.on_event(Tick(mins(25)))
    assert isinstance(create, CreateCallback)
    assert create.task.call_ids == ("c0", "c1", "c2", "c3", "c4", "c5")
