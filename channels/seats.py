"""What a seat does to a conversation: take it, answer it, close it; replies held and re-sent.

WeChat refuses replies outside its 48-hour window (45015) and beyond its per-message quota
(45047); such replies are kept with status ``held_window`` / ``held_quota`` and go out, oldest
first, as soon as the citizen writes again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.core.conversation import next_state
from channels.core.response import (
    ConversationClosed,
    ResponseTracker,
    SeatAssigned,
    SeatReplied,
    UnknownConversation,
)
from channels.models import ChannelConversation, ChannelMessage
from channels.sink import SELF_SERVED, ContactSink, ConversationChange, OpenChat
from channels.store import timestamp, utc
from channels.webstore import Refused, SeatMessage
from channels.wechat_api import NotConfigured, OutsideWindow, TooManyMessages, WeChatApi, WeChatApiError
from channels.writer import MessageWriter

logger = logging.getLogger(__name__)

MAX_TEXT = 2000
HELD = ("held_window", "held_quota")
WINDOW_S = 48 * 3600.0  # WeChat's customer-service window after the citizen's last message
SENDING_STALE_S = 30.0  # a reply still "sending" this long after it was stored was cut off by a stop
RETRY_BATCH = 50
# WeChat answers that say "not now" rather than "never": HTTP errors and network faults (-1,
# -3), system busy (-1), the API's rate limit (45009).
TRANSIENT = frozenset({-1, -3, 45009})


def retry_delay(attempts: int) -> float:
    """Seconds before the next try of a reply WeChat could not take: 5, 10, 20 ... at most 5 minutes."""
    return float(min(300.0, 5.0 * 2 ** max(0, attempts - 1)))


# Delivery to a web-chat visitor: (visitor id, Socket.IO event, data), set by the /visitor namespace.
WebOut = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class ConversationError(Exception):
    """A seat's request that cannot be done; the message is shown to the seat (Chinese)."""


@dataclass(frozen=True)
class Sent:
    message_id: int
    status: str  # sent, held_window, held_quota, failed
    detail: str = ""


class SeatActions:
    """Mixed into ChannelService; needs its sessions, clock, api, tracker, sink and messages (the writer)."""

    sessions: async_sessionmaker[AsyncSession]
    _wlock: contextlib.AbstractAsyncContextManager[Any]
    clock: Callable[[], float]
    api: WeChatApi | None
    tracker: ResponseTracker
    sink: ContactSink
    web_out: WebOut | None
    messages: MessageWriter

    async def _tell_visitor(self, channel: str, citizen: str, event: str, data: dict[str, Any]) -> None:
        if channel != "webchat" or self.web_out is None:
            return
        try:
            await self.web_out(citizen, event, data)
        except Exception:
            logger.exception("web-chat visitor not told", extra={"event": event})

    async def assign(self, conversation_id: int, seat: str) -> None:
        async with self._wlock, self.sessions() as s, s.begin():
            conv = await self._get(s, conversation_id)
            conv.state = self._step(conv.state, "seat_assigned")
            conv.seat = seat[:64]
            conv.updated_at = utc(self.clock())
            channel, citizen = conv.channel, conv.citizen
        self.tracker.handle(SeatAssigned(str(conversation_id), seat, self.clock()))
        await self._tell_visitor(channel, citizen, "assigned", {"conversation": conversation_id, "seat": seat[:64]})

    async def requeue(self, conversation_id: int, queue: str = "") -> None:
        """The chat was moved to wait for another seat (transfer, or its citizen waited too long),
        in ``queue`` when given: kept with the conversation, so a start queues it there again."""
        async with self._wlock, self.sessions() as s, s.begin():
            conv = await self._get(s, conversation_id)
            if conv.state not in ("assigned", "queued"):
                return
            if conv.state == "assigned":
                conv.state = self._step(conv.state, "transfer")
                conv.seat = ""
                if not conv.flags.get("answered"):
                    conv.flags = {**conv.flags, "answered": True}  # counted as answered once
            if queue and conv.flags.get("queue") != queue[:64]:
                conv.flags = {**conv.flags, "queue": queue[:64]}
            conv.updated_at = utc(self.clock())
            channel, citizen = conv.channel, conv.citizen
        await self._tell_visitor(channel, citizen, "requeued", {"conversation": conversation_id})

    async def open_chats(self, limit: int = 10_000) -> list[OpenChat]:
        """Conversations waiting for a seat or held by one, oldest first (at most ``limit``)."""
        replied = (
            select(ChannelMessage.id)
            .where(ChannelMessage.conversation_id == ChannelConversation.id, ChannelMessage.direction == "out")
            .exists()
        )
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(ChannelConversation, replied)
                    .where(ChannelConversation.state.in_(("queued", "assigned")))
                    .order_by(ChannelConversation.id)
                    .limit(limit)
                )
            ).all()
            chats = []
            for conv, wrote in rows:
                if SELF_SERVED in conv.flags:
                    continue  # answered before the queue: no seat asked for
                menu = conv.flags.get("menu")
                chats.append(
                    OpenChat(
                        id=conv.id,
                        channel=conv.channel,
                        citizen=conv.citizen,
                        state=conv.state,
                        seat=conv.seat,
                        created_at=timestamp(conv.created_at),
                        queue=str(conv.flags.get("queue") or ""),
                        skills=(f"menu:{menu}",) if menu else (),
                        answered=conv.state == "assigned" or bool(conv.flags.get("answered")),
                        replied=bool(wrote),
                        since=timestamp(conv.updated_at),
                    )
                )
        return chats

    async def close(self, conversation_id: int, disposition: str = "") -> None:
        async with self._wlock, self.sessions() as s, s.begin():
            conv = await self._get(s, conversation_id)
            if conv.state == "closed":
                return  # ended from both sides at once: once is enough
            conv.state = self._step(conv.state, "close")
            conv.flags = {**conv.flags, "disposition": disposition[:64]}
            conv.updated_at = utc(self.clock())
            channel, citizen = conv.channel, conv.citizen
        self.tracker.handle(ConversationClosed(str(conversation_id), self.clock()))
        await self._tell_visitor(channel, citizen, "closed", {"conversation": conversation_id, "rate": True})

    async def send_text(self, conversation_id: int, seat: str, text: str, sent_as: str | None = None) -> Sent:
        """``sent_as``: the console's id for this reply; sent again under it (an acknowledgement lost
        to a restart), the first one is answered and nothing is sent twice."""
        text = text.strip()
        if not text:
            raise ConversationError("回复内容不能为空")
        if len(text) > MAX_TEXT:
            raise ConversationError(f"回复内容过长（最多{MAX_TEXT}字）")
        return await self._send(conversation_id, seat, "text", {"text": text}, sent_as)

    async def send_image(self, conversation_id: int, seat: str, media_id: str) -> Sent:
        if not media_id or len(media_id) > 128:
            raise ConversationError("图片素材编号无效")
        return await self._send(conversation_id, seat, "image", {"media_id": media_id})

    @staticmethod
    def _step(state: str, event: str) -> str:
        try:
            return next_state(state, event)
        except ValueError:
            raise ConversationError(f"会话当前状态不允许此操作（{state} / {event}）") from None

    async def _get(self, s: AsyncSession, conversation_id: int) -> ChannelConversation:
        conv = await s.get(ChannelConversation, conversation_id)
        if conv is None:
            raise ConversationError(f"会话 {conversation_id} 不存在")
        return conv

    async def _send(
        self, conversation_id: int, seat: str, kind: str, body: dict[str, Any], sent_as: str | None = None
    ) -> Sent:
        stored = await self.messages.seat(SeatMessage(conversation_id, seat, kind, body, sent_as))
        if isinstance(stored, Refused):
            raise ConversationError(stored.reason)
        message_id = stored.message_id
        if stored.repeat:
            # Stored (and pushed, or kept for WeChat's retries) the first time: the page that missed
            # the push reads it with the conversation when it reconnects.
            return Sent(message_id, stored.status)
        if stored.channel == "webchat":
            self.tracker.handle(SeatReplied(str(conversation_id), seat, self.clock()))
            payload = {
                "conversation": conversation_id,
                "id": message_id,
                "kind": kind,
                "at": utc(self.clock()).isoformat(),
            }
            await self._tell_visitor("webchat", stored.citizen, "message", {**payload, **body})
            return Sent(message_id, "sent")
        if stored.status == "held_window":
            return Sent(message_id, "held_window", "超出48小时回复时限，市民再次发消息后自动补发")
        status, detail = await self._deliver(stored.citizen, kind, body)
        await self._record_delivery(conversation_id, message_id, status, detail)
        if status == "sent":
            self.tracker.handle(SeatReplied(str(conversation_id), seat, self.clock()))
        elif status == "retry":
            detail = "微信暂时无法送达，已保存，将自动重发"
        return Sent(message_id, status, detail)

    async def _deliver(self, openid: str, kind: str, body: dict[str, Any]) -> tuple[str, str]:
        try:
            if self.api is None:
                raise NotConfigured("WeChat API not configured")
            if kind == "text":
                await self.api.send_text(openid, str(body["text"]))
            else:
                await self.api.send_image(openid, str(body["media_id"]))
            return "sent", ""
        except OutsideWindow:
            return "held_window", "超出48小时回复时限，市民再次发消息后自动补发"
        except TooManyMessages:
            return "held_quota", "客服消息条数已达上限，市民再次发消息后自动补发"
        except WeChatApiError as exc:
            logger.warning("wechat delivery failed: %s", exc)
            return ("retry" if exc.code in TRANSIENT else "failed"), str(exc)
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("wechat delivery failed: %s", exc)
            return "retry", str(exc) or type(exc).__name__
        except NotConfigured as exc:
            return "failed", str(exc)

    async def _record_delivery(self, conversation_id: int, message_id: int, status: str, detail: str) -> None:
        if status == "sent":
            # The common case in two plain UPDATEs: seat_reply leaves the state as it is (table), so
            # nothing needs reading first.
            async with self._wlock, self.sessions() as s, s.begin():
                await s.execute(update(ChannelMessage).where(ChannelMessage.id == message_id).values(status="sent"))
                await s.execute(
                    update(ChannelConversation)
                    .where(ChannelConversation.id == conversation_id)
                    .values(updated_at=utc(self.clock()))
                )
            return
        change: ConversationChange | None = None
        async with self._wlock, self.sessions() as s, s.begin():
            row = await s.get(ChannelMessage, message_id)
            conv = await s.get(ChannelConversation, conversation_id)
            if row is None or conv is None:
                return
            row.status = status
            row.body = {**row.body, "detail": detail} if detail else row.body
            if status == "retry":
                attempts = int(row.body.get("attempts", 0)) + 1
                row.body = {**row.body, "attempts": attempts, "retry_at": self.clock() + retry_delay(attempts)}
            elif status == "failed":
                change = ConversationChange(conversation_id, "delivery_failed", {"message_id": message_id})
            if status == "held_window" and conv.state in ("queued", "assigned"):
                conv.state = next_state(conv.state, "window_expired")
                conv.flags = {**conv.flags, "window_closed": True}
                change = ConversationChange(conversation_id, "window_closed", {"message_id": message_id})
            elif status == "held_quota":
                conv.flags = {**conv.flags, "quota_exhausted": True}
                change = ConversationChange(conversation_id, "held_quota", {"message_id": message_id})
            conv.updated_at = utc(self.clock())
        if change is not None:
            await self.sink.conversation_changed(change)

    async def retry_replies(self, now: float | None = None, limit: int = RETRY_BATCH) -> int:
        """Replies to WeChat citizens that are kept but not delivered, oldest first: those WeChat
        could not take (``retry``, due again) and those a stop cut off while ``sending`` (kept,
        never answered). Each is tried again until WeChat takes it or the citizen's 48-hour window
        has closed; then it fails and the seat is told. At least once: a reply WeChat took just
        before a kill, not yet marked, goes a second time. Returns how many went."""
        now = self.clock() if now is None else now
        due = (ChannelMessage.status == "retry") & (ChannelMessage.body["retry_at"].as_float() <= now)
        cut = (ChannelMessage.status == "sending") & (ChannelMessage.stored_at < utc(now - SENDING_STALE_S))
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(
                        ChannelMessage.id,
                        ChannelMessage.conversation_id,
                        ChannelMessage.citizen,
                        ChannelMessage.kind,
                        ChannelMessage.body,
                        ChannelConversation.last_citizen_at,
                    )
                    .join(ChannelConversation, ChannelConversation.id == ChannelMessage.conversation_id)
                    .where(ChannelMessage.direction == "out", ChannelMessage.channel == "wechat", due | cut)
                    .order_by(ChannelMessage.id)
                    .limit(limit)
                )
            ).all()
        sent = 0
        for message_id, conversation_id, citizen, kind, body, last_citizen_at in rows:
            if last_citizen_at is None or now - timestamp(last_citizen_at) > WINDOW_S:
                await self._record_delivery(conversation_id, message_id, "failed", "微信48小时回复时限已过，未能送达")
                continue
            status, detail = await self._deliver(citizen, kind, body)
            await self._record_delivery(conversation_id, message_id, status, detail)
            if status == "sent":
                sent += 1
                with contextlib.suppress(UnknownConversation):  # closed and forgotten meanwhile
                    self.tracker.handle(SeatReplied(str(conversation_id), str(body.get("seat", "")), self.clock()))
        if rows:
            logger.info("wechat replies tried again", extra={"tried": len(rows), "sent": sent})
        return sent

    async def resend_held(self, conversation_id: int) -> int:
        """Deliver replies held by the 48-hour window or the quota, oldest first; return how many went."""
        async with self.sessions() as s:
            rows = (
                (
                    await s.execute(
                        select(ChannelMessage)
                        .where(
                            ChannelMessage.conversation_id == conversation_id,
                            ChannelMessage.direction == "out",
                            ChannelMessage.status.in_(HELD),
                        )
                        .order_by(ChannelMessage.id)
                    )
                )
                .scalars()
                .all()
            )
        sent = 0
        for row in rows:
            status, detail = await self._deliver(row.citizen, row.kind, dict(row.body))
            await self._record_delivery(conversation_id, row.id, status, detail)
            if status != "sent":
                break
            sent += 1
        return sent

    async def transcript(self, conversation_id: int) -> list[dict[str, Any]]:
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(ChannelMessage)
                    .where(ChannelMessage.conversation_id == conversation_id)
                    .order_by(ChannelMessage.id)
                )
            ).scalars()
            return [
                {
                    "id": r.id,
                    "direction": r.direction,
                    "kind": r.kind,
                    "supported": r.supported,
                    "status": r.status,
                    "body": r.body,
                    "at": r.at.isoformat(),
                }
                for r in rows
            ]
