"""The supervisor's side: the live board, and what a supervisor may do to seats and calls."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from acd.core import SeatLoggedOut, SeatNotReady, SeatSkillsChanged, SeatView
from acd.voice.api import VoiceControl, VoiceError, sip_credentials
from agent_console import schemas
from agent_console.core import board
from agent_console.services import AGENT_NS, SUPERVISOR_NS, SUPERVISORS, ConsoleError, ConsoleService, queue_room

logger = logging.getLogger(__name__)


class SupervisorActions:
    def __init__(self, console: ConsoleService) -> None:
        self.c = console
        self.snoops: dict[str, str] = {}  # snoop id -> supervisor who started it
        self._dirty: set[str] = set()  # seats whose new row has not gone to the supervisors yet
        self._flush_pending = False
        self._sent: dict[str, tuple[int, float]] = {}  # queue -> (waiting, when) last sent to its rooms

    # ---- the board ---------------------------------------------------------------------------
    def queues(self) -> list[dict[str, Any]]:
        core = self.c.acd.core
        live = core.live_stats()["queues"]
        return board.queue_board(live, core.interval_stats(), self.c.now(), core.settings.interval_s)

    def board(self) -> dict[str, Any]:
        core = self.c.acd.core
        seats = [self.c.seat_row(seat_id) for seat_id in core.seat_ids()]
        return {
            "now": self.c.now(),
            "queues": self.queues(),
            "seats": seats,
            "by_state": core.seats_by_state(),
            "series": board.day_series(core.interval_stats(), self.c.now(), core.settings.interval_s),
            "interval_s": core.settings.interval_s,
        }

    async def on_seat_topic(self, _topic: str, payload: dict[str, Any]) -> None:
        """A seat changed state: every supervisor gets the seat's new row on the next loop turn.

        Not inline: the ACD awaits its bus handlers in order, and the fan-out to every supervisor
        would otherwise run before the Offer that follows a seat's change to reserved. Changes of
        one seat within one turn go out once, as its latest row.
        """
        seat_id = str(payload.get("seat_id", ""))
        if not seat_id:
            return
        self._dirty.add(seat_id)
        if not self._flush_pending:
            self._flush_pending = True
            self.c.spawn(self._flush_seats())

    async def _flush_seats(self) -> None:
        self._flush_pending = False
        dirty, self._dirty = self._dirty, set()
        for seat_id in sorted(dirty):
            await self.c.sio.emit("seat", self.c.seat_row(seat_id), room=SUPERVISORS, namespace=SUPERVISOR_NS)

    async def push_queues(self) -> None:
        rows = self.queues()
        await self.c.sio.emit(
            "queues", {"now": self.c.now(), "queues": rows}, room=SUPERVISORS, namespace=SUPERVISOR_NS
        )
        for row in rows:
            name = row["queue"]
            # Seats get a queue's figures only when its waiting count changes (or, while someone
            # waits, every ~10 s): hundreds of seats per room make a push to all of them a burst
            # that would delay offers. The page counts the longest wait up by itself in between.
            waiting = row["waiting"]
            last = self._sent.get(name)
            now = self.c.now()
            if last is not None and last[0] == waiting and (waiting == 0 or now - last[1] < 10.0):
                continue
            self._sent[name] = (waiting, now)
            brief = {"queue": name, "waiting": waiting, "longest_wait_s": row["longest_wait_s"]}
            await self.c.sio.emit("queue", brief, room=queue_room(name), namespace=AGENT_NS)
            await self.c.sio.emit("queue", row, room=queue_room(name), namespace=SUPERVISOR_NS)

    async def run_pusher(self) -> None:
        """Queue figures change with time alone (the longest wait grows): push them every few seconds."""
        while True:
            await asyncio.sleep(self.c.console.board_every_s)
            try:
                await self.push_queues()
            except Exception:
                logger.exception("queue board push failed")

    # ---- actions -----------------------------------------------------------------------------
    async def get_board(self, _who: str, _e: schemas.In) -> dict[str, Any]:
        return self.board()

    def _seat(self, seat_id: str) -> SeatView:
        seat = self.c.acd.core.seat(seat_id)
        if seat is None:
            raise ConsoleError(f"座席 {seat_id} 未签入")
        return seat

    async def force_not_ready(self, who: str, e: schemas.ForceNotReady) -> dict[str, Any]:
        self._seat(e.seat_id)
        await self.c.feed(SeatNotReady(now=self.c.now(), seat_id=e.seat_id, reason=e.reason))
        await self.c.emit_seat(e.seat_id, "forced", {"action": "not_ready", "by": who, "reason": e.reason})
        logger.info("supervisor set seat not ready", extra={"by": who, "seat": e.seat_id, "reason": e.reason})
        return {"seat": self.c.seat_row(e.seat_id)}

    async def force_logout(self, who: str, e: schemas.OnSeat) -> dict[str, Any]:
        self._seat(e.seat_id)
        await self.c.feed(SeatLoggedOut(now=self.c.now(), seat_id=e.seat_id))
        self.c.offers.pop(e.seat_id, None)
        await self.c.join_queue_rooms(e.seat_id)
        await self.c.emit_seat(e.seat_id, "forced", {"action": "logout", "by": who, "reason": ""})
        logger.info("supervisor logged a seat out", extra={"by": who, "seat": e.seat_id})
        return {"seat": self.c.seat_row(e.seat_id)}

    async def move_seat(self, who: str, e: schemas.MoveSeat) -> dict[str, Any]:
        seat = self._seat(e.seat_id)
        groups = sorted({g.strip() for g in e.groups if g.strip()})
        if any(len(g) > 32 for g in groups):
            raise ConsoleError("组名过长（最多 32 字）")
        skills = dict(seat.skills) if e.skills is None else dict(e.skills)
        await self.c.feed(
            SeatSkillsChanged(
                now=self.c.now(), seat_id=e.seat_id, skills=tuple(sorted(skills.items())), groups=tuple(groups)
            )
        )
        # Kept for the seat's next login too: a move is a decision about the seat, not this session.
        await self.c.save_profile(e.seat_id, skills, groups, who)
        await self.c.join_queue_rooms(e.seat_id)
        await self.c.emit_seat(e.seat_id, "state", self.c.seat_row(e.seat_id))
        return {"seat": self.c.seat_row(e.seat_id)}

    def _voice(self) -> VoiceControl:
        voice: VoiceControl | None = self.c.deps.voice
        if voice is None:
            raise ConsoleError("语音服务未启用")
        return voice

    async def snoop(self, who: str, e: schemas.Snoop) -> dict[str, Any]:
        if self._seat(e.seat_id).voice is None:
            raise ConsoleError(f"座席 {e.seat_id} 当前没有通话")
        voice = self._voice()
        # The supervisor listens on their own soft-phone unless they name another endpoint.
        endpoint = e.endpoint or "PJSIP/" + sip_credentials(self.c.settings.secret_key, who)[0]
        try:
            snoop_id = await voice.snoop(endpoint, e.seat_id, e.mode)
        except VoiceError as exc:
            raise ConsoleError(str(exc) or "监听失败") from None
        self.snoops[snoop_id] = who
        logger.info("supervisor snoop", extra={"by": who, "seat": e.seat_id, "mode": e.mode})
        return {"snoop_id": snoop_id, "seat_id": e.seat_id, "mode": e.mode}

    async def stop_snoop(self, who: str, e: schemas.StopSnoop) -> dict[str, Any]:
        if self.snoops.get(e.snoop_id) != who:
            raise ConsoleError("没有这个监听，或不是您发起的")
        try:
            await self._voice().stop_snoop(e.snoop_id)
        except VoiceError as exc:
            raise ConsoleError(str(exc) or "结束监听失败") from None
        del self.snoops[e.snoop_id]
        return {"snoop_id": e.snoop_id}

    async def sip(self, who: str, _e: schemas.In) -> dict[str, Any]:
        """The supervisor's own soft-phone, which listen/whisper/barge calls ring by default."""
        if self.c.deps.phones is not None and self.c.deps.phones.credentials(who) is None:
            await self.c.open_phone(who, "webrtc")
        return self.c.credentials(who)

    async def watch(self, sid: str, e: schemas.Watch) -> dict[str, Any]:
        """Which queues' rooms this supervisor's socket is in (default: all)."""
        known = set(self.c.acd.core.queue_names())
        unknown = [q for q in e.queues if q not in known]
        if unknown:
            raise ConsoleError(f"没有队列：{'、'.join(unknown)}")
        for room in self.c.sio.rooms(sid, namespace=SUPERVISOR_NS):
            if room.startswith("queue:"):
                await self.c.sio.leave_room(sid, room, namespace=SUPERVISOR_NS)
        for q in e.queues or sorted(known):
            await self.c.sio.enter_room(sid, queue_room(q), namespace=SUPERVISOR_NS)
        return {"queues": e.queues or sorted(known)}
