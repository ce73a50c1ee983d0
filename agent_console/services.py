"""The seat side of the console: every seat action becomes an ACD event or a voice command.

The namespaces only validate; this module decides whether the seat may do it (its own contact
only, a state the ACD allows), feeds the ACD through its one door, and tells the seat's pages.
ACD refusals (IllegalTransition, unknown seat) come back as :class:`ConsoleError`, never a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_console.kb import KbSuggestions
    from hotline.context import Deps

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import socketio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.api import AcdApi
from acd.core import (
    Event,
    IllegalTransition,
    OfferRejected,
    SeatNotReady,
)
from acd.voice.api import SeatDevice, sip_credentials
from agent_console import history
from agent_console.activity import ActivityLog
from agent_console.core import board, context, presence
from agent_console.models import ConsoleActivity, SeatProfile
from agent_console.settings import ConsoleSettings
from hotline.clock import engine_time
from hotline.dbhealth import log_failure
from hotline.settings import Settings

logger = logging.getLogger(__name__)

AGENT_NS = "/agent"
SUPERVISOR_NS = "/supervisor"
SUPERVISORS = "supervisors"
STATE_LABELS = {
    "logged_out": "未签入",
    "not_ready": "示忙",
    "ready": "空闲",
    "reserved": "振铃",
    "busy": "服务中",
    "wrap_up": "话后处理",
}
WORKORDER_CHANNEL = {"voice": "phone", "callback": "phone", "wechat": "wechat", "webchat": "web"}


class ConsoleError(Exception):
    """A refused request; the message (Chinese) goes to the page in the error ack."""


def seat_room(seat_id: str) -> str:
    return f"seat:{seat_id}"


def queue_room(queue: str) -> str:
    return f"queue:{queue}"


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


async def phone_profiles(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[str, str]]:
    async with sessions() as s:
        return {p.seat_id: (p.phone, p.number) for p in (await s.execute(select(SeatProfile))).scalars()}


class ConsoleService:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        acd: AcdApi,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        console: ConsoleSettings,
        deps: Deps,
        clock: Callable[[], float] = engine_time,
    ) -> None:
        self.sio = sio
        self.acd = acd
        self.sessions = sessions
        self.settings = settings
        self.console = console
        self.deps = deps
        self.clock = clock
        self.activity = ActivityLog(sessions)
        self.presence = presence.Presence(console.grace_s)
        self.offers: dict[str, dict[str, Any]] = {}  # seat -> the offer it has not answered yet
        self.phones: dict[str, str] = {}  # seat -> webrtc | desk | external
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self.kb: KbSuggestions | None = None  # knowledge suggestions, when the knowledge base runs

    # ---- plumbing --------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Work that must not delay the ACD (database writes, context look-ups) runs on its own."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            log_failure(logger, "console background task failed", exc, "console")

    async def feed(self, event: Event) -> None:
        try:
            await self.acd.feed(event)
        except IllegalTransition as exc:
            raise ConsoleError(f"当前状态（{STATE_LABELS.get(exc.state, exc.state)}）不允许此操作") from None
        except ValueError as exc:
            raise ConsoleError(f"操作被拒绝：{exc}") from None

    def now(self) -> float:
        return self.acd.now()

    def seat_row(self, seat_id: str) -> dict[str, Any]:
        """The seat as the ACD sees it, for the seat's page and the supervisors' board."""
        core = self.acd.core
        seat = core.seat(seat_id)
        if seat is None:
            return {
                "seat": seat_id,
                "state": "logged_out",
                "label": STATE_LABELS["logged_out"],
                "online": self.online(seat_id),
            }
        row = core.seat_state(seat_id)
        row["time_in_state_s"] = max(0.0, self.now() - seat.since)
        row["label"] = STATE_LABELS.get(row["state"], row["state"])
        row["groups"] = sorted(seat.groups)
        row["skills"] = dict(sorted(seat.skills.items()))
        row["online"] = self.online(seat_id)
        return row

    def online(self, seat_id: str) -> str:
        return self.presence.state(seat_id)

    async def emit_seat(self, seat_id: str, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=seat_room(seat_id), namespace=AGENT_NS)

    async def phone_profiles(self) -> dict[str, tuple[str, str]]:
        """Each seat's phone as its profile names it: seat id -> (phone, external number)."""
        return await phone_profiles(self.sessions)

    # ---- bus: what other features show on the consoles -------------------------------------------
    async def on_to_seat(self, _topic: str, payload: dict[str, Any]) -> None:
        await self.emit_seat(str(payload["seat_id"]), str(payload["event"]), payload["data"])

    async def on_to_supervisors(self, _topic: str, payload: dict[str, Any]) -> None:
        await self.sio.emit(str(payload["event"]), payload["data"], room=SUPERVISORS, namespace=SUPERVISOR_NS)

    # ---- bus: what the ACD decided -------------------------------------------------------------
    async def on_seat_topic(self, _topic: str, payload: dict[str, Any]) -> None:
        seat_id = str(payload.get("seat_id", ""))
        if payload.get("event") == "offer":
            await self._offer(seat_id, payload)
        elif payload.get("event") == "state":
            offer = self.offers.get(seat_id)
            seat = self.acd.core.seat(seat_id)
            if offer is not None and (seat is None or seat.offer != offer["contact_id"]):
                del self.offers[seat_id]
                cid = offer["contact_id"]
                answered = seat is not None and (seat.voice == cid or cid in seat.chats)
                if answered and not offer.get("accepted"):
                    # Answered on a desk or external phone without a click on the page: the seat's
                    # call all the same, to wrap up (without this note it could never be wrapped up).
                    self.note(seat_id, cid, "accept", str(offer.get("channel", "")))
                await self.emit_seat(seat_id, "offer_gone", {"contact_id": cid, "answered": answered})
            await self.emit_seat(seat_id, "state", self.seat_row(seat_id))

    async def _offer(self, seat_id: str, payload: dict[str, Any]) -> None:
        now = self.now()
        cid = str(payload["contact_id"])
        contact = self.acd.core.contact(cid)
        offer = {
            "contact_id": cid,
            "channel": payload.get("channel", ""),
            "ring_timeout_s": payload.get("ring_timeout_s", 0),
            "deadline": now + float(payload.get("ring_timeout_s", 0)),
            "offered_at": now,
            "queue": contact.queue if contact else "",
            "caller": (contact.caller or "") if contact else "",
            "wait_s": max(0.0, now - contact.enq) if contact else 0.0,
            "auto_answer": False,
        }
        self.offers[seat_id] = offer
        await self.emit_seat(seat_id, "offer", offer)
        self.note(seat_id, cid, "offer", offer["channel"])
        self.spawn(self._after_offer(seat_id, offer))

    async def _after_offer(self, seat_id: str, offer: dict[str, Any]) -> None:
        ctx = await self.context_of(offer["contact_id"], offer.get("caller", ""))
        await self.emit_seat(seat_id, "context", ctx)

    async def context_of(self, contact_id: str, caller: str) -> dict[str, Any]:
        data = await history.interaction_data(self.sessions, contact_id)
        caller = caller or str(data.get("caller", ""))
        past = await history.caller_history(
            self.sessions, caller, contact_id, self.console.history_limit, self.deps.workorders
        )
        return {"contact_id": contact_id, "caller": caller, "ivr_path": context.ivr_steps(data), **past}

    async def record(self, seat_id: str, contact_id: str, kind: str, channel: str, **extra: str) -> None:
        """Wait until the row is written (wrap-ups: the seat must know it is stored)."""
        await self.activity.add(
            seat_id=seat_id, contact_id=contact_id, kind=kind, channel=channel, at=utc(self.clock()), **extra
        )

    def note(self, seat_id: str, contact_id: str, kind: str, channel: str) -> None:
        """Queue the row and go on: offers and answers must not wait for the database."""
        fut = self.activity.add(
            seat_id=seat_id, contact_id=contact_id, kind=kind, channel=channel, at=utc(self.clock())
        )
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())

    # ---- presence ----------------------------------------------------------------------------
    async def connected(self, sid: str, seat_id: str) -> None:
        await self.sio.enter_room(sid, seat_room(seat_id), namespace=AGENT_NS)
        for queue in self.queues_of(seat_id):
            await self.sio.enter_room(sid, queue_room(queue), namespace=AGENT_NS)
        cmds = self.presence.handle(presence.Connected(self._pnow(), seat_id, sid))
        await self._presence_commands(cmds)
        self._wake.set()
        await self.sio.emit("seat", self.seat_row(seat_id), room=SUPERVISORS, namespace=SUPERVISOR_NS)

    async def disconnected(self, sid: str, seat_id: str) -> None:
        try:
            cmds = self.presence.handle(presence.Disconnected(self._pnow(), seat_id, sid))
        except ValueError:
            logger.warning("disconnect of an unknown socket", extra={"seat": seat_id, "sid": sid})
            return
        await self._presence_commands(cmds)
        self._wake.set()
        await self.sio.emit("seat", self.seat_row(seat_id), room=SUPERVISORS, namespace=SUPERVISOR_NS)

    def _pnow(self) -> float:
        return max(self.clock(), self.presence.now)

    async def _presence_commands(self, cmds: list[presence.PresenceCommand]) -> None:
        for cmd in cmds:
            if isinstance(cmd, presence.Resumed):
                logger.info("console resumed", extra={"seat": cmd.seat_id, "away_s": round(cmd.away_s, 1)})
            else:
                await self._expired(cmd.seat_id)

    async def _expired(self, seat_id: str) -> None:
        """Gone past the grace period: its offer goes to another seat, and it takes no new ones."""
        seat = self.acd.core.seat(seat_id)
        if seat is None:
            return
        logger.warning("console gone past the grace period: seat set not ready", extra={"seat": seat_id})
        try:
            # Pause first: a pause asked while an offer rings waits for it, so rejecting the offer
            # afterwards leaves the seat not ready instead of free for the next offer.
            offer = seat.offer
            await self.acd.feed(SeatNotReady(now=self.now(), seat_id=seat_id, reason="disconnected"))
            if offer is not None:
                await self.acd.feed(OfferRejected(now=self.now(), contact_id=offer, seat_id=seat_id))
        except ValueError:
            logger.exception("could not set a vanished seat not ready", extra={"seat": seat_id})
        await self.sio.emit("seat", self.seat_row(seat_id), room=SUPERVISORS, namespace=SUPERVISOR_NS)

    async def run_timers(self) -> None:
        while True:
            deadline = self.presence.next_deadline()
            self._wake.clear()
            delay = 3600.0 if deadline is None else max(0.0, deadline - self.clock())
            try:
                async with asyncio.timeout(delay):  # not wait_for: it can swallow a stop (see acd.service)
                    await self._wake.wait()
                continue
            except TimeoutError:
                pass
            try:
                await self._presence_commands(self.presence.handle(presence.Tick(self._pnow())))
            except Exception:
                logger.exception("console presence tick failed")

    def start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self.run_timers(), name="console-presence")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._timer] if self._timer else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._timer = None
        await self.activity.close()

    def queues_of(self, seat_id: str) -> list[str]:
        """The queues whose contacts this seat can take (at their strictest), for the queue rooms."""
        core = self.acd.core
        seat = core.seat(seat_id)
        if seat is None:
            return []
        out = []
        for name in core.queue_names():
            q = core.queue(name)
            if q.groups and seat.groups.isdisjoint(q.groups):
                continue
            if all(seat.skills.get(skill, 0) >= level for skill, level in q.skills):
                out.append(name)
        return sorted(out)

    async def join_queue_rooms(self, seat_id: str) -> None:
        wanted = set(self.queues_of(seat_id))
        for sid in self.presence.sockets(seat_id):
            for room in self.sio.rooms(sid, namespace=AGENT_NS):
                if room.startswith("queue:") and room[6:] not in wanted:
                    await self.sio.leave_room(sid, room, namespace=AGENT_NS)
            for queue in wanted:
                await self.sio.enter_room(sid, queue_room(queue), namespace=AGENT_NS)

    # ---- profiles ----------------------------------------------------------------------------
    async def profile(self, seat_id: str) -> dict[str, Any]:
        async with self.sessions() as s:
            row = await s.get(SeatProfile, seat_id)
        if row is None:
            return {"skills": dict(self.console.default_skills), "groups": [], "kind": "onsite", "phone": "webrtc"}
        return {"skills": dict(row.skills), "groups": list(row.groups), "kind": row.kind, "phone": row.phone}

    async def save_profile(self, seat_id: str, skills: dict[str, int], groups: list[str], by: str) -> None:
        async with self.sessions() as s, s.begin():
            row = await s.get(SeatProfile, seat_id)
            if row is None:
                row = SeatProfile(seat_id=seat_id, kind="onsite", phone="webrtc", number="")
                s.add(row)
            row.skills, row.groups = dict(skills), list(groups)
            row.updated_at, row.updated_by = utc(self.clock()), by

    def sip(self, seat_id: str) -> dict[str, Any] | None:
        if self.phones.get(seat_id, "webrtc") != "webrtc":
            return None
        return self.credentials(seat_id)

    async def open_phone(self, user_id: str, phone: str) -> None:
        """Make the user's SIP endpoint exist (a browser: with a new password) before the page
        registers; without a voice side (tests, chat-only) there is nothing to open."""
        endpoints = self.deps.phones
        if endpoints is None or phone == "external":
            return
        try:
            await endpoints.sign_in(SeatDevice(user_id, kind="desk" if phone == "desk" else "webrtc"))
        except Exception as exc:
            # Asterisk away a moment: the seat still signs in (chats need no phone); its endpoint
            # is in the next write that succeeds, and the page's phone registers then.
            logger.warning("seat phone not opened yet", extra={"seat": user_id, "cause": str(exc)})

    async def close_phone(self, user_id: str) -> None:
        endpoints = self.deps.phones
        if endpoints is None:
            return
        try:
            await endpoints.sign_out(user_id)
        except Exception as exc:
            logger.warning("seat phone not closed yet", extra={"seat": user_id, "cause": str(exc)})

    def credentials(self, user_id: str) -> dict[str, Any]:
        """The browser soft-phone's registration: endpoint ``seat<id>`` with the password of this
        sign-in (the voice side wrote it into Asterisk)."""
        endpoints = self.deps.phones
        opened = endpoints.credentials(user_id) if endpoints is not None else None
        user, password = opened or sip_credentials(self.settings.secret_key, user_id)
        ast = self.settings.asterisk
        return {
            "ws_url": "/sip/ws",  # relayed by the engine (acd/voice/sipws.py); the page makes it absolute
            "uri": f"sip:{user}@{ast.host}",
            "username": user,
            "password": password,
        }

    # ---- the session as the page needs it after a refresh ---------------------------------------
    def snapshot(self, seat_id: str) -> dict[str, Any]:
        seat = self.acd.core.seat(seat_id)
        media = None if seat is None else "chat" if not seat.calls else "voice" if seat.max_chats <= 0 else "all"
        return {
            "seat": self.seat_row(seat_id),
            "logged_in": seat is not None,
            "media": media,  # what the seat signed in for: all, voice (calls only) or chat (chats only)
            "offer": self.offers.get(seat_id),
            "voice": seat.voice if seat else None,
            "chats": list(seat.chats) if seat else [],
            "phone": self.phones.get(seat_id, "webrtc"),
            "sip": self.sip(seat_id) if seat is not None and media != "chat" else None,  # no phone for chats only
            "queues": self.queues_of(seat_id),
            "queue_figures": [self.acd.core.queue_snapshot(q) for q in self.queues_of(seat_id)],
            "reasons": list(self.console.not_ready_reasons),
            "dispositions": list(self.console.dispositions),
            "quick_replies": list(self.console.quick_replies),
            "now": self.now(),
        }

    async def to_wrap(self, seat_id: str) -> list[str]:
        """Contacts the seat took today that ended without a wrap-up (shown again after a refresh)."""
        start = utc(board.day_start(self.clock()))
        await self.activity.flush()
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(ConsoleActivity.contact_id, ConsoleActivity.kind)
                    .where(ConsoleActivity.seat_id == seat_id, ConsoleActivity.at >= start)
                    .where(ConsoleActivity.kind.in_(("accept", "wrapup")))
                    .order_by(ConsoleActivity.id)
                )
            ).all()
        seat = self.acd.core.seat(seat_id)
        live = {seat.voice, seat.offer, *seat.chats} if seat else set()
        done = {cid for cid, kind in rows if kind == "wrapup"}
        out: list[str] = []
        for cid, kind in rows:
            if kind == "accept" and cid not in done and cid not in live and cid not in out:
                out.append(cid)
        return out

    async def today(self, seat_id: str) -> dict[str, Any]:
        start = board.day_start(self.clock())
        await self.activity.flush()
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(ConsoleActivity).where(ConsoleActivity.seat_id == seat_id, ConsoleActivity.at >= utc(start))
                )
            ).scalars()
            acts = [
                board.Activity(r.at.replace(tzinfo=r.at.tzinfo or dt.UTC).timestamp(), r.kind, r.contact_id, r.channel)
                for r in rows
            ]
        return board.seat_today(acts, self.clock())
