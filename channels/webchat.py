"""Web chat's storage side: a visitor's messages stored (group commit) before they are acknowledged.

Mixed into ChannelService next to the WeChat path: the same tables (channel ``webchat``, citizen =
the visitor id), the same response tracker and the same ContactSink, so a web conversation
reaches the ACD, the console and the statistics exactly as a WeChat one does. The messages
themselves go through the service's ``MessageWriter`` (``writer.py``), with the seats' replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.core.response import CitizenWrote, ResponseTracker, SeatReplied
from channels.core.visitor import IMAGE_TYPES, Image, Rating, clean_image
from channels.media import DiskFull, store_media
from channels.models import ChannelConversation, ChannelMedia, ChannelMessage
from channels.sink import ContactSink, ConversationRef, MessageRef
from channels.store import utc
from channels.webstore import CitizenMessage
from channels.writer import MessageWriter

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class NoConversation(LookupError):
    """Nothing the visitor could rate or end."""


class WebChatInbound:
    """Needs ChannelService's sessions, _wlock, clock, tracker, sink, data_dir, _jobs and messages."""

    sessions: async_sessionmaker[AsyncSession]
    _wlock: contextlib.AbstractAsyncContextManager[Any]
    clock: Callable[[], float]
    tracker: ResponseTracker
    sink: ContactSink
    data_dir: Path
    _jobs: asyncio.Queue[Job]
    messages: MessageWriter
    web_out: Callable[[str, str, dict[str, Any]], Awaitable[None]] | None
    transcript: Callable[[int], Awaitable[list[dict[str, Any]]]]

    async def receive_web(
        self, visitor: str, phone: str, kind: str, body: dict[str, Any], sent_as: str | None = None
    ) -> tuple[ConversationRef, MessageRef]:
        """Store a visitor's message in their open conversation (opened if none); return once committed.
        ``sent_as``: the page's id for it; sent again under it, the first one is returned (``repeat``)."""
        return await self.messages.citizen(CitizenMessage(visitor, phone, kind, body, sent_as))

    def _citizen_stored(self, message: CitizenMessage, conv: ConversationRef, msg: MessageRef) -> None:
        """Right after the commit, in commit order: the wait starts, the ACD and the seat hear of it."""
        if message.kind != "leave_message":
            self.tracker.handle(CitizenWrote(str(conv.id), msg.at.timestamp()))
            self._jobs.put_nowait(partial(self.sink.contact_message, conv, msg))

    async def receive_web_image(self, visitor: str, phone: str, image: Image) -> tuple[ConversationRef, MessageRef]:
        """Keep the file (type checked against its bytes), then store the message pointing at it."""
        path = await asyncio.to_thread(
            store_media,
            self.data_dir,
            image.content_type,
            image.content,
            (image.content_type,),
            len(image.content),
            dt.date.today(),
        )
        body = {"name": image.name, "content_type": image.content_type, "size": len(image.content)}
        conv, msg = await self.receive_web(visitor, phone, "image", body)
        async with self._wlock, self.sessions() as s, s.begin():
            s.add(_media_row(msg.id, path, image.content_type, len(image.content), utc(self.clock())))
        return conv, msg

    async def open_conversation(self, visitor: str) -> dict[str, Any] | None:
        """The visitor's open conversation: id, state and seat (one small query, no transcript)."""
        async with self.sessions() as s:
            row = (
                await s.execute(
                    select(ChannelConversation.id, ChannelConversation.state, ChannelConversation.seat)
                    .where(
                        ChannelConversation.channel == "webchat",
                        ChannelConversation.citizen == visitor,
                        ChannelConversation.state != "closed",
                    )
                    .order_by(ChannelConversation.id.desc())
                    .limit(1)
                )
            ).first()
        return {"id": row[0], "state": row[1], "seat": row[2]} if row is not None else None

    async def conversation_of(self, visitor: str) -> dict[str, Any] | None:
        """The visitor's open conversation and its transcript, for a page that (re)connects."""
        info = await self.open_conversation(visitor)
        if info is None:
            return None
        return {**info, "messages": [_public(m) for m in await self.transcript(info["id"])]}

    async def web_conversation(self, conversation_id: int, visitor: str) -> ChannelConversation:
        async with self.sessions() as s:
            conv = await s.get(ChannelConversation, conversation_id)
            if conv is None or conv.channel != "webchat" or conv.citizen != visitor:
                raise NoConversation(conversation_id)
            s.expunge(conv)
            return conv

    async def rate_web(self, visitor: str, conversation_id: int, rating: Rating, window: float) -> None:
        """Keep the visitor's rating of a conversation that ended within ``window`` seconds; once only."""
        async with self._wlock, self.sessions() as s, s.begin():
            conv = await s.get(ChannelConversation, conversation_id)
            if conv is None or conv.channel != "webchat" or conv.citizen != visitor:
                raise NoConversation(conversation_id)
            if conv.state != "closed":
                raise ValueError("会话尚未结束，结束后再评价")
            if "rating" in conv.flags:
                raise ValueError("这次会话已经评价过了")
            ended = conv.updated_at if conv.updated_at.tzinfo else conv.updated_at.replace(tzinfo=dt.UTC)
            if self.clock() - ended.timestamp() > window:
                raise ValueError("已超过评价时限")
            conv.flags = {
                **conv.flags,
                "rating": {"code": rating.code, "label": rating.label, "comment": rating.comment},
            }

    async def mark_read(self, conversation_id: int, direction: str, up_to: int) -> int:
        """Messages of ``direction`` up to id ``up_to`` have been read by the other side; returns how many."""
        async with self._wlock, self.sessions() as s, s.begin():
            rows = (
                await s.execute(
                    select(ChannelMessage).where(
                        ChannelMessage.conversation_id == conversation_id,
                        ChannelMessage.direction == direction,
                        ChannelMessage.id <= up_to,
                        ChannelMessage.status.in_(("sent", "received")),
                    )
                )
            ).scalars()
            count = 0
            for row in rows:
                row.status = "read"
                count += 1
            return count

    async def send_web_image(self, conversation_id: int, seat: str, content_type: str, name: str, data: bytes) -> Any:
        """A seat's picture to a web visitor: kept like a visitor's, then pushed to the page."""
        from channels.seats import ConversationError, Sent

        try:
            image = clean_image({"type": content_type, "name": name, "data": data}, 2 * 1024 * 1024)
            path = await asyncio.to_thread(
                store_media, self.data_dir, image.content_type, image.content, IMAGE_TYPES, len(data), dt.date.today()
            )
        except ValueError as exc:
            raise ConversationError(f"图片无效：{exc}") from None
        except DiskFull:
            raise ConversationError("存储空间不足，图片未发送") from None
        now = utc(self.clock())
        async with self._wlock, self.sessions() as s, s.begin():
            conv = await s.get(ChannelConversation, conversation_id)
            if conv is None or conv.state == "closed":
                raise ConversationError("会话不存在或已结束")
            if conv.channel != "webchat":
                raise ConversationError("微信会话暂不支持由座席发送图片")
            body = {"name": image.name, "content_type": image.content_type, "size": len(data), "seat": seat[:64]}
            row = ChannelMessage(
                conversation_id=conv.id,
                channel="webchat",
                citizen=conv.citizen,
                direction="out",
                kind="image",
                supported=True,
                status="sent",
                body=body,
                raw="",
                at=now,
                stored_at=now,
            )
            s.add(row)
            await s.flush()
            s.add(_media_row(row.id, path, image.content_type, len(data), now))
            visitor, message_id = conv.citizen, row.id
        self.tracker.handle(SeatReplied(str(conversation_id), seat, self.clock()))
        if self.web_out is not None:
            payload = {"conversation": conversation_id, "id": message_id, "kind": "image", "name": image.name}
            await self.web_out(visitor, "message", {**payload, "at": now.isoformat()})
        return Sent(message_id, "sent")

    async def visitor_media(self, visitor: str, message_id: int) -> tuple[Path, str] | None:
        """A picture of the visitor's own conversations (theirs or a seat's), else None."""
        async with self.sessions() as s:
            row = (
                await s.execute(
                    select(ChannelMedia.path, ChannelMedia.content_type)
                    .join(ChannelMessage, ChannelMessage.id == ChannelMedia.message_id)
                    .where(
                        ChannelMedia.message_id == message_id,
                        ChannelMedia.status == "stored",
                        ChannelMessage.channel == "webchat",
                        ChannelMessage.citizen == visitor,
                    )
                )
            ).first()
        return (Path(row[0]), str(row[1])) if row is not None else None

    async def web_signal(self, conversation_id: int, event: str, data: dict[str, Any]) -> bool:
        """Tell the visitor of a web conversation something (typing, read); False for other channels."""
        async with self.sessions() as s:
            conv = await s.get(ChannelConversation, conversation_id)
            if conv is None or conv.channel != "webchat" or self.web_out is None:
                return False
            visitor = conv.citizen
        await self.web_out(visitor, event, {"conversation": conversation_id, **data})
        return True

    async def media_seat(self, message_id: int) -> str | None:
        """The seat holding the conversation a picture belongs to ("" when none holds it; None
        when there is no such message)."""
        async with self.sessions() as s:
            row = (
                await s.execute(
                    select(ChannelConversation.seat)
                    .join(ChannelMessage, ChannelMessage.conversation_id == ChannelConversation.id)
                    .where(ChannelMessage.id == message_id)
                )
            ).first()
        return None if row is None else str(row[0] or "")

    async def media_file(self, message_id: int) -> tuple[Path, str] | None:
        async with self.sessions() as s:
            row = (
                await s.execute(
                    select(ChannelMedia).where(ChannelMedia.message_id == message_id, ChannelMedia.status == "stored")
                )
            ).scalar_one_or_none()
            return (Path(row.path), row.content_type) if row is not None else None


def _media_row(message_id: int, path: Path, content_type: str, size: int, at: dt.datetime) -> ChannelMedia:
    """A web-chat picture kept under data_dir (WeChat's media rows come from media/get instead)."""
    return ChannelMedia(
        message_id=message_id,
        media_id=f"web-{message_id}",
        status="stored",
        path=str(path),
        content_type=content_type,
        size=size,
        detail="",
        fetched_at=at,
    )


def _public(m: dict[str, Any]) -> dict[str, Any]:
    """What a visitor's page may see of a transcript row (never the seat's internal fields)."""
    body = {k: v for k, v in m["body"].items() if k in ("text", "name", "content_type", "size")}
    return {"id": m["id"], "direction": m["direction"], "kind": m["kind"], "status": m["status"], "at": m["at"], **body}
