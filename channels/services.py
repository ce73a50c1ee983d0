"""What happens to a conversation: inbound messages stored and routed, seats' replies delivered.

``receive_wechat`` is called by the webhook and returns only after the message is committed;
everything slow (ACD notification, media download, work-order draft, re-sending held replies)
runs afterwards on the service's worker so WeChat's 5-second limit is never at risk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.core.inbound import InboundMessage
from channels.core.response import (
    CitizenWrote,
    FlagLate,
    ResponseTracker,
    SeatAssigned,
    SeatReplied,
    Tick,
    UnknownConversation,
)
from channels.dedup import Deduplicator
from channels.media import store_media
from channels.models import ChannelConversation, ChannelMedia, ChannelMessage
from channels.seats import SeatActions, WebOut
from channels.settings import ChannelSettings
from channels.sink import (
    SELF_SERVED,
    SELF_SERVED_TO,
    BeforeQueue,
    ContactSink,
    ConversationChange,
    ConversationRef,
    MessageRef,
)
from channels.store import SNAP_ORDER, Stored, store_batch, timestamp, utc
from channels.webchat import WebChatInbound
from channels.webstore import LEFT_MESSAGE_ORDER
from channels.wechat_api import MediaRejected, NotConfigured, WeChatApi, WeChatApiError
from channels.writer import CommitWindow, MessageWriter
from hotline.clock import engine_time
from hotline.context import Deps
from hotline.dbhealth import DATABASE, log_failure, unavailable
from hotline.outbox import Outbox
from hotline.storage import Transactions

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
MAX_BATCH = 200
RETRY_EVERY_S = 5.0  # how often replies WeChat could not take are looked for
MEDIA_KEPT_S = 3 * 86400.0  # WeChat keeps a citizen's temporary media three days
MEDIA_STALE_S = 60.0  # a download not recorded a minute after its message was stored was cut off
Pending = tuple[InboundMessage, str, "asyncio.Future[Received]"]


@dataclass(frozen=True)
class Received:
    status: str  # "stored" or "duplicate"
    message_id: int | None = None
    conversation_id: int | None = None


class ChannelService(SeatActions, WebChatInbound):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: ChannelSettings,
        data_dir: Path,
        sink: ContactSink,
        dedup: Deduplicator,
        api: WeChatApi | None = None,
        deps: Deps | None = None,
        clock: Callable[[], float] = engine_time,
        outbox: Outbox | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.data_dir = data_dir
        self.sink = sink
        self.dedup = dedup
        self.api = api
        self.deps = deps if deps is not None else Deps()
        self.clock = clock
        # The composition root's (its worker carries out what a stop left waiting); a service of
        # its own in tests. The snap's work order is carried out right after its commit too.
        self.outbox = outbox if outbox is not None else Outbox(sessions)
        self.outbox.register(SNAP_ORDER, self._snap_order)
        self.outbox.register(LEFT_MESSAGE_ORDER, self._left_message_order)
        chat = settings.chat
        self.tracker = ResponseTracker(chat.realtime_threshold, chat.flag_after, chat.reassign_after)
        # SQLite fails a deferred transaction that reads, then writes after another writer
        # committed ("database is locked" without waiting), so on SQLite this process's writes
        # take turns; PostgreSQL keeps them concurrent.
        bind: Any = sessions.kw.get("bind")  # the AsyncEngine (a stand-in in some tests)
        sqlite = getattr(getattr(bind, "dialect", None), "name", "") == "sqlite"
        self._wlock: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if sqlite else contextlib.nullcontext()
        )
        self._inbox: asyncio.Queue[Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        # A push's answer may take longer than a chat message's delivery (WeChat waits 5 s; the
        # target is 100 ms at the 99th percentile), so its transactions gather for longer.
        self._window = CommitWindow(settings.wechat.commit_window)
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        # Web visitors' messages and seats' replies: one group-commit writer for both ways.
        self.messages = MessageWriter(
            Transactions(bind),
            self._wlock,
            lambda: utc(self.clock()),
            chat.commit_window,
            self._citizen_stored,
            hold=chat.storage_hold,
            backlog=chat.storage_backlog,
        )
        self.web_out: WebOut | None = None
        self._forgot_at = clock()
        self._retry_next = clock() + RETRY_EVERY_S  # the first look also finds replies a stop cut off
        self._retrying: asyncio.Task[None] | None = None
        self.before_queue: BeforeQueue | None = None
        self._before_queue: set[int] = set()  # conversations answered, or being asked, before the queue

    # ---- inbound -------------------------------------------------------------------------

    async def receive_wechat(self, msg: InboundMessage, raw: str) -> Received:
        """Store the message (and its conversation) durably; return once it is committed."""
        if await self.dedup.seen(msg.dedup_key):
            return Received("duplicate")
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop())
        loop = asyncio.get_running_loop()
        self._window.arrived(loop.time())
        done: asyncio.Future[Received] = loop.create_future()
        self._inbox.put_nowait((msg, raw, done))
        return await done

    async def _write_loop(self) -> None:
        """One writer per process: pushes that arrive together share one commit (group commit).

        SQLite has a single writer anyway, and one fsync per batch instead of per push is what
        keeps acknowledgements fast at hundreds of pushes per second; while pushes come faster
        than one per commit window, the first waits that long for others (``writer.CommitWindow``).
        """
        while True:
            batch = [await self._inbox.get()]
            await self._window.wait()
            while not self._inbox.empty() and len(batch) < MAX_BATCH:
                batch.append(self._inbox.get_nowait())
            try:
                outcomes = await self._store(batch)
            except IntegrityError:
                # Another process stored one of these keys meanwhile: store one by one to find it.
                outcomes = []
                for item in batch:
                    try:
                        outcomes += await self._store([item], check_taken=True)
                    except IntegrityError:
                        outcomes.append(None)
                    except Exception as exc:
                        item[2].set_exception(exc)
                        outcomes.append(None)
            except Exception as exc:
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            DATABASE.answered("wechat pushes")
            for (msg, _, fut), outcome in zip(batch, outcomes, strict=True):
                if outcome is None:
                    if not fut.done():
                        fut.set_result(Received("duplicate"))
                    continue
                # Stored: handed on even if its push is no longer waiting (a retry of it would now
                # be a duplicate, so this is the message's only way to the ACD).
                conv_ref, msg_ref, draft, reopened = outcome
                await self.dedup.remember(msg.dedup_key)
                pre = self._may_pre_route(conv_ref, msg)
                if conv_ref is not None and msg.asks_seat and not pre:
                    self.tracker.handle(CitizenWrote(str(conv_ref.id), msg.create_time))
                self._jobs.put_nowait(partial(self._after_inbound, conv_ref, msg_ref, msg, draft, reopened, pre))
                if not fut.done():
                    fut.set_result(Received("stored", msg_ref.id, conv_ref.id if conv_ref else None))

    async def aclose(self) -> None:
        if self._retrying is not None:  # a retry cut off here is found again at the next start
            self._retrying.cancel()
            await asyncio.gather(self._retrying, return_exceptions=True)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        self._writer = None
        await self.messages.aclose()
        self.messages.transactions.close()

    async def _store(self, batch: list[Pending], check_taken: bool = False) -> list[Stored | None]:
        # Retries are stopped at the door and within the batch; one that slips between batches
        # hits the unique key, and the one-by-one retry below then looks the keys up first.
        items = [(msg, raw) for msg, raw, _ in batch]
        work = partial(
            store_batch,
            batch=items,
            now=utc(self.clock()),
            bundle_window=self.settings.wechat.bundle_window,
            check_taken=check_taken,
        )
        async with self._wlock:
            return await self.messages.transactions.run(work)

    async def _after_inbound(
        self,
        conv: ConversationRef | None,
        msg_ref: MessageRef,
        msg: InboundMessage,
        draft: dict[str, Any] | None,
        reopened: bool,
        pre: bool = False,
    ) -> None:
        if conv is not None and pre:
            routed = await self._pre_route(conv, msg_ref)
            if routed is None:
                return  # answered: no seat asked for, the real-time clock not started
            conv = routed
            # The real-time clock starts here, when a seat is asked for.
            self.tracker.handle(CitizenWrote(str(conv.id), msg.create_time))
        if conv is not None:
            await self.sink.contact_message(conv, msg_ref)
        # Media first: a 随手拍 order created just below attaches the photo that came with this push.
        if msg.kind in ("image", "voice") and msg.fields.get("MediaId"):
            await self.fetch_media(msg_ref.id, msg.fields["MediaId"])
        if draft is not None and conv is not None:
            await self.sink.conversation_changed(ConversationChange(conv.id, "snap_draft", draft))
            await self.outbox.carry_out()  # its work order (an outbox row of the same commit)
        if reopened and conv is not None:
            await self.resend_held(conv.id)

    def _may_pre_route(self, conv: ConversationRef | None, msg: InboundMessage) -> bool:
        """Whether ``before_queue`` is asked about this message: one asking for a seat, in a WeChat
        conversation not yet queued for one (new, or answered before the queue so far)."""
        if self.before_queue is None or conv is None or conv.channel != "wechat" or not msg.asks_seat:
            return False
        if conv.new or conv.id in self._before_queue or SELF_SERVED in conv.flags:
            self._before_queue.add(conv.id)  # a later message waits for this one's answer
            return True
        return False

    async def _pre_route(self, conv: ConversationRef, msg_ref: MessageRef) -> ConversationRef | None:
        """None when ``before_queue`` answered the message; otherwise the conversation to queue, as a
        new contact when earlier messages were answered before the queue (the hand-over)."""
        if conv.id not in self._before_queue or self.before_queue is None:
            return conv  # an earlier message of it went to a seat meanwhile
        reply = None
        try:
            reply = await self.before_queue(conv, msg_ref)
        except Exception as exc:  # a database outage is said once (it goes to a seat all the same)
            log_failure(
                logger, "before_queue failed; the message goes to a seat", exc, "wechat answers", conversation=conv.id
            )
        if reply and await self._answer_before_queue(conv, reply):
            return None
        self._before_queue.discard(conv.id)
        if conv.new:
            return conv
        async with self._wlock, self.sessions() as s, s.begin():
            row = await s.get(ChannelConversation, conv.id)
            if row is not None and SELF_SERVED in row.flags:
                flags = {k: v for k, v in row.flags.items() if k != SELF_SERVED}
                row.flags = {**flags, SELF_SERVED_TO: row.flags[SELF_SERVED]}
        return replace(conv, new=True)

    async def _answer_before_queue(self, conv: ConversationRef, text: str) -> bool:
        """Send ``text`` as the conversation's answer before the queue, through the same delivery as
        seats' replies, stored as an outgoing message of no seat. Not delivered (WeChat refused or
        is down): kept as failed, and the message goes to a seat instead."""
        now = utc(self.clock())
        body = {"text": text, "seat": "", "auto": True}
        async with self._wlock, self.sessions() as s, s.begin():
            row = ChannelMessage(
                conversation_id=conv.id,
                channel=conv.channel,
                citizen=conv.citizen,
                direction="out",
                kind="text",
                status="sending",
                body=body,
                at=now,
                stored_at=now,
            )
            s.add(row)
            await s.flush()
            message_id = row.id
        status, detail = await self._deliver(conv.citizen, "text", body)
        async with self._wlock, self.sessions() as s, s.begin():
            msg_row = await s.get(ChannelMessage, message_id)
            conv_row = await s.get(ChannelConversation, conv.id)
            if msg_row is not None:
                msg_row.status = "sent" if status == "sent" else "failed"
                msg_row.body = {**body, "detail": detail} if detail else body
            if conv_row is not None and status == "sent":
                conv_row.flags = {**conv_row.flags, SELF_SERVED: message_id}
                conv_row.updated_at = utc(self.clock())
        return status == "sent"

    async def _snap_order(self, contact_id: str, payload: dict[str, Any]) -> None:
        """The outbox's 随手拍 row: open a work order in 受理 for the case, once. Without the
        work-order service the draft stays on the conversation and the seat's console pre-fills
        from it. An order already opened for the contact (its row could not be marked done before
        a stop) is taken, not opened again; a database or work-order failure is tried again."""
        orders = self.deps.workorders
        if orders is None:
            return
        async with self.sessions() as s:
            row = await s.get(ChannelConversation, int(payload["conversation"]))
            if row is None or row.workorder_id:
                return
            draft = dict(row.draft or {})
        conv = ConversationRef(row.id, row.channel, row.citizen, row.state, row.seat, False)
        found = await orders.order_for_contact(contact_id)
        if found is not None:
            # Opened before a stop or an outage cut it off: its photos may be missing (each is a
            # commit after the order's); the ones it lacks are attached now, none twice.
            try:
                photos = await self._stored_media(list(draft.get("photo_message_ids", [])))
                await orders.attach_missing(found, photos)
            except Exception as exc:
                if unavailable(exc):
                    raise  # the outbox tries again
                logger.warning("随手拍 photos not attached to work order %s: %s", found, exc)
            await self._snap_order_made(conv, found)
            return
        await self._workorder_from_snap(conv, draft)

    async def _workorder_from_snap(self, conv: ConversationRef, draft: dict[str, Any]) -> None:
        create = getattr(self.deps.workorders, "create_from_contact", None)
        if create is None or not draft.get("title"):
            return
        content = draft.get("description") or draft["title"]
        if draft.get("latitude") is not None and draft.get("longitude") is not None:
            content += (
                f"\n位置：{draft.get('address') or '（未标注）'}（纬度 {draft['latitude']}，经度 {draft['longitude']}）"
            )
        try:
            photos = await self._stored_media(list(draft.get("photo_message_ids", [])))
            order_id = await create(
                channel="wechat",
                content=content,
                contact_id=f"wechat-{conv.id}",
                address=str(draft.get("address", ""))[:200],
                title=str(draft["title"])[:60],
                attachments=photos,
            )
        except Exception as exc:
            if unavailable(exc):
                raise  # the outbox tries again
            # Refused input or a lifecycle rule: the seat still has the draft to finish by hand.
            logger.warning("随手拍 work order not created for conversation %s: %s", conv.id, exc)
            return
        await self._snap_order_made(conv, order_id)

    async def _snap_order_made(self, conv: ConversationRef, order_id: int) -> None:
        async with self._wlock, self.sessions() as s, s.begin():
            row = await s.get(ChannelConversation, conv.id)
            if row is not None:
                row.workorder_id = str(order_id)[:64]
        await self.sink.conversation_changed(ConversationChange(conv.id, "workorder_created", {"order_id": order_id}))

    async def workorder_from_message(self, conversation_id: int) -> int | None:
        """The work order (受理) of a message left on the website while no seat was on duty: carried
        out from the outbox row its commit wrote, now; None without the work-order service (the
        message stays stored and listed) or while it cannot be opened yet (the outbox tries again)."""
        await self.outbox.carry_out()
        async with self.sessions() as s:
            row = await s.get(ChannelConversation, conversation_id)
        return int(row.workorder_id) if row is not None and row.workorder_id.isdigit() else None

    async def _left_message_order(self, contact_id: str, payload: dict[str, Any]) -> None:
        """The outbox's row for a left message: its order, once (one opened before a stop whose row
        was not marked done is found, not opened again)."""
        orders = self.deps.workorders
        if orders is None:
            return
        conversation_id = int(payload["conversation"])
        async with self.sessions() as s:
            conv = await s.get(ChannelConversation, conversation_id)
            msg = await s.get(ChannelMessage, int(payload["message"]))
            if conv is None or msg is None or conv.workorder_id:
                return
            body = dict(msg.body or {})
        order_id = await orders.order_for_contact(contact_id)
        if order_id is None:
            text = str(body.get("text", ""))
            try:
                order_id = await orders.create_from_contact(
                    channel="web",
                    content=text,
                    caller=str(body.get("phone", "")),
                    contact_id=contact_id,
                    citizen_name=str(body.get("name", "")),
                    title=("网页留言：" + text.replace("\n", " "))[:60],
                )
            except Exception as exc:
                if unavailable(exc):
                    raise  # the outbox tries again
                logger.warning("web message %s: work order not created: %s", conversation_id, exc)
                return
        async with self._wlock, self.sessions() as s, s.begin():
            row = await s.get(ChannelConversation, conversation_id)
            if row is not None:
                row.workorder_id = str(order_id)[:64]

    async def _stored_media(self, message_ids: list[int]) -> list[tuple[str, str, bytes]]:
        if not message_ids:
            return []
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(ChannelMedia)
                    .where(ChannelMedia.message_id.in_(message_ids), ChannelMedia.status == "stored")
                    .order_by(ChannelMedia.message_id)
                )
            ).scalars()
            found = [(Path(r.path), r.content_type) for r in rows]
        return [(path.name, ctype, await asyncio.to_thread(path.read_bytes)) for path, ctype in found]

    async def fetch_media(self, message_id: int, media_id: str) -> str:
        """Download and keep a citizen's file; the outcome is recorded, never raised."""
        wc = self.settings.wechat
        status, path, ctype, size, detail = "failed", "", "", 0, ""
        try:
            if self.api is None:
                raise NotConfigured("WeChat API not configured")
            media = await self.api.get_media(media_id, wc.media_max_bytes, wc.media_types)
            ctype, size = media.content_type, len(media.content)
            stored = await asyncio.to_thread(
                store_media, self.data_dir, ctype, media.content, wc.media_types, wc.media_max_bytes, dt.date.today()
            )
            status, path = "stored", str(stored)
        except (MediaRejected, ValueError) as exc:
            status, detail = "rejected", str(exc)
        except (WeChatApiError, NotConfigured, aiohttp.ClientError, TimeoutError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
        if status != "stored":
            logger.warning("media %s of message %s not stored: %s", media_id, message_id, detail)
        async with self._wlock, self.sessions() as s, s.begin():
            existing = (
                await s.execute(select(ChannelMedia).where(ChannelMedia.message_id == message_id))
            ).scalar_one_or_none()
            row = existing or ChannelMedia(message_id=message_id, media_id=media_id[:128])
            row.status, row.path, row.content_type, row.size, row.detail = status, path, ctype, size, detail[:255]
            row.fetched_at = utc(self.clock())
            s.add(row)
        return status

    async def fetch_missing_media(self, now: float | None = None, limit: int = 200) -> int:
        """Pictures and voice a citizen sent whose download a stop cut off (the message is stored,
        no ``channel_media`` row says how its fetch went): fetched now, oldest first, while WeChat
        still keeps them (3 days). Returns how many were tried."""
        now = self.clock() if now is None else now
        fetched = select(ChannelMedia.id).where(ChannelMedia.message_id == ChannelMessage.id).exists()
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(ChannelMessage.id, ChannelMessage.body)
                    .where(
                        ChannelMessage.channel == "wechat",
                        ChannelMessage.direction == "in",
                        ChannelMessage.kind.in_(("image", "voice")),
                        ChannelMessage.stored_at >= utc(now - MEDIA_KEPT_S),
                        ChannelMessage.stored_at < utc(now - MEDIA_STALE_S),
                        ~fetched,
                    )
                    .order_by(ChannelMessage.id)
                    .limit(limit)
                )
            ).all()
        tried = 0
        for message_id, body in rows:
            media_id = str((body or {}).get("media_id") or "")
            if media_id:
                await self.fetch_media(message_id, media_id)
                tried += 1
        if tried:
            logger.warning("media a stop cut off fetched after the start", extra={"media": tried})
        return tried

    async def restore(self) -> int:
        """Rebuild response tracking of open conversations from storage after a restart."""
        async with self.sessions() as s:
            convs = list(
                (await s.execute(select(ChannelConversation).where(ChannelConversation.state != "closed"))).scalars()
            )
            rows = (
                await s.execute(
                    select(ChannelMessage)
                    .join(ChannelConversation, ChannelMessage.conversation_id == ChannelConversation.id)
                    .where(ChannelConversation.state != "closed")
                    .order_by(ChannelMessage.id)
                )
            ).scalars()
            # Answered before the queue: no seat asked for (yet), or only from the hand-over on.
            skip = {c.id: int(c.flags.get(SELF_SERVED) or c.flags.get(SELF_SERVED_TO) or 0) for c in convs}
            for row in rows:
                key = str(row.conversation_id)
                if row.id <= skip.get(row.conversation_id or 0, 0):
                    continue
                if row.direction == "in" and not row.kind.startswith("event:"):
                    self.tracker.handle(CitizenWrote(key, timestamp(row.at)))
                elif row.direction == "out" and row.status == "sent":
                    self.tracker.handle(SeatReplied(key, str(row.body.get("seat", "")), timestamp(row.at)))
        for conv in convs:
            if conv.seat:
                with contextlib.suppress(UnknownConversation):
                    self.tracker.handle(SeatAssigned(str(conv.id), conv.seat, timestamp(conv.updated_at)))
        return len(convs)

    # ---- background ----------------------------------------------------------------------

    async def run_worker(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except Exception as exc:
                log_failure(logger, "channel job failed", exc, "channel jobs")
            finally:
                self._jobs.task_done()

    async def drain(self) -> None:
        """Wait until every queued job has run (tests and orderly shutdown)."""
        await self._jobs.join()

    async def tick(self) -> None:
        now = self.clock()
        if now >= self._retry_next and (self._retrying is None or self._retrying.done()):
            # Beside the tick, never in it: a slow WeChat must not hold up the response tracker.
            self._retry_next = now + RETRY_EVERY_S
            self._retrying = asyncio.create_task(self._retry_quietly(), name="wechat-retry")
        if now - self._forgot_at >= 3600:
            # Closed conversations are in storage; the tracker keeps two days for its statistics.
            self._forgot_at = now
            self.tracker.forget_closed(now - 2 * 86400)
        for cmd in self.tracker.handle(Tick(now)):
            kind = "late" if isinstance(cmd, FlagLate) else "offer_elsewhere"
            detail = {"seat": cmd.seat, "waited_s": round(cmd.waited, 1)}
            await self.sink.conversation_changed(ConversationChange(int(cmd.conversation), kind, detail))

    def spawn_catch_up(self) -> None:
        async def catch_up() -> None:
            try:
                await self.fetch_missing_media()
            except Exception:
                logger.exception("media a stop cut off not fetched")

        self._jobs.put_nowait(catch_up)

    async def _retry_quietly(self) -> None:
        try:
            await self.retry_replies()
        except Exception as exc:
            log_failure(logger, "wechat replies not tried again", exc, "wechat replies")

    async def run_ticker(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except Exception as exc:
                log_failure(logger, "response tracker tick failed", exc, "response tracker")
