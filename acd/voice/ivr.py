"""The IVR on ARI: runs an :class:`IvrSession` for one caller, executing its commands on the
caller's channel and turning the channel's events (DTMF, playback and recording ends, hang-up)
into the session's events. Runs in the call's own task, fed through the call's inbox (``VoiceService.inboxes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from acd.ari.client import AriError, AriNotFound
from acd.voice.core import events as ev
from acd.voice.core.machine import step
from hotline.clock import engine_time
from ivr.core.errors import IllegalEvent
from ivr.core.flow import QueueLoad
from ivr.core.messages import (
    CollectDigits,
    Command,
    DigitsReceived,
    DigitTimeout,
    Enqueue,
    Event,
    Hangup,
    LookupAnswered,
    LookupWorkOrder,
    Play,
    PromptFinished,
    RecordingFinished,
    RecordMessage,
    RequestCallback,
    Transfer,
)
from ivr.core.speech import prompt_files

if TYPE_CHECKING:
    from acd.voice.core.call import Call
    from acd.voice.service import VoiceService
    from ivr.api import IvrApi

logger = logging.getLogger(__name__)

# The ACD's priority classes by the flow's numeric priority (0 normal, higher is more urgent).
PRIORITY_CLASSES = {0: "normal", 1: "repeat", 2: "special", 3: "emergency"}
Lookup = Callable[[str], Awaitable[tuple[bool, str]]]
_seq = itertools.count(1)


class IvrRunner:
    def __init__(
        self,
        service: IvrApi,
        *,
        sounds_dir: str,
        lookup: Lookup | None = None,
        tz: dt.tzinfo = dt.timezone(dt.timedelta(hours=8)),
        clock: Callable[[], float] = engine_time,
        on_voice_message: Callable[[Call, str], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.sounds_dir = sounds_dir.rstrip("/")
        self.lookup = lookup
        self.tz = tz
        self.clock = clock
        self.on_voice_message = on_voice_message

    def media(self, pieces: tuple[Any, ...]) -> list[str]:
        # Prompts are installed under Asterisk's own sounds folder; it picks the best format.
        return [f"sound:{self.sounds_dir}/{name}" for name in prompt_files(pieces)]

    async def run(self, voice: VoiceService, call: Call) -> dict[str, Any] | None:
        load = {}
        core = voice.acd.core
        for name in core.queue_names():
            snap = core.queue_snapshot(name)
            load[name] = QueueLoad(
                waiting=int(snap["waiting"]),
                expected_wait=float(snap["longest_wait_s"]),
                seats_logged_in=sum(1 for s in core.seats() if s.state != "logged_out"),
            )
        session = self.service.new_session(call.caller, dt.datetime.fromtimestamp(self.clock(), self.tz), load)
        # A caller taken over in the menu (the engine before was killed) goes on where it was.
        resume = (call.ivr_record or {}).get("resume")
        run = _Run(self, voice, call, session, resume=resume if isinstance(resume, dict) else None)
        try:
            return await run.go()
        finally:
            step(call, ev.IvrFinished(self.clock(), session.record()))

    async def survey(self, voice: VoiceService, call: Call) -> None:
        """After the seat hangs up: 满意 1 / 基本满意 2 / 不满意 3, stored on the call's record."""
        session = self.service.new_survey()
        run = _Run(self, voice, call, session)
        try:
            await run.go()
        finally:
            if session.result is not None:
                step(call, ev.SurveyRated(self.clock(), session.result.as_dict()))


class _Run:
    def __init__(
        self, runner: IvrRunner, voice: VoiceService, call: Call, session: Any, resume: dict[str, Any] | None = None
    ) -> None:
        self.r = runner
        self.resume = resume
        self.saved: dict[str, Any] | None = None  # the checkpoint last put on the record
        self.v = voice
        self.call = call
        self.session = session
        self.playback: str | None = None
        self.collect: CollectDigits | None = None
        self.digits = ""
        self.barge_in = False
        self.deadline: float | None = None
        self.recording: str | None = None

    async def go(self) -> dict[str, Any] | None:
        if self.resume:
            left = await self._prompt_left()
            commands = self.session.resume(self.resume, prompt=left)
            self.saved = getattr(self.session, "checkpoint", None)
            if left == "playing" and commands and self.playback:
                # The node starts over (a menu): the old prompt would hold up the new one.
                with contextlib.suppress(AriError):
                    await self.v.ari.stop_playback(self.playback)
                self.playback = None
            logger.info(
                "IVR goes on after a takeover",
                extra={"contact": self.call.contact_id, "node": self.resume.get("node"), "prompt": left},
            )
        else:
            commands = self.session.start()
        while True:
            for command in commands:
                result = await self.execute(command)
                if result is not None:
                    return result if isinstance(result, dict) else None
            checkpoint = getattr(self.session, "checkpoint", None)  # a survey has none
            if checkpoint is not None and checkpoint is not self.saved:
                # Where the caller is, with the id of the node's prompt now playing: an engine
                # taking the call over goes on from there (written with the call's other changes,
                # the records being put together per call).
                where = {**checkpoint, "playback": self.playback}
                await self.v.carry_out(self.call, step(self.call, ev.IvrProgressed(self.v.clock(), where)))
                self.saved = checkpoint
            event = await self.next_event()
            if event is None:
                return None
            try:
                commands = self.session.on_event(event)
            except IllegalEvent as exc:
                logger.info("IVR event ignored", extra={"contact": self.call.contact_id, "cause": str(exc)})
                commands = []
            if isinstance(event, Hangup):
                return None

    async def _prompt_left(self) -> str:
        """What became of the prompt the engine before had started at the checkpoint: Asterisk
        plays it on while no engine watches. "playing" (its end is waited for, under its id),
        "heard" (it ended), "again" (not known)."""
        pid = (self.resume or {}).get("playback")
        if not isinstance(pid, str) or not pid:
            return "again"
        try:
            await self.v.ari.playback(pid)
        except AriNotFound:
            return "heard"
        except AriError:
            return "again"
        self.playback = pid
        return "playing"

    async def execute(self, command: Command) -> dict[str, Any] | bool | None:
        """Start one command; a dict or True ends the IVR (dict: the routing into the ACD)."""
        ari = self.v.ari
        cid = self.call.channel_id
        if isinstance(command, Play):
            self.playback = f"ivr-{cid}-{next(_seq)}"
            self.barge_in = command.barge_in
            try:
                await ari.play(cid, self.r.media(command.pieces), playback_id=self.playback, lang="zh")
            except (AriError, ValueError) as exc:
                logger.warning("IVR prompt not played", extra={"contact": self.call.contact_id, "cause": str(exc)})
                self.playback = None
                self._post({"type": "_PromptFailed"})
        elif isinstance(command, CollectDigits):
            self.collect = command
            self.digits = ""
            self.deadline = None if self.playback else time.monotonic() + command.timeout
        elif isinstance(command, Enqueue):
            skills = [(s, 1) for s in command.skills]
            # Enqueue.priority already carries the flow's boosts (VIP and the like).
            prio = PRIORITY_CLASSES.get(max(0, min(3, command.priority)), "normal")
            return {"queue": command.queue, "skills": skills, "priority": prio}
        elif isinstance(command, Transfer):
            step(self.call, ev.IvrHungUp(self.v.clock(), transfer_to=command.number))
            with contextlib.suppress(AriError):
                await ari.continue_in_dialplan(cid, "from-seats", command.number)
            return True
        elif isinstance(command, RecordMessage):
            self.recording = f"msg-{self.call.contact_id}"
            await ari.record_channel(
                cid, self.recording, max_seconds=command.max_seconds, beep=command.beep, terminate_on="#"
            )
        elif isinstance(command, RequestCallback):
            await self._promise_callback(command)
        elif isinstance(command, LookupWorkOrder):
            found, status = (False, "")
            if self.r.lookup is not None:
                try:
                    found, status = await self.r.lookup(command.number)
                except Exception:
                    logger.exception("work-order lookup failed", extra={"number": command.number})
            self._post({"type": "_Lookup", "found": found, "status": status})
        elif isinstance(command, Hangup):
            # The menu let the citizen go (its outcome on the record); the survey's end (thanks,
            # then hang up) is not the menu's and has no outcome of its own.
            outcome = getattr(self.session, "outcome", None)
            if outcome is not None:
                step(self.call, ev.IvrHungUp(self.v.clock(), outcome=str(outcome)))
            with contextlib.suppress(AriError):
                await ari.hangup(cid)
            return True
        return None

    async def _promise_callback(self, command: RequestCallback) -> None:
        """The flow promised a call-back: a contact the ACD offers to a seat, who calls back."""
        number = self.v.callable(command.number)
        if number is None:
            logger.warning(
                "call-back promised to a number that may not be called", extra={"contact": self.call.contact_id}
            )
            return
        core = self.v.acd.core
        queue = command.queue if core.queue_config(command.queue) is not None else self.v.default_queue
        await self.v.carry_out(self.call, step(self.call, ev.CallbackPromised(self.v.clock(), number, queue)))

    def _post(self, event: dict[str, Any]) -> None:
        inbox = self.v.inboxes.get(self.call.contact_id)
        if inbox is not None:
            inbox.put_nowait(event)

    async def next_event(self) -> Event | None:
        inbox = self.v.inboxes.get(self.call.contact_id)
        if inbox is None:
            return None
        while True:
            timeout = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            try:
                raw = await asyncio.wait_for(inbox.get(), timeout)
            except TimeoutError:
                self.deadline = None
                if self.collect is not None:
                    self.collect = None
                    if self.digits:
                        return DigitsReceived(self.digits)
                    return DigitTimeout()
                continue
            event = await self._translate(raw)
            if event is not None:
                return event

    async def _translate(self, raw: dict[str, Any]) -> Event | None:
        kind = raw.get("type")
        if kind == "Hangup":
            return Hangup()
        if kind in ("PlaybackFinished", "_PromptFailed"):
            pid = (raw.get("playback") or {}).get("id")
            if kind == "PlaybackFinished" and pid != self.playback:
                return None  # an older prompt that was cut short
            self.playback = None
            if self.collect is not None:
                self.deadline = time.monotonic() + self.collect.timeout
            return PromptFinished()
        if kind == "ChannelDtmfReceived":
            digit = str(raw.get("digit", ""))
            if self.collect is None or not digit:
                return None
            if self.playback and self.barge_in:
                with contextlib.suppress(AriError):
                    await self.v.ari.stop_playback(self.playback)
                self.playback = None
            if digit == self.collect.terminator:
                return self._digits_done()
            self.digits += digit
            self.deadline = time.monotonic() + self.collect.timeout
            if len(self.digits) >= self.collect.max_digits:
                return self._digits_done()
            return None
        if kind in ("RecordingFinished", "RecordingFailed"):
            rec = raw.get("recording") or {}
            seconds = float(rec.get("duration") or 0.0)
            name = str(rec.get("name") or self.recording or "")
            step(self.call, ev.MessageRecorded(self.v.clock(), name))
            if self.r.on_voice_message is not None and kind == "RecordingFinished":
                with contextlib.suppress(Exception):
                    await self.r.on_voice_message(self.call, name)
            return RecordingFinished(seconds)
        if kind == "_Lookup":
            return LookupAnswered(bool(raw.get("found")), str(raw.get("status", "")))
        return None

    def _digits_done(self) -> DigitsReceived:
        digits, self.digits = self.digits, ""
        self.collect = None
        self.deadline = None
        return DigitsReceived(digits)
