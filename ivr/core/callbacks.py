"""Missed-call callbacks (漏接回拨): every call abandoned before a seat answered becomes a
callback task, one per number within a window, dropped if the caller got through meanwhile.

A new task waits ``grace`` before it is created, because many callers simply dial again at
once; an answered call from the same number in that time makes the task unnecessary. The
task keeps the first abandoned call's id, so the seat's return call counts against it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from ivr.core.flow import normalize_number


@dataclass(frozen=True)
class CallAbandoned:
    call_id: str
    number: str
    at: dt.datetime
    waited: float = 0.0  # seconds in the seat queue before hanging up
    queue: str = "general"


@dataclass(frozen=True)
class CallAnswered:
    call_id: str
    number: str
    at: dt.datetime


@dataclass(frozen=True)
class CallbackClosed:
    """The ACD finished a task (reached, or given up): the number may get a new task."""

    task_id: str


@dataclass(frozen=True)
class Tick:
    now: dt.datetime


PlannerEvent = CallAbandoned | CallAnswered | CallbackClosed | Tick


@dataclass(frozen=True)
class CallbackTask:
    task_id: str
    number: str
    queue: str
    first_call_id: str  # the call the return call is counted against
    call_ids: tuple[str, ...]
    first_abandoned_at: dt.datetime
    due: dt.datetime


@dataclass(frozen=True)
class CreateCallback:
    task: CallbackTask


@dataclass(frozen=True)
class AddCallToCallback:
    task_id: str
    call_id: str


@dataclass(frozen=True)
class CancelCallback:
    task_id: str
    reason: str


@dataclass(frozen=True)
class CallbackSkipped:
    """An abandoned call that gets no task of its own, with the reason (for the KPI report)."""

    call_id: str
    reason: str  # no_number | short_abandon | got_through


PlannerCommand = CreateCallback | AddCallToCallback | CancelCallback | CallbackSkipped


@dataclass
class MissedCallPlanner:
    window: dt.timedelta = dt.timedelta(hours=24)
    grace: dt.timedelta = dt.timedelta(minutes=2)
    min_wait: float = 0.0  # abandons shorter than this (seconds) get no callback; 0: all do
    pending: dict[str, CallbackTask] = field(default_factory=dict)  # number -> not yet created
    open: dict[str, CallbackTask] = field(default_factory=dict)  # number -> created, not closed

    def on_event(self, event: PlannerEvent) -> list[PlannerCommand]:
        if isinstance(event, CallAbandoned):
            return self._abandoned(event)
        if isinstance(event, CallAnswered):
            return self._answered(event)
        if isinstance(event, CallbackClosed):
            for number, task in list(self.open.items()):
                if task.task_id == event.task_id:
                    del self.open[number]
            return []
        return self._tick(event.now)

    def _abandoned(self, e: CallAbandoned) -> list[PlannerCommand]:
        number = normalize_number(e.number)
        if not number:
            return [CallbackSkipped(e.call_id, "no_number")]
        if e.waited < self.min_wait:
            return [CallbackSkipped(e.call_id, "short_abandon")]
        task = self.pending.get(number)
        if task is not None:  # not created yet: the call joins it whatever its age
            self.pending[number] = replace(task, call_ids=(*task.call_ids, e.call_id))
            return []
        task = self.open.get(number)
        if task is not None and e.at - task.first_abandoned_at <= self.window:
            self.open[number] = replace(task, call_ids=(*task.call_ids, e.call_id))
            return [AddCallToCallback(task.task_id, e.call_id)]
        self.open.pop(number, None)  # older than the window: forgotten, the new call starts a new task
        self.pending[number] = CallbackTask(
            task_id=f"cb-{e.call_id}",
            number=number,
            queue=e.queue,
            first_call_id=e.call_id,
            call_ids=(e.call_id,),
            first_abandoned_at=e.at,
            due=e.at + self.grace,
        )
        return []

    def _answered(self, e: CallAnswered) -> list[PlannerCommand]:
        number = normalize_number(e.number)
        out: list[PlannerCommand] = []
        task = self.pending.get(number)
        if task is not None and task.first_abandoned_at <= e.at:
            del self.pending[number]
            out += [CallbackSkipped(cid, "got_through") for cid in task.call_ids]
        task = self.open.get(number)
        if task is not None and task.first_abandoned_at <= e.at:
            del self.open[number]
            out.append(CancelCallback(task.task_id, "got_through"))
        return out

    def _tick(self, now: dt.datetime) -> list[PlannerCommand]:
        out: list[PlannerCommand] = []
        for number, task in sorted(self.pending.items(), key=lambda kv: kv[1].due):
            if task.due <= now:
                del self.pending[number]
                self.open[number] = task
                out.append(CreateCallback(task))
        # forget (not cancel) open tasks older than the window: a new abandon then starts a new task
        for number, task in list(self.open.items()):
            if now - task.first_abandoned_at > self.window:
                del self.open[number]
        return out
