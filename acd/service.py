"""The ACD as a running service: owns the pure core, feeds it events with the wall clock,
sends Ticks when the core asks, keeps the replayable event log, and hands each command to
the executor of its channel (voice: the ARI adapter; chats: the channels feature).

Everything that changes ACD state goes through :meth:`AcdService.feed`, one event at a time,
so the core stays single-threaded and its decisions replayable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from acd.api import Executor
from acd.core import (
    Acd,
    AcdSettings,
    Announce,
    CancelOffer,
    Command,
    ContactAbandoned,
    ContactEnded,
    Event,
    Offer,
    OfferAccepted,
    Overflow,
    SeatStateChanged,
    StartCallback,
    Tick,
    Widened,
    event_to_dict,
)
from acd.core.commands import command_to_dict
from acd.core.config import media_of
from hotline.bus import Bus
from hotline.clock import engine_time

logger = logging.getLogger(__name__)


EventSink = Callable[[dict[str, Any]], Awaitable[None]]


class AcdService:
    def __init__(
        self,
        bus: Bus,
        core: Acd | None = None,
        *,
        clock: Callable[[], float] = engine_time,
        event_sink: EventSink | None = None,
    ) -> None:
        self.core = core or Acd(AcdSettings())
        self.bus = bus
        self.clock = clock
        self.executors: dict[str, Executor] = {}
        self._event_sink = event_sink
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._armed: float | str | None = "unarmed"  # the deadline the timer task sleeps until ("unarmed": not yet)
        self._timer: asyncio.Task[None] | None = None
        self.decisions: list[dict[str, Any]] = []  # recent audit trail (the full one is the event log)

    def register(self, media: str, executor: Executor) -> None:
        self.executors[media] = executor

    def now(self) -> float:
        # The core refuses time going backwards; a wall clock can step back (NTP), so never feed less.
        return max(self.clock(), self.core.now)

    async def feed(self, event: Event) -> list[Command]:
        async with self._lock:
            commands = self.core.handle(event)
            if self._event_sink is not None:
                await self._event_sink(event_to_dict(event))
        if self.core.next_deadline() != self._armed:
            # Most events (a chat reply, a call's progress) leave the next deadline as it was: the
            # timer task sleeps on instead of waking to compute the same time again.
            self._wake.set()
        if isinstance(event, OfferAccepted):
            # The channel behind the contact (a chat, a call) learns which seat took it.
            await self.bus.publish(
                f"contact.{event.contact_id}",
                {"event": "accepted", "seat": event.seat_id, "contact_id": event.contact_id},
            )
        elif isinstance(event, (ContactEnded, ContactAbandoned)):
            # ... and that it is over (a chat's conversation closes; the visitor may rate it).
            ended = "ended" if isinstance(event, ContactEnded) else "abandoned"
            await self.bus.publish(f"contact.{event.contact_id}", {"event": ended, "contact_id": event.contact_id})
        for command in commands:
            await self._dispatch(command)
        return commands

    async def _dispatch(self, command: Command) -> None:
        record = command_to_dict(command)
        self.decisions.append(record)
        del self.decisions[:-1000]
        if isinstance(command, Widened):
            logger.info("contact widened", extra=record)
            return
        if isinstance(command, SeatStateChanged):
            await self.bus.publish(f"seat.{command.seat_id}", {"event": "state", **record})
            await self.bus.publish("supervisor.seat", record)
            return
        if isinstance(command, Offer):
            # The seat's console shows every offer, whatever carries it out.
            await self.bus.publish(f"seat.{command.seat_id}", {"event": "offer", **record})
        media = self._media_for(command)
        executor = self.executors.get(media) if media else None
        if executor is None:
            if not isinstance(command, Offer):
                logger.warning("no executor for command", extra=record)
            return
        try:
            await executor.execute(command)
        except Exception:
            logger.exception("executor failed", extra=record)

    def _media_for(self, command: Command) -> str | None:
        if isinstance(command, Offer):
            return media_of(command.channel)
        if isinstance(command, (StartCallback, Announce)):
            return "voice"
        if isinstance(command, CancelOffer) and command.channel:
            # Its contact may be gone already (a citizen who hung up while their seat's phone
            # rang): that cancel was once logged "no executor" and never carried out.
            return media_of(command.channel)
        if isinstance(command, (CancelOffer, Overflow)):
            contact = self.core.contact(command.contact_id)
            if contact is not None:
                return str(contact.media)
            return None
        return None

    # -- timers -----------------------------------------------------------------------------
    async def _run_timers(self) -> None:
        while True:
            deadline = self.core.next_deadline()
            self._armed = deadline
            self._wake.clear()
            delay = 3600.0 if deadline is None else max(0.0, deadline - self.clock())
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can turn a cancellation that
            # meets its timeout into TimeoutError, and a stop would wait for this loop for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
                continue
            try:
                await self.feed(Tick(now=self.now()))
            except Exception:
                logger.exception("ACD tick failed")

    def start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.create_task(self._run_timers(), name="acd-timers")

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
