"""Missed-call callbacks (漏接回拨) on the voice side: the IVR's pure planner decides, this feeds it
the calls that were abandoned or answered and turns each new task into a call-back contact of
the ACD. The call-back gets a record of its own, linked to the call it answers for."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Protocol

from acd.voice.core import events as ev
from acd.voice.core.call import Call
from acd.voice.core.commands import VoiceCommand
from acd.voice.core.machine import step

logger = logging.getLogger(__name__)


class CallHost(Protocol):
    """What the missed-call planner needs of the voice adapter (``VoiceService``)."""

    calls: dict[str, Call]
    clock: Callable[[], float]

    def save(self, call: Call, final: bool = False) -> None: ...
    async def carry_out(self, call: Call, commands: list[VoiceCommand]) -> None: ...


class MissedCalls:
    def __init__(self, planner: Any, *, queue: str = "general", tick_s: float = 1.0) -> None:
        self.planner = planner
        self.queue = queue
        self.tick_s = tick_s
        self.voice: CallHost | None = None
        self.created: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def _now(self) -> dt.datetime:
        assert self.voice is not None
        return dt.datetime.fromtimestamp(self.voice.clock(), dt.UTC)

    async def abandoned(self, call: Call) -> None:
        from ivr.core.callbacks import CallAbandoned

        waited = (call.ended or 0) - (call.enqueued or call.arrived)
        await self._apply(
            self.planner.on_event(
                CallAbandoned(call.contact_id, call.caller, self._now(), max(0.0, waited), call.queue or self.queue)
            )
        )

    async def answered(self, call: Call) -> None:
        from ivr.core.callbacks import CallAnswered

        await self._apply(self.planner.on_event(CallAnswered(call.contact_id, call.caller, self._now())))

    async def _apply(self, commands: list[Any]) -> None:
        from ivr.core.callbacks import AddCallToCallback, CancelCallback, CreateCallback

        for command in commands:
            if isinstance(command, CreateCallback):
                await self._create(command.task)
            elif isinstance(command, AddCallToCallback):
                self._link(command.task_id, command.call_id)
            elif isinstance(command, CancelCallback):
                logger.info("missed-call callback cancelled", extra={"task": command.task_id, "why": command.reason})

    async def _create(self, task: Any) -> None:
        voice = self.voice
        assert voice is not None
        contact_id = f"cb-{task.first_call_id}"
        if contact_id in voice.calls:
            return
        now = voice.clock()
        call = Call(contact_id=contact_id, channel_id=f"missed-{task.first_call_id}", caller=task.number, arrived=now)
        commands = step(call, ev.CallbackCreated(now, task.queue, task.task_id, tuple(task.call_ids)))
        voice.calls[contact_id] = call
        await voice.carry_out(call, commands)
        self.created.append(contact_id)

    def closed(self, call: Call) -> None:
        """A call is over for the voice side: if it was a missed-call call-back (reached or given
        up), the number may get a new one; a later abandon no longer joins the finished task."""
        from ivr.core.callbacks import CallbackClosed

        head = call.offers[0] if call.offers else {}
        if head.get("event") == "missed_call_callback":
            self.planner.on_event(CallbackClosed(str(head.get("task", ""))))

    def _link(self, task_id: str, call_id: str) -> None:
        """A later missed call from the same number: the open call-back answers for it too."""
        assert self.voice is not None
        for call in self.voice.calls.values():
            head = call.offers[0] if call.offers else {}
            if head.get("event") == "missed_call_callback" and head.get("task") == task_id:
                head["for"].append(call_id)
                self.voice.save(call)
                return

    async def _run(self) -> None:
        from ivr.core.callbacks import Tick

        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self._apply(self.planner.on_event(Tick(self._now())))
            except Exception:
                logger.exception("missed-call planner tick failed")

    def start(self, voice: CallHost) -> None:
        self.voice = voice
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="missed-calls")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
