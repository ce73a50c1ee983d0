"""A missed-call call-back that is over (reached, or given up) closes its task: a later abandon from
the same number gets a call-back of its own instead of joining the finished one (it used to join it,
and nobody called that citizen back again)."""

from __future__ import annotations

import datetime as dt

from acd.voice.core.call import Call
from acd.voice.core.events import CallbackCreated
from acd.voice.core.machine import step
from acd.voice.missed import MissedCalls
from ivr.core.callbacks import AddCallToCallback, CallAbandoned, CreateCallback, MissedCallPlanner, Tick

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


def test_a_finished_call_back_lets_the_next_abandon_from_that_number_start_a_new_one() -> None:
    planner = MissedCallPlanner(grace=dt.timedelta(minutes=2))
    missed = MissedCalls(planner)
    planner.on_event(CallAbandoned("m1", "13800000071", T0, waited=30))
    (create,) = planner.on_event(Tick(T0 + dt.timedelta(minutes=3)))
    assert isinstance(create, CreateCallback)
    task = create.task
    call = Call(contact_id=f"cb-{task.first_call_id}", channel_id="missed-m1", caller=task.number, arrived=0.0)
    step(call, CallbackCreated(0.0, task.queue, task.task_id, ("m1",)))
    later = T0 + dt.timedelta(hours=1)
    missed.closed(call)  # the seat reached the citizen; the call-back is over
    assert planner.on_event(CallAbandoned("m2", "13800000071", later, waited=30)) == []
    (again,) = planner.on_event(Tick(later + dt.timedelta(minutes=3)))
    assert isinstance(again, CreateCallback) and again.task.first_call_id == "m2"


def test_a_call_that_is_no_call_back_closes_nothing() -> None:
    planner = MissedCallPlanner(grace=dt.timedelta(minutes=2))
    missed = MissedCalls(planner)
    planner.on_event(CallAbandoned("m1", "13800000072", T0, waited=30))
    planner.on_event(Tick(T0 + dt.timedelta(minutes=3)))
    other = Call(contact_id="cb-x", channel_id="missed-x", caller="13800000099", arrived=0.0)
    step(other, CallbackCreated(0.0, "general", "cb-x"))
    missed.closed(other)  # another task's call-back
    out = planner.on_event(CallAbandoned("m2", "13800000072", T0 + dt.timedelta(hours=1), waited=30))
    assert out == [AddCallToCallback("cb-m1", "m2")]  # the open task still answers for the number
