"""The voice call flow on ARI: StasisStart -> answer -> IVR -> holding bridge with music on
hold -> ACD -> originate to the seat -> mixing bridge; every failure becomes a core event.

Each call's ARI events are handled in arrival order, different calls side by side (see
``_dispatch``); everything runs on one event loop, and the ACD core is fed one event at a
time, so the state here and in the core never races.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from acd.ari.client import CONNECTED, DISCONNECTED, AriClient, AriError, AriNoAnswer, AriNotFound
from acd.core import (
    Announce,
    CallbackRequested,
    CancelOffer,
    Command,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    Offer,
    OfferAccepted,
    OfferFailed,
    Overflow,
    StartCallback,
    TalkResumed,
)
from acd.service import AcdService
from acd.voice.api import VoiceError
from acd.voice.control import CallControl
from acd.voice.core import commands as vc
from acd.voice.core import events as ev
from acd.voice.core.call import Call, ended_unseen, from_record, talk_from_record
from acd.voice.core.machine import step
from acd.voice.core.states import ENDED, QUEUED, TALKING
from acd.voice.missed import MissedCalls
from acd.voice.records import RecordStore
from acd.voice.seats import SeatDevice, seat_dial_string
from hotline.aio import start_eagerly
from hotline.clock import engine_time
from hotline.dialing import DialPolicy, policy
from hotline.guard import refuse

logger = logging.getLogger(__name__)
LOST = "_Lost"  # a peer's events websocket stayed lost past its grace (VoiceService._lose)

# What the IVR decides for a caller before the ACD: the queue and the contact's needs.
Routing = dict[str, Any]
IvrRunner = Callable[["VoiceService", Call], Awaitable[Routing | None]]

# The ARI event types the voice side (calls, IVR, transfers, snoops, recordings) acts on; Asterisk
# is asked to send no others. A call brings some forty more (ChannelVarset above all) that would
# each be built in Asterisk and parsed here, on the same loop as the next caller's StasisStart.
EVENTS = frozenset(
    {
        "StasisStart",
        "StasisEnd",
        "ChannelDestroyed",
        "ChannelDtmfReceived",
        "ChannelHold",
        "ChannelUnhold",
        "PlaybackFinished",
        "RecordingFinished",
        "RecordingFailed",
        "ApplicationReplaced",
    }
)


class VoiceService:
    """Executor of the ACD's voice commands and consumer of one Asterisk's ARI events."""

    def __init__(
        self,
        ari: AriClient,
        acd: AcdService,
        *,
        records: RecordStore | None = None,
        ivr: IvrRunner | None = None,
        survey: IvrRunner | None = None,
        callback_key: bool = True,
        missed: MissedCalls | None = None,
        default_queue: str = "general",
        trunk_numbers: dict[str, str] | None = None,
        recording_queues: frozenset[str] = frozenset(),
        moh_class: str = "default",
        sounds_prefix: str = "hotline",
        clock: Callable[[], float] = engine_time,
        dial_policy: DialPolicy | None = None,
    ) -> None:
        self.ari = ari
        ari.event_types = EVENTS
        # The Asterisk this drives, as its ARI client is named and its calls' records say:
        # "default" for the engine's own server, a peer's name for a peer driven over ARI
        # (docs/voice.md, "Callers on several servers").
        self.server = ari.name
        # Which records' calls are this server's to reconcile at start (by their ``server``):
        # all of them with one server; the plugin narrows it when peers are driven too.
        self.owns_server: Callable[[str], bool] = lambda _server: True
        # A peer's calls end when its events websocket stays lost this long (None: they wait
        # for the reconnection's reconcile, as on the engine's own server).
        self.lost_after_s: float | None = None
        self._losing: asyncio.Task[None] | None = None
        # The engine's main server only: the peers driven beside it (acd/voice/servers.py).
        self.peers: dict[str, VoiceService] = {}
        self.acd = acd
        self.records = records
        self.ivr = ivr
        self.survey = survey
        self.callback_key = callback_key
        self.missed = missed
        self.notice: str | None = None  # an emergency announcement every new caller hears first
        self.default_queue = default_queue
        self.trunk_numbers = trunk_numbers or {"police": "110", "fire": "119", "ambulance": "120", "traffic": "122"}
        # Where a call may go out through the trunk (transfers, call-backs, cloud seats): the
        # same patterns the dialplan gives seats' phones.
        self.dial_policy = dial_policy or policy(self.trunk_numbers.values())
        self.recording_queues = recording_queues
        self.moh_class = moh_class
        self.sounds_prefix = sounds_prefix
        self.clock = clock
        self.devices: dict[str, SeatDevice] = {}
        # The peer Asterisk a seat's phone is registered on (None or "": this one); the plugin
        # hands in the phones' presence when peers are watched.
        self.seat_server: Callable[[str], str | None] = lambda _seat_id: None
        self.calls: dict[str, Call] = {}
        self.by_channel: dict[str, Call] = {}
        self.legs: dict[str, Call] = {}  # seat-leg channel id -> call
        self.holding: dict[str, str] = {}  # queue -> holding bridge id
        self.pending_callbacks: dict[str, StartCallback] = {}
        # What runs for a call beside the event loop (the calls themselves are plain data):
        # the IVR's, survey's or call-back prompt's inbox of ARI events, its task, and the
        # request of the announcement playing to a waiting caller (contact id -> each).
        self.inboxes: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.plays: dict[str, asyncio.Future[Any]] = {}
        self._seq = itertools.count(1)
        # Channel, bridge and playback ids this engine makes carry its run's tag: a restarted
        # engine adopts callers whose old seat legs and talk bridges Asterisk may still hold, and
        # ids counted from 1 again once collided with them (409: the bridge already exists).
        self._tag = secrets.token_hex(3)
        self._task: asyncio.Task[None] | None = None
        # call (contact id, else channel id) -> the task handling its latest event
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._gate: asyncio.Task[None] | None = None  # the latest (re)connection's handling
        self.connected = asyncio.Event()
        self.reconciled = 0
        # Call-backs promised before the last stop are looked for once, on the first connection,
        # among the records of calls that arrived within this window and never ended.
        self.resume_window_s = 72 * 3600.0
        self.resume_timeout_s = 5.0  # a database that does not answer must not hold the calls up
        self.resumed: list[str] | None = None
        self.control = CallControl(self)
        acd.register("voice", self)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"voice-{self.ari.name}")
        # One missed-call planner for every server's calls: the first started makes its call-backs.
        if self.missed is not None and self.missed.voice in (None, self):
            self.missed.start(self)

    async def stop(self) -> None:
        if self.missed is not None:
            await self.missed.stop()
        for task in (self._task, self._losing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._losing = None
        handlers = self._handlers()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    def contact_of(self, channel_id: str) -> str:
        """The contact id of a caller's channel: the channel id on the engine's own server (as
        ever), ``<channel>@<server>`` on a peer, since two Asterisk servers may give one id."""
        return channel_id if self.server == "default" else f"{channel_id}@{self.server}"

    def _handlers(self) -> list[asyncio.Task[None]]:
        """The event handling not yet forgotten: each call's latest, and the latest (re)connection's."""
        return [*self._chains.values(), *([self._gate] if self._gate is not None else [])]

    async def _run(self) -> None:
        await self.ari.run(self._dispatch)

    def _dispatch(self, event: dict[str, Any]) -> None:
        """Start handling an event, straight from the ARI reader: events of one call in order,
        different calls side by side.

        A handler awaits Asterisk (bridging a seat that answered, hanging up after a caller
        left): one queue for all calls would keep the next caller's StasisStart, and so the
        seat's ring, waiting behind those round trips. (Re)connections are barriers: every
        call's handling started before one finishes before reconciliation, and none started
        after it begins until reconciliation is done.
        """
        kind = event.get("type")
        if kind in (CONNECTED, DISCONNECTED, LOST):
            self._gate = asyncio.create_task(self._after(self._handlers(), event), name=f"voice-{kind}")
            return
        key = self._key_of(event)
        before = [t for t in (self._chains.get(key), self._gate) if t is not None and not t.done()]
        # Its first step runs now: a caller's StasisStart rings the seat before the reader goes on.
        task = start_eagerly(self._after(before, event))
        self._chains[key] = task
        task.add_done_callback(functools.partial(self._chain_done, key))

    async def _after(self, before: list[asyncio.Task[None]], event: dict[str, Any]) -> None:
        if before:
            await asyncio.wait(before)
        try:
            await self.on_event(event)
        except Exception:
            logger.exception("ARI event not handled", extra={"type": event.get("type")})

    def _chain_done(self, key: str, task: asyncio.Task[None]) -> None:
        if self._chains.get(key) is task:
            del self._chains[key]

    def _key_of(self, event: dict[str, Any]) -> str:
        """The call an event belongs to (its contact id), else the channel's own id."""
        kind = event.get("type")
        if kind in ("PlaybackFinished", "RecordingFinished", "RecordingFailed"):
            cid = _target_channel(event)
        else:
            channel = event.get("channel")
            found = channel.get("id") if isinstance(channel, dict) else None
            if not isinstance(found, str):
                return ""
            cid = found
            if kind == "StasisStart":
                args = event.get("args")
                if isinstance(args, list) and len(args) >= 2 and args[0] in ("seat", "callback"):
                    return str(args[1])
        call = self.by_channel.get(cid) or self.legs.get(cid)
        return call.contact_id if call is not None else cid

    def seat_dial(self, device: SeatDevice) -> str:
        """How this server rings a seat's phone: here, or over the trunk to where it registered."""
        return seat_dial_string(device, self.seat_server(device.seat_id))

    def set_device(self, device: SeatDevice) -> None:
        self.devices[device.seat_id] = device

    def trunk_endpoint(self, number: str) -> str:
        """The outbound trunk's dial string for ``number``; VoiceError (and a refusal counted)
        when the number is outside the allowed patterns (international, premium, malformed)."""
        if not self.dial_policy.allows(number):
            refuse("voice", "dial_not_allowed", number=number[:32])
            raise VoiceError("该号码不在允许外呼的范围内")
        return f"PJSIP/{number}@trunk-out"

    # -- events ----------------------------------------------------------------------------------
    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if logger.isEnabledFor(logging.DEBUG):
            ch = event.get("channel") or {}
            logger.debug("ARI %s %s %s", kind, ch.get("id", ""), event.get("cause", event.get("digit", "")))
        if kind == CONNECTED:
            if self._losing is not None:
                self._losing.cancel()  # back within its grace
            await self.reconcile()
            self.connected.set()
            return
        if kind == DISCONNECTED:
            self.connected.clear()
            if self.lost_after_s is not None and (self._losing is None or self._losing.done()):
                self._losing = asyncio.create_task(self._lose(self.lost_after_s), name=f"voice-lost-{self.server}")
            return
        if kind == LOST:
            if not self.connected.is_set():
                await self._end_calls_gone({})
            return
        if kind == "ApplicationReplaced":
            logger.error("another program took over the ARI application: calls no longer reach this engine")
            return
        if kind in ("PlaybackFinished", "RecordingFinished", "RecordingFailed"):
            call = self.by_channel.get(_target_channel(event))
            if call is None:
                return
            pid = str((event.get("playback") or {}).get("id", ""))
            if pid and pid == call.announcing:
                await self.carry_out(call, step(call, ev.AnnouncementEnded(self.clock(), pid)))
                return
            inbox = self.inboxes.get(call.contact_id)
            if inbox is not None:
                inbox.put_nowait(event)
            return
        channel = event.get("channel")
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
            if kind in ("StasisStart", "StasisEnd", "ChannelDestroyed"):
                logger.warning("ARI event without a channel id", extra={"type": kind})
            return
        cid = channel["id"]
        if kind == "StasisStart":
            args = event.get("args") or []
            role = args[0] if args and isinstance(args[0], str) else ""
            if role == "inbound":
                await self._inbound(channel, event.get("server", self.server))
            elif role == "seat" and len(args) >= 3:
                await self._seat_answered(cid)
            elif role == "callback" and len(args) >= 2:
                await self._citizen_answered_callback(cid, str(args[1]))
            elif role == "extra" and len(args) >= 3:
                await self._party_answered(cid)
            elif role == "supervisor" and len(args) >= 2:
                await self.control.supervisor_answered(cid, str(args[1]))
            elif role == "snoop":
                await self.control.snoop_started(cid)
            else:
                logger.warning("StasisStart with unknown arguments: hanging up", extra={"channel": cid, "args": args})
                await self.drop_channel(cid)
        elif kind in ("ChannelDestroyed", "StasisEnd"):
            cause = event.get("cause") if kind == "ChannelDestroyed" else None
            await self._gone(cid, cause if isinstance(cause, int) else None, kind)
        elif kind in ("ChannelDtmfReceived", "RecordingFinished", "RecordingFailed"):
            call = self.by_channel.get(cid)
            inbox = self.inboxes.get(call.contact_id) if call is not None else None
            if inbox is not None:
                inbox.put_nowait(event)
            elif (
                call is not None
                and call.state == QUEUED
                and event.get("digit") == "1"
                and self.callback_key
                and not call.overflowed
            ):
                self._spawn(call, self._callback_from_queue(call), f"cb-{cid}")
        elif kind == "ChannelHold":
            call = self.by_channel.get(cid)
            if call is not None:
                step(call, ev.Held(self.clock()))
        elif kind == "ChannelUnhold":
            call = self.by_channel.get(cid)
            if call is not None:
                step(call, ev.Unheld(self.clock()))

    async def _inbound(
        self, channel: dict[str, Any], server: str, arrived: float | None = None, resume: dict[str, Any] | None = None
    ) -> None:
        cid = channel["id"]
        if cid in self.by_channel:
            return  # StasisStart seen again after a reconnect
        caller = str((channel.get("caller") or {}).get("number") or "")
        now = self.clock()
        contact = self.contact_of(cid)
        call = Call(contact_id=contact, channel_id=cid, caller=caller, arrived=arrived or now, server=server)
        self.calls[contact] = call
        self.by_channel[cid] = call
        if resume is not None:
            step(call, ev.IvrProgressed(now, resume))  # the IVR goes on from there
        if self.ivr is None:
            # Straight to the queue: the seat is rung while the caller is answered and held.
            self.save(call)
            await self.enqueue(call, {"queue": self.default_queue}, answer=True)
            return
        try:
            # A caller taken over is answered already; and Asterisk would hold an answer back
            # until a prompt still playing to them ends (past the request's timeout).
            if channel.get("state") != "Up":
                await self.ari.answer(cid)
        except AriError as exc:
            logger.warning("caller gone before answer", extra={"channel": cid, "cause": str(exc)})
            self._forget(call)
            return
        self.save(call)
        # The IVR waits for the caller's keys and prompts: it runs beside the event loop, fed
        # through the call's inbox, so other calls' events are never held up.
        self.inboxes[call.contact_id] = asyncio.Queue()
        self._spawn(call, self._run_ivr(call), f"ivr-{call.contact_id}")

    async def _play_notice(self, call: Call, name: str) -> None:
        pid = f"notice-{call.contact_id}"
        try:
            await self.ari.play(call.channel_id, f"sound:{self.sounds_prefix}/{name}", playback_id=pid)
        except AriError as exc:
            logger.warning("announcement not played", extra={"contact": call.contact_id, "cause": str(exc)})
            return
        step(call, ev.NoticePlayed(self.clock(), name))
        inbox = self.inboxes.get(call.contact_id)
        assert inbox is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                while True:
                    got = await inbox.get()
                    if got.get("type") == "Hangup" or (
                        got.get("type") == "PlaybackFinished" and (got.get("playback") or {}).get("id") == pid
                    ):
                        return

    async def _run_ivr(self, call: Call) -> None:
        assert self.ivr is not None
        try:
            if self.notice and not (call.ivr_record or {}).get("resume"):  # heard before the takeover
                await self._play_notice(call, self.notice)
            routing = await self.ivr(self, call) if call.state != ENDED else None
        except Exception:
            logger.exception("IVR failed: the caller goes to the default queue", extra={"contact": call.contact_id})
            routing = {"queue": self.default_queue}
        finally:
            self.inboxes.pop(call.contact_id, None)
        if call.state == ENDED:
            self.save(call, final=True)  # the hang-up was stored first: add the IVR's path to it
            return
        if routing is None:
            return  # the IVR finished the call itself (message, transfer, self-service)
        try:
            await self.enqueue(call, routing)
        except Exception:
            logger.exception("enqueue after IVR failed", extra={"contact": call.contact_id})

    async def enqueue(
        self,
        call: Call,
        routing: Routing,
        enqueued_at: float | None = None,
        *,
        answer: bool = False,
        answered: bool = False,
    ) -> None:
        """Let the ACD offer the call, then answer (when asked) and hold the caller.

        The seat is rung first: the ACD's offer (and so the originate) never waits for the
        caller's answer and move into the holding bridge, and those go to Asterisk only once it
        has taken the originate. Sent beside it (on another request websocket) they competed
        with it inside Asterisk: the seat's INVITE left 0.8 ms later at the median (measured
        within one run, calls alternating). A caller who is gone by then is ended in the ACD as
        an abandon, like any hang-up while queued.
        """
        queue = str(routing.get("queue") or self.default_queue)
        event = ev.Enqueued(
            self.clock(),
            queue,
            priority=str(routing.get("priority", "normal")),
            skills=tuple(routing.get("skills", ())),
            preferred=tuple(routing.get("preferred", ())),
            language=routing.get("language"),
            enqueued_at=enqueued_at,
            answer=answer,
            record=queue in self.recording_queues,
            answered=answered,
        )
        await self.carry_out(call, step(call, event))

    async def _hold(self, call: Call, answer: bool) -> bool:
        """Answer (when asked) and put the caller in the holding bridge; False when the caller is gone."""
        try:
            bridge = await self._holding_bridge(call.queue or self.default_queue)
            if answer:
                await self.ari.answer(call.channel_id)
            await self.ari.add_to_bridge(bridge, call.channel_id)
        except AriError as exc:
            if call.state == ENDED:
                return False  # the citizen hung up meanwhile (Asterisk said 400 or 404): ended already
            if not (answer or isinstance(exc, AriNotFound) or exc.status == 422):
                # Still there but not moved (the seat's answer bridges it anyway): say so, go on.
                logger.warning("caller not put on hold", extra={"contact": call.contact_id, "cause": str(exc)})
                return True
            if call.state != ENDED:
                logger.info("caller gone before being held", extra={"contact": call.contact_id, "cause": str(exc)})
                await self._gone(call.channel_id, None, "enqueue")
            return False
        return True

    async def _holding_bridge(self, queue: str) -> str:
        bridge = self.holding.get(queue)
        if bridge is None:
            bridge = f"hold-{queue}"
            try:
                await self.ari.create_bridge("holding", bridge_id=bridge, name=f"hold {queue}")
            except AriError as exc:
                if exc.status not in (409, 500):
                    raise
            with contextlib.suppress(AriError):
                await self.ari.bridge_moh(bridge, self.moh_class)
            self.holding[queue] = bridge
        return bridge

    async def _seat_answered(self, leg_id: str) -> None:
        call = self.legs.get(leg_id)
        if call is None:
            await self.drop_channel(leg_id)
            return
        await self.carry_out(call, step(call, ev.SeatAnswered(self.clock(), leg_id, f"talk-{leg_id}")))

    async def _connect_seat(self, call: Call, command: vc.ConnectSeat) -> None:
        """Make the talk bridge and put the channels in it; tell the core how it went."""
        bridge, leg_id, seat_id = command.bridge_id, command.channel_ids[-1], command.seat_id
        try:
            await self.ari.create_bridge("mixing", bridge_id=bridge, name=f"talk {call.contact_id}")
            channels = list(command.channel_ids)
            await self.ari.add_to_bridge(bridge, channels if len(channels) > 1 else channels[0])
        except AriError as exc:
            logger.warning(
                "could not connect seat", extra={"contact": call.contact_id, "seat": seat_id, "cause": str(exc)}
            )
            in_line = call.channel_id in self.by_channel
            await self.carry_out(call, step(call, ev.NotConnected(self.clock(), leg_id, seat_id, bridge, in_line)))
            return
        # The ACD's call-back for this contact, if any: taken once it is dialled.
        pending = self.pending_callbacks.get(call.contact_id)
        callback_to = pending.number if pending is not None else None
        await self.carry_out(call, step(call, ev.SeatBridged(self.clock(), leg_id, bridge, callback_to)))

    async def _gone(self, channel_id: str, cause: int | None, why: str) -> None:
        """A channel left: the citizen, a seat leg, or another party's leg."""
        call = self.by_channel.get(channel_id)
        if call is not None and call.state != ENDED:
            await self._citizen_gone(call, cause)
            return
        call = self.legs.pop(channel_id, None)
        if call is None:
            return
        party = call.parties.get(channel_id)
        if party is not None and party.role == "citizen":
            await self.carry_out(call, step(call, ev.CallbackFailed(self.clock(), channel_id, cause)))
        elif party is not None:
            await self.carry_out(call, step(call, ev.PartyLeft(self.clock(), channel_id)))
        elif call.leg is not None and call.leg.channel_id == channel_id:
            await self._seat_leg_gone(call, channel_id, cause)

    async def _citizen_gone(self, call: Call, cause: int | None) -> None:
        await self.carry_out(call, step(call, ev.CitizenLeft(self.clock(), cause)))

    async def _seat_leg_gone(self, call: Call, leg_id: str, cause: int | None) -> None:
        in_line = call.channel_id in self.by_channel
        event = ev.SeatLegLeft(self.clock(), leg_id, cause, in_line=in_line, survey=self.survey is not None)
        await self.carry_out(call, step(call, event))

    async def _party_answered(self, channel_id: str) -> None:
        call = self.legs.get(channel_id)
        if call is None:
            await self.drop_channel(channel_id)
            return
        await self.carry_out(call, step(call, ev.PartyAnswered(self.clock(), channel_id)))

    async def carry_out(self, call: Call, commands: list[vc.VoiceCommand]) -> None:
        """Carry out the voice core's commands for a call, in order (acd/voice/core/commands.py)."""
        for command in commands:
            if isinstance(command, vc.Hold):
                if not await self._hold(call, command.answer):
                    return  # the citizen left meanwhile: ended as an abandon
            elif isinstance(command, vc.Arrive):
                await self._arrive(call, command)
            elif isinstance(command, vc.MarkPlace):
                with contextlib.suppress(AriError):
                    await self.ari.set_var(call.channel_id, "HOTLINE_ENQUEUED", f"{call.enqueued:.3f};{call.queue}")
            elif isinstance(command, vc.Hangup):
                await self.drop_channel(command.channel_id)
            elif isinstance(command, vc.ToAcd):
                await self._to_acd(call, command)
            elif isinstance(command, vc.DestroyBridge):
                with contextlib.suppress(AriError):
                    await self.ari.destroy_bridge(command.bridge_id)
            elif isinstance(command, vc.LeaveBridge):
                with contextlib.suppress(AriError):
                    await self.ari.remove_from_bridge(command.bridge_id, command.channel_id)
            elif isinstance(command, vc.Save):
                self.save(call, final=command.final)
            elif isinstance(command, vc.Forget):
                self._forget(call)
            elif isinstance(command, vc.DropLeg):
                self.legs.pop(command.channel_id, None)
            elif isinstance(command, vc.ReleaseChannel):
                self.by_channel.pop(call.channel_id, None)
            elif isinstance(command, vc.WakeIvr):
                inbox = self.inboxes.get(call.contact_id)
                if inbox is not None:
                    inbox.put_nowait({"type": "Hangup"})
            elif isinstance(command, vc.MissedCall):
                if self.missed is not None:
                    await (self.missed.abandoned(call) if command.kind == "abandoned" else self.missed.answered(call))
            elif isinstance(command, vc.Announce):
                await self._play_announcement(call, command)
            elif isinstance(command, vc.StopAnnouncement):
                request = self.plays.pop(call.contact_id, None)
                # A stop that overtook its play would find nothing and the play would still start.
                with contextlib.suppress(AriError):
                    if request is not None:
                        await request
                    await self.ari.stop_playback(command.playback_id)
            elif isinstance(command, vc.Confirm):
                await self._confirm(call, command)
            elif isinstance(command, vc.RecordBridge):
                with contextlib.suppress(AriError):
                    await self.ari.record_bridge(command.bridge_id, command.name)
            elif isinstance(command, vc.DialCitizen):
                await self._dial_citizen(call, command.number)
            elif isinstance(command, vc.AddToBridge):
                with contextlib.suppress(AriError):
                    await self.ari.add_to_bridge(command.bridge_id, command.channel_id)
            elif isinstance(command, vc.ClaimChannel):
                self.by_channel[call.channel_id] = call
            elif isinstance(command, vc.StartSurvey):
                self.inboxes[call.contact_id] = asyncio.Queue()
                self._spawn(call, self._run_survey(call), f"survey-{call.contact_id}")
            elif isinstance(command, vc.ConnectSeat):
                await self._connect_seat(call, command)
            elif isinstance(command, vc.PlayOver):
                self.plays.pop(call.contact_id, None)

    async def _arrive(self, call: Call, arrive: vc.Arrive) -> None:
        await self.acd.feed(
            ContactArrived(
                now=self.acd.now(),
                contact_id=call.contact_id,
                channel=arrive.channel,
                queue=arrive.queue,
                priority=arrive.priority,
                skills=arrive.skills,
                preferred=arrive.preferred,
                language=arrive.language,
                caller=call.caller or None,
                enqueued_at=arrive.enqueued_at,
                answered=arrive.answered,
                callback_number=arrive.callback_number or None,
            )
        )

    async def _to_acd(self, call: Call, command: vc.ToAcd) -> None:
        now = self.acd.now()
        # A refusal of these is a bug to see, not a race to absorb.
        if command.event == "accepted":
            await self.acd.feed(OfferAccepted(now=now, contact_id=call.contact_id, seat_id=command.seat_id))
            return
        if command.event == "callback_requested":
            await self.acd.feed(CallbackRequested(now=now, contact_id=call.contact_id, number=command.number))
            return
        if command.event == "resumed":
            try:
                await self.acd.feed(
                    TalkResumed(
                        now=now,
                        contact_id=call.contact_id,
                        queue=call.queue or self.default_queue,
                        seat_id=command.seat_id,
                        enqueued_at=call.enqueued or call.arrived,
                        answered_at=call.answered or now,
                        caller=call.caller or None,
                    )
                )
            except ValueError as exc:  # the seat signed in and took another call first: the talk goes on
                logger.warning("talk goes on outside routing", extra={"contact": call.contact_id, "cause": str(exc)})
            return
        event: ContactAbandoned | ContactEnded | OfferFailed
        if command.event == "abandoned":
            event = ContactAbandoned(now=now, contact_id=call.contact_id)
        elif command.event == "ended":
            event = ContactEnded(now=now, contact_id=call.contact_id)
        else:
            event = OfferFailed(now=now, contact_id=call.contact_id, seat_id=command.seat_id, cause=command.cause)
        with contextlib.suppress(ValueError):  # the core has moved on (ended, re-offered): nothing to undo
            await self.acd.feed(event)

    async def _run_survey(self, call: Call) -> None:
        assert self.survey is not None
        try:
            await self.survey(self, call)
        except Exception:
            logger.exception("survey failed", extra={"contact": call.contact_id})
        finally:
            self.inboxes.pop(call.contact_id, None)
            await self.drop_channel(call.channel_id)
            if call.ended is not None:  # the hang-up was seen first: store the rating with it
                self.save(call, final=True)

    def _spawn(self, call: Call, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` for the call beside the event loop, keeping the task until it ends."""
        task = asyncio.create_task(work, name=name)
        self.tasks[call.contact_id] = task
        task.add_done_callback(functools.partial(self._task_done, call.contact_id))

    def _task_done(self, contact_id: str, task: asyncio.Task[None]) -> None:
        if self.tasks.get(contact_id) is task:
            del self.tasks[contact_id]

    def _forget(self, call: Call) -> None:
        if self.missed is not None:
            self.missed.closed(call)
        self.plays.pop(call.contact_id, None)
        self.pending_callbacks.pop(call.contact_id, None)
        self.by_channel.pop(call.channel_id, None)
        self.calls.pop(call.contact_id, None)
        if call.leg is not None:
            self.legs.pop(call.leg.channel_id, None)

    def save(self, call: Call, final: bool = False) -> None:
        """Write the call's interaction record (``final``: with its end)."""
        if self.records is not None:
            # An ended call is written with its end whatever step wrote it last (a step that was
            # under way when the citizen hung up once wrote it unended again, for ever).
            ended = call.ended if final or call.state == ENDED else None
            self.records.put(call.contact_id, call.caller, call.arrived, ended, call.record())

    async def drop_channel(self, channel_id: str, reason: str = "normal") -> None:
        """Hang a channel up; one already gone is not an error."""
        with contextlib.suppress(AriError):
            await self.ari.hangup(channel_id, reason)

    # -- the ACD's commands ----------------------------------------------------------------------
    async def execute(self, command: Command) -> None:
        if isinstance(command, Offer):
            await self._offer(command)
        elif isinstance(command, CancelOffer):
            await self._cancel(command)
        elif isinstance(command, Announce):
            await self._announce(command)
        elif isinstance(command, Overflow):
            await self._overflow(command)
        elif isinstance(command, StartCallback):
            self.pending_callbacks[command.contact_id] = command

    async def _offer(self, offer: Offer) -> None:
        call = self.calls.get(offer.contact_id)
        if call is None:
            logger.warning("offer for a call the voice side does not know", extra={"contact": offer.contact_id})
            return
        if call.state == ENDED:
            return  # the citizen left as the offer came: the abandon on its way to the core cancels it
        device = self.devices.get(offer.seat_id) or SeatDevice(offer.seat_id)
        try:
            dial = (
                self.trunk_endpoint(device.number)
                if device.kind == "cloud" and device.number
                else self.seat_dial(device)
            )
        except VoiceError:
            dial = ""  # a cloud seat at a number nobody may call: unreachable, below
        leg_id = f"seat-{call.contact_id}-{self._tag}-{next(self._seq)}"
        step(call, ev.OfferMade(self.clock(), offer.seat_id, offer.reason, leg_id))
        self.legs[leg_id] = call
        shown = call.caller or "anonymous"
        try:
            if not dial:
                raise AriError(403, "number not allowed", "POST", "/channels")
            await self.ari.originate(
                dial,
                channel_id=leg_id,
                app_args=f"seat,{call.contact_id},{offer.seat_id}",
                caller_id=f'"{shown}" <{shown}>',
                # The core times the ring; Asterisk's own timeout is only a backstop.
                timeout=int(offer.ring_timeout_s) + 10,
                formats=device.formats,
            )
        except AriNoAnswer as exc:
            # Not a refusal: Asterisk may still create the leg (at 100 calls/s it did, 5 s late,
            # and the seat answered a call the engine had given to another). The offer keeps the
            # leg: it is bridged if it comes, and the core's ring timer cancels (hangs up) it if not.
            logger.warning(
                "originate to seat unanswered; the offer waits", extra={"seat": offer.seat_id, "cause": str(exc)}
            )
        except AriError as exc:
            logger.warning("originate to seat failed", extra={"seat": offer.seat_id, "cause": str(exc)})
            in_line = call.channel_id in self.by_channel
            await self.carry_out(call, step(call, ev.OfferRefused(self.clock(), leg_id, offer.seat_id, in_line)))

    async def _cancel(self, cancel: CancelOffer) -> None:
        call = self.calls.get(cancel.contact_id)
        if call is None:
            return
        in_line = call.channel_id in self.by_channel
        await self.carry_out(call, step(call, ev.OfferCancelled(self.clock(), cancel.seat_id, cancel.reason, in_line)))

    async def _announce(self, announce: Announce) -> None:
        call = self.calls.get(announce.contact_id)
        if call is None:
            return
        media = tuple(self.announcement(announce.position, announce.expected_wait_s))
        pid = f"ann-{call.contact_id}-{self._tag}-{next(self._seq)}"
        await self.carry_out(call, step(call, ev.AnnouncementDue(self.clock(), pid, media, announce.position)))

    async def _play_announcement(self, call: Call, command: vc.Announce) -> None:
        pid = command.playback_id
        request = asyncio.ensure_future(self.ari.play(call.channel_id, list(command.media), playback_id=pid, lang="zh"))
        self.plays[call.contact_id] = request
        try:
            await request
        except AriError as exc:
            logger.info("announcement not played", extra={"contact": call.contact_id, "cause": str(exc)})
            await self.carry_out(call, step(call, ev.AnnouncementEnded(self.clock(), pid)))
            return
        step(call, ev.AnnouncementPlayed(self.clock(), pid, command.position))

    def announcement(self, position: int, expected_wait_s: float) -> list[str]:
        """您前面还有N位，预计等待约M分钟, as the IVR's Chinese prompt pieces."""
        from ivr.core.speech import expected_wait, prompt_files
        from ivr.core.speech import position as ahead_of

        names = prompt_files((*ahead_of(max(0, position - 1)), *expected_wait(expected_wait_s)))
        if self.callback_key:
            names.append("callback_offer")  # 按1 to be called back, keeping the place
        return [f"sound:{self.sounds_prefix}/{name}" for name in names]

    async def _overflow(self, overflow: Overflow) -> None:
        call = self.calls.get(overflow.contact_id)
        if call is None:
            return
        event = ev.Overflowed(
            self.clock(),
            overflow.action,
            callable_number=self.callable(call.caller),
            holding_bridge=self.holding.get(call.queue or "", ""),
        )
        decided = step(call, event)
        if any(isinstance(c, vc.Confirm) for c in decided):
            # The confirmation waits for its prompt: beside the ACD's commands, never inside one.
            self._spawn(call, self.carry_out(call, decided), f"cb-{call.contact_id}")
        else:
            await self.carry_out(call, decided)

    def callable(self, number: str) -> str | None:
        """``number`` if a call-back may dial it (not withheld, not international or premium)."""
        return number if number and self.dial_policy.allows(number) else None

    # -- call-backs -------------------------------------------------------------------------
    async def _dial_citizen(self, call: Call, number: str) -> None:
        self.pending_callbacks.pop(call.contact_id, None)
        leg = f"cb-{call.contact_id}-{self._tag}-{next(self._seq)}"
        step(call, ev.CitizenDialled(self.clock(), leg, number))
        self.legs[leg] = call
        try:
            endpoint = self.trunk_endpoint(number)
        except VoiceError:
            self.legs.pop(leg, None)
            await self.carry_out(call, step(call, ev.CallbackFailed(self.clock(), leg, None)))
            return
        try:
            await self.ari.originate(
                endpoint,
                channel_id=leg,
                app_args=f"callback,{call.contact_id}",
                caller_id='"12345" <12345>',
                timeout=40,
            )
        except AriError as exc:
            logger.warning("call-back to citizen failed", extra={"contact": call.contact_id, "cause": str(exc)})

    async def _citizen_answered_callback(self, channel_id: str, contact_id: str) -> None:
        call = self.legs.pop(channel_id, None)
        if call is None:
            await self.drop_channel(channel_id)
            return
        await self.carry_out(call, step(call, ev.CallbackAnswered(self.clock(), channel_id)))

    async def _callback_from_queue(self, call: Call) -> None:
        """'Press 1 to be called back': keep the place, confirm, release the line."""
        number = self.callable(call.caller)
        if number is None:
            return  # no number to call back (withheld, international): the caller keeps waiting
        holding = self.holding.get(call.queue or "", "")
        await self.carry_out(call, step(call, ev.CallbackFromQueue(self.clock(), number, holding)))

    async def _confirm(self, call: Call, confirm: vc.Confirm) -> None:
        """Play a prompt and wait for its end (or the citizen's hang-up), at most its timeout."""
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inboxes[call.contact_id] = inbox
        pid = f"{confirm.prompt}-{call.contact_id}"
        try:
            await self.ari.play(call.channel_id, f"sound:{self.sounds_prefix}/{confirm.prompt}", playback_id=pid)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(confirm.timeout_s):
                    while True:
                        got = await inbox.get()
                        if got.get("type") in ("PlaybackFinished", "Hangup"):
                            break
        except AriError:
            pass  # gone, or the prompt could not play: the line is released all the same
        finally:
            self.inboxes.pop(call.contact_id, None)

    # -- reconciliation ---------------------------------------------------------------------------
    async def reconcile(self) -> None:
        """After a (re)connect: rebuild from Asterisk's channels; keep original places; count nothing twice."""
        if self.resumed is None:
            await self._resume_callbacks()
        channels: list[dict[str, Any]] | None = None
        for attempt in range(3):
            try:
                channels = await self.ari.channels()
                break
            except AriError as exc:
                logger.warning("reconcile: cannot list channels", extra={"cause": str(exc), "attempt": attempt + 1})
                await asyncio.sleep(0.5 * (attempt + 1))
        if channels is None:
            return
        # The first time: what the records say of the calls a stopped (or dead) engine held.
        kept = await self._unended() if self.reconciled == 0 else None
        alive = {c["id"]: c for c in channels if isinstance(c, dict) and "id" in c}
        await self._end_calls_gone(alive)
        if kept is not None:
            bridges = await self._bridges()
            await self._resume_talks(alive, bridges, kept)
            await self._drop_stale_bridges(bridges)
        for cid, channel in alive.items():
            if cid in self.by_channel or cid in self.legs:
                continue
            data = str((channel.get("dialplan") or {}).get("app_data", ""))
            if not data.startswith(f"{self.ari.app},inbound"):
                if data.startswith(f"{self.ari.app},seat"):
                    await self.drop_channel(cid)  # a seat leg of a call we no longer hold
                continue
            record = kept.get(self.contact_of(cid)) if kept is not None else None
            ivr = record[2].get("ivr") if record is not None else None
            await self._adopt(
                channel,
                answered=bool(record is not None and record[2].get("answered")),
                arrived=record[1] if record is not None else None,
                resume=ivr.get("resume") if isinstance(ivr, dict) and isinstance(ivr.get("resume"), dict) else None,
            )
        if kept is not None:
            await self._close_unseen(kept)
        self.reconciled += 1

    async def _end_calls_gone(self, alive: dict[str, dict[str, Any]]) -> None:
        """Calls we knew whose channels Asterisk no longer has (``alive``: those it has) ended
        while we were away: each is finished once, as a hang-up."""
        for call in list(self.calls.values()):
            if call.channel_id not in alive and call.channel_id in self.by_channel:
                await self._citizen_gone(call, None)
            elif call.leg is not None and call.leg.channel_id not in alive:
                await self._seat_leg_gone(call, call.leg.channel_id, None)
        self.holding.clear()

    async def _lose(self, after_s: float) -> None:
        """A peer's events websocket lost: if it is not back within ``after_s``, the server is
        taken for dead and its calls end as a crash's do at the reconnection (abandoned, or
        ended for a talk); handled like a (re)connection, after every call's events so far."""
        await asyncio.sleep(after_s)
        if not self.connected.is_set():
            logger.warning(
                "Asterisk lost: its calls are ended",
                extra={"server": self.server, "calls": len(self.calls), "after_s": after_s},
            )
            self._dispatch({"type": LOST})

    async def _bridges(self) -> list[dict[str, Any]]:
        try:
            bridges = await self.ari.bridges()
        except AriError as exc:
            logger.warning("reconcile: cannot list bridges", extra={"cause": str(exc)})
            return []
        return [b for b in bridges if isinstance(b, dict)]

    async def _resume_talks(
        self,
        alive: dict[str, dict[str, Any]],
        bridges: list[dict[str, Any]],
        kept: dict[str, tuple[str, float, dict[str, Any]]],
    ) -> None:
        """After a start: a citizen and a seat still talking in a bridge Asterisk kept go on
        talking; the call is the seat's again (the seat is busy on it once it signs in), rebuilt
        from the stored record. A talk whose record says no seat answered is not resumed."""
        resumed = 0
        for bridge in bridges:
            bid, members = str(bridge.get("id", "")), bridge.get("channels")
            if not bid.startswith("talk-") or not isinstance(members, list) or len(members) != 2:
                continue
            apps = {str(m): str(((alive.get(str(m)) or {}).get("dialplan") or {}).get("app_data", "")) for m in members}
            citizen = next((m for m, a in apps.items() if a.startswith(f"{self.ari.app},inbound")), None)
            leg = next((m for m, a in apps.items() if a.startswith(f"{self.ari.app},seat,")), None)
            ours = self.contact_of(citizen) if citizen is not None else ""
            if citizen is None or leg is None or ours in self.calls or ours not in kept:
                continue
            parts = apps[leg].split(",")  # "<app>,seat,<contact>,<seat>", as the offer originated it
            contact, seat_id = (parts[2], parts[3]) if len(parts) == 4 else ("", "")
            caller, arrived, data = kept[ours]
            call = talk_from_record(ours, caller, arrived, data, channel_id=citizen)
            if contact != ours or not seat_id or call is None:
                continue
            self.calls[ours] = call
            self.by_channel[citizen] = call
            self.legs[leg] = call
            recording = data.get("recording") if isinstance(data.get("recording"), str) else None
            event = ev.TalkResumed(
                self.clock(),
                leg,
                seat_id,
                bid,
                str(data["queue"]),
                float(data["enqueued"]),
                float(data["answered"]),
                recording,
            )
            await self.carry_out(call, step(call, event))
            resumed += 1
        if resumed:
            logger.warning("calls talking at the last stop go on with their seats", extra={"calls": resumed})

    async def _drop_stale_bridges(self, bridges: list[dict[str, Any]]) -> None:
        """After a start: talk bridges of the engine before (their seat legs hung up above) would
        keep an adopted caller away from the holding bridge; none of them is ours."""
        ours = {call.talk_bridge for call in self.calls.values() if call.talk_bridge}
        for bridge in bridges:
            bid = str(bridge.get("id", "")) if isinstance(bridge, dict) else ""
            if bid.startswith("talk-") and bid not in ours:
                with contextlib.suppress(AriError):
                    await self.ari.destroy_bridge(bid)

    async def _unended(self) -> dict[str, tuple[str, float, dict[str, Any]]]:
        """Records without an end (no promised call-backs): contact -> (caller, arrival, data)."""
        if self.records is None:
            return {}
        rows = await self._recent(self.records.unended, "calls unended at the last stop not looked up")
        return {contact_id: (caller, arrived, data) for contact_id, caller, arrived, data in rows or ()}

    def _mine(self, data: dict[str, Any]) -> bool:
        """A record is this server's to reconcile (its call entered here)."""
        return self.owns_server(str(data.get("server") or "default"))

    async def _recent(
        self, read: Callable[[float], Awaitable[list[tuple[str, str, float, dict[str, Any]]]]], failed: str
    ) -> list[tuple[str, str, float, dict[str, Any]]] | None:
        """A start's read of the recent records, bounded in time: a database that does not answer
        must not hold the calls up (``failed`` is logged with the cause, and None returned)."""
        try:
            async with asyncio.timeout(self.resume_timeout_s):
                rows = await read(self.clock() - self.resume_window_s)
                return [row for row in rows if self._mine(row[3])]
        except Exception as exc:
            logger.error(f"{failed}: records unreadable", extra={"cause": str(exc) or type(exc).__name__})
            return None

    async def _close_unseen(self, kept: dict[str, tuple[str, float, dict[str, Any]]]) -> None:
        """After a start: calls the records show unended that Asterisk no longer holds (and that
        were not adopted or resumed above) ended while no engine watched; their records are
        closed once, so a crash leaves no call open for ever nor makes one up as answered."""
        if self.records is None:
            return
        now = self.clock()
        closed = 0
        for contact_id, (caller, arrived, data) in kept.items():
            if contact_id in self.calls:
                continue  # adopted from Asterisk, or a call-back waiting again
            self.records.put(contact_id, caller, arrived, now, ended_unseen(data, now))
            closed += 1
        if closed:
            logger.warning("calls that ended while the engine was down closed", extra={"calls": closed})

    async def _resume_callbacks(self) -> None:
        """After a start: the call-backs promised before the engine stopped (their citizens off the
        line, so Asterisk holds nothing of them) wait again at their first enqueue time, rebuilt
        from their interaction records. A call-back a seat was making at the stop is not among
        them (its record says it was talking)."""
        self.resumed = []
        if self.records is None:
            return
        rows = await self._recent(self.records.open_callbacks, "call-backs promised before the stop not resumed")
        if rows is None:
            return
        for contact_id, caller, arrived, data in rows:
            call = from_record(contact_id, caller, arrived, data)
            if call is None or contact_id in self.calls:
                continue
            self.calls[contact_id] = call
            if self.acd.core.has_contact(contact_id):
                continue  # the ACD kept its place: the voice side knows the call again
            await self.carry_out(call, step(call, ev.CallbackResumed(self.clock())))
            self.resumed.append(contact_id)
        if self.resumed:
            logger.warning(
                "call-backs promised before the stop wait again at their place", extra={"calls": len(self.resumed)}
            )

    async def _adopt(
        self,
        channel: dict[str, Any],
        *,
        answered: bool = False,
        arrived: float | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        """A caller in Asterisk that no engine holds (after a start) waits on at its first place;
        ``answered``: a seat had answered it before the stop (it is not counted as answered again);
        ``resume``: where in the menu the record says the caller was."""
        cid = channel["id"]
        try:
            enq, _, queue = (await self.ari.get_var(cid, "HOTLINE_ENQUEUED")).partition(";")
        except AriError as exc:
            if exc.status == 404:
                # No place in line yet: the caller was in the menu (or its greeting) at the stop.
                # The menu goes on for them from the node the record keeps, or starts again,
                # rather than leaving them in silence.
                logger.warning(
                    "reconcile: caller was in the menu at the stop: it goes on",
                    extra={"channel": cid, "at_node": (resume or {}).get("node", "(the start)")},
                )
                await self._inbound(channel, self.server, arrived, resume=resume)
                return
            logger.warning("reconcile: caller not adopted", extra={"channel": cid, "cause": str(exc)})
            return
        caller = str((channel.get("caller") or {}).get("number") or "")
        contact = self.contact_of(cid)
        arrived = float(enq or self.clock())
        call = Call(contact_id=contact, channel_id=cid, caller=caller, arrived=arrived, server=self.server)
        self.calls[contact] = call
        self.by_channel[cid] = call
        if self.acd.core.has_contact(contact):
            step(call, ev.Adopted(self.clock(), queue or self.default_queue, float(enq) if enq else None))
            return
        if enq and queue:
            await self.enqueue(call, {"queue": queue}, enqueued_at=float(enq), answered=answered)
        else:
            await self.enqueue(call, {"queue": self.default_queue})

    # -- for tests and the console ----------------------------------------------------------------
    def call_of(self, seat_id: str) -> dict[str, object] | None:
        for call in self.calls.values():
            if call.seat_id == seat_id and call.state == TALKING:
                return {
                    "contact": call.contact_id,
                    "caller": call.caller,
                    "queue": call.queue,
                    "answered": call.answered,
                    "wait_s": call.record()["wait_s"],
                    "ivr_path": call.ivr_path,
                }
        return None


def _target_channel(event: dict[str, Any]) -> str:
    """The channel a playback or recording event is about ("" for a bridge's)."""
    target = str((event.get("playback") or event.get("recording") or {}).get("target_uri", ""))
    return target.split(":", 1)[1] if target.startswith("channel:") else ""
