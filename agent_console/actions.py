"""What a seat may do: log in/out, ready/not ready, answer or refuse offers, call control, wrap-up.

Each method gets the seat (from the authenticated socket, never from the event) and the
validated event, and returns the ack's data; a refusal raises ConsoleError.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

from sqlalchemy import select

from acd.core import (
    ContactEnded,
    OfferAccepted,
    OfferRejected,
    SeatLoggedIn,
    SeatLoggedOut,
    SeatNotReady,
    SeatReady,
    SeatReplied,
    WrapUpDone,
)
from acd.core.config import media_of
from acd.voice.api import VoiceControl, VoiceError
from agent_console import schemas
from agent_console.models import ConsoleActivity
from agent_console.services import WORKORDER_CHANNEL, ConsoleError, ConsoleService

logger = logging.getLogger(__name__)

NOT_YOURS = "该来电/会话不属于您"
SEAT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# The channels feature names a conversation's ACD contact "<channel>-<conversation id>".
CHAT_CONTACT = re.compile(r"^(?:wechat|webchat)-([0-9]{1,18})$")


class SeatActions:
    def __init__(self, console: ConsoleService) -> None:
        self.c = console

    # ---- session -----------------------------------------------------------------------------
    async def state(self, seat: str, _e: schemas.In) -> dict[str, Any]:
        return {**self.c.snapshot(seat), "to_wrap": await self.c.to_wrap(seat)}

    async def login(self, seat: str, e: schemas.Login) -> dict[str, Any]:
        if self.c.acd.core.has_seat(seat):
            raise ConsoleError("已签入；如需重新签入请先签出")
        if e.phone != "external" and not SEAT_ID.match(seat):
            # The seat's PJSIP endpoint is "seat<id>": Asterisk's naming rules apply to the account name.
            raise ConsoleError("账号名不能用作话机号：只能含字母、数字、_ 和 -（最多 32 位）")
        prof = await self.c.profile(seat)
        if e.media != "chat":  # a seat for chats only has no phone to open
            await self.c.open_phone(seat, e.phone)
        await self.c.feed(
            SeatLoggedIn(
                now=self.c.now(),
                seat_id=seat,
                skills=tuple(sorted(prof["skills"].items())),
                groups=tuple(prof["groups"]),
                kind=prof["kind"],
                ready=e.ready,
                max_chats=0 if e.media == "voice" else None,
                calls=e.media != "chat",
            )
        )
        self.c.phones[seat] = e.phone
        await self.c.join_queue_rooms(seat)
        return self.c.snapshot(seat)

    async def logout(self, seat: str, _e: schemas.In) -> dict[str, Any]:
        self._logged_in(seat)
        await self.c.feed(SeatLoggedOut(now=self.c.now(), seat_id=seat))
        await self.c.close_phone(seat)  # its endpoint and password end with the session
        self.c.offers.pop(seat, None)
        await self.c.join_queue_rooms(seat)
        return self.c.snapshot(seat)

    async def ready(self, seat: str, _e: schemas.In) -> dict[str, Any]:
        self._logged_in(seat)
        await self.c.feed(SeatReady(now=self.c.now(), seat_id=seat))
        return {"seat": self.c.seat_row(seat)}

    async def not_ready(self, seat: str, e: schemas.NotReady) -> dict[str, Any]:
        self._logged_in(seat)
        await self.c.feed(SeatNotReady(now=self.c.now(), seat_id=seat, reason=e.reason))
        return {"seat": self.c.seat_row(seat)}

    def _logged_in(self, seat: str) -> None:
        if not self.c.acd.core.has_seat(seat):
            raise ConsoleError("尚未签入，请先签入")

    # ---- offers ------------------------------------------------------------------------------
    def _offered(self, seat: str, contact_id: str) -> str:
        held = self.c.acd.core.seat(seat)
        contact = self.c.acd.core.contact(contact_id)
        if held is None or held.offer != contact_id or contact is None:
            raise ConsoleError(NOT_YOURS if contact is not None else "该来电/会话已不存在（已超时或对方已挂断）")
        return contact.channel

    async def accept(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        channel = self._offered(seat, e.contact_id)
        taken = self.c.offers.get(seat)
        if taken is not None:
            taken["accepted"] = True  # noted below: not again when the offer ends answered
        if media_of(channel) == "chat":
            await self.c.feed(OfferAccepted(now=self.c.now(), contact_id=e.contact_id, seat_id=seat))
            self.c.offers.pop(seat, None)
            auto = False
        else:
            # Voice is answered by the phone: the page's soft-phone picks up the ringing call itself;
            # the voice adapter then tells the ACD. A desk or external phone is answered by hand.
            auto = self.c.phones.get(seat, "webrtc") == "webrtc"
            offer = self.c.offers.get(seat)
            if offer is not None:
                offer["auto_answer"] = auto
        self.c.note(seat, e.contact_id, "accept", channel)
        hint = "" if auto or media_of(channel) == "chat" else "请在话机上接听"
        return {"contact_id": e.contact_id, "channel": channel, "auto_answer": auto, "hint": hint}

    async def reject(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        channel = self._offered(seat, e.contact_id)
        await self.c.feed(OfferRejected(now=self.c.now(), contact_id=e.contact_id, seat_id=seat))
        self.c.offers.pop(seat, None)
        self.c.note(seat, e.contact_id, "reject", channel)
        return {"seat": self.c.seat_row(seat)}

    # ---- call control ----------------------------------------------------------------------------
    def _voice(self, seat: str, contact_id: str) -> VoiceControl:
        held = self.c.acd.core.seat(seat)
        if held is None or held.voice != contact_id:
            raise ConsoleError(NOT_YOURS)
        voice: VoiceControl | None = self.c.deps.voice
        if voice is None:
            raise ConsoleError("语音服务未启用")
        return voice

    async def _call(self, seat: str, contact_id: str, action: str, *args: Any) -> dict[str, Any]:
        voice = self._voice(seat, contact_id)
        try:
            result = await getattr(voice, action)(seat, *args)
        except VoiceError as exc:
            raise ConsoleError(str(exc) or "语音操作失败") from None
        logger.info("seat call action", extra={"seat": seat, "action": action, "contact": contact_id})
        return {"contact_id": contact_id, "action": action, **({"result": result} if result is not None else {})}

    async def hangup(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        held = self.c.acd.core.seat(seat)
        if held is not None and e.contact_id in held.chats:
            await self.c.feed(ContactEnded(now=self.c.now(), contact_id=e.contact_id))
            return {"contact_id": e.contact_id, "action": "end_chat", "seat": self.c.seat_row(seat)}
        return await self._call(seat, e.contact_id, "hangup")

    async def hold(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "hold")

    async def unhold(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "unhold")

    async def mute(self, seat: str, e: schemas.Mute) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "mute", e.on)

    async def dtmf(self, seat: str, e: schemas.Dtmf) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "dtmf", e.digits)

    async def transfer(self, seat: str, e: schemas.Transfer) -> dict[str, Any]:
        if e.target == f"seat:{seat}":
            raise ConsoleError("不能转接给自己")
        held = self.c.acd.core.seat(seat)
        if held is not None and e.contact_id in held.chats:
            return await self._move_chat(seat, e)
        return await self._call(seat, e.contact_id, "transfer", e.target, e.attended)

    async def _move_chat(self, seat: str, e: schemas.Transfer) -> dict[str, Any]:
        """A chat goes back to wait in a queue (its original enqueue time kept) for another seat."""
        if not e.target.startswith("queue:"):
            raise ConsoleError("会话只能转到队列（queue:队列名）")
        bridge = self.c.deps.chat_bridge
        if bridge is None:
            raise ConsoleError("会话服务未启用")
        try:
            queue = await bridge.move(e.contact_id, queue=e.target[6:], avoid_seat=seat)
        except (ValueError, KeyError) as exc:
            raise ConsoleError(f"转接失败：{exc}") from None
        logger.info("chat transferred", extra={"seat": seat, "contact": e.contact_id, "queue": queue})
        return {"contact_id": e.contact_id, "action": "transfer", "queue": queue}

    async def complete_transfer(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "complete_transfer")

    async def emergency(self, seat: str, e: schemas.Emergency) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "emergency_transfer", e.service)

    async def three_party(self, seat: str, e: schemas.ThreeParty) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "three_party", e.number)

    async def leave_three_party(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        return await self._call(seat, e.contact_id, "leave_three_party")

    # ---- after the contact -----------------------------------------------------------------------
    async def _handled(self, seat: str, contact_id: str) -> tuple[str, bool]:
        """(channel, already wrapped up) of a contact this seat accepted; refuses anyone else's."""
        await self.c.activity.flush()
        async with self.c.sessions() as s:
            rows = (
                await s.execute(
                    select(ConsoleActivity.kind, ConsoleActivity.channel).where(
                        ConsoleActivity.seat_id == seat,
                        ConsoleActivity.contact_id == contact_id,
                        ConsoleActivity.kind.in_(("accept", "wrapup")),
                    )
                )
            ).all()
        kinds = {k for k, _ in rows}
        if "accept" not in kinds:
            raise ConsoleError(NOT_YOURS)
        return next(ch for k, ch in rows if k == "accept"), "wrapup" in kinds

    async def wrapup(self, seat: str, e: schemas.WrapUp) -> dict[str, Any]:
        if e.disposition not in self.c.console.dispositions:
            raise ConsoleError(f"处理结果须为：{'、'.join(self.c.console.dispositions)}")
        if len(e.notes) > self.c.console.max_notes:
            raise ConsoleError(f"备注过长（最多 {self.c.console.max_notes} 字）")
        channel, done = await self._handled(seat, e.contact_id)
        if done:
            raise ConsoleError("该来电/会话已提交过话后处理")
        held = self.c.acd.core.seat(seat)
        if held is not None and (held.voice == e.contact_id or e.contact_id in held.chats):
            raise ConsoleError("通话/会话尚未结束，结束后再提交话后处理")
        await self.c.record(seat, e.contact_id, "wrapup", channel, disposition=e.disposition, notes=e.notes)
        if held is not None and held.state == "wrap_up":
            await self.c.feed(WrapUpDone(now=self.c.now(), seat_id=seat))
        return {"contact_id": e.contact_id, "seat": self.c.seat_row(seat)}

    async def today(self, seat: str, _e: schemas.In) -> dict[str, Any]:
        return await self.c.today(seat)

    async def context(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        held = self.c.acd.core.seat(seat)
        live = held is not None and e.contact_id in (held.offer, held.voice, *held.chats)
        if not live:
            await self._handled(seat, e.contact_id)
        contact = self.c.acd.core.contact(e.contact_id)
        return await self.c.context_of(e.contact_id, (contact.caller or "") if contact else "")

    async def create_workorder(self, seat: str, e: schemas.CreateWorkOrder) -> dict[str, Any]:
        held = self.c.acd.core.seat(seat)
        contact = self.c.acd.core.contact(e.contact_id)
        if held is not None and e.contact_id in (held.voice, *held.chats) and contact is not None:
            channel, caller = contact.channel, contact.caller or ""
        else:
            channel, _ = await self._handled(seat, e.contact_id)
            caller = (await self.c.context_of(e.contact_id, ""))["caller"]
        orders = self.c.deps.workorders
        if orders is None:
            raise ConsoleError("工单服务未启用")
        attachments = await self._transcript_file(e.contact_id)
        try:
            order_id = await orders.create_from_contact(
                attachments=attachments,
                channel=WORKORDER_CHANNEL.get(channel, "console"),
                content=e.content,
                caller=caller,
                contact_id=e.contact_id,
                citizen_name=e.citizen_name,
                address=e.address,
                title=e.title,
                order_type=e.order_type,
                category=e.category,
                created_by=seat,
                confidential=e.confidential,
                request_id=e.cid,
            )
        except Exception as exc:  # its refusals (input, lifecycle) name the cause in their message
            logger.info("work order refused", extra={"seat": seat, "contact": e.contact_id, "error": str(exc)})
            raise ConsoleError(f"工单未创建：{exc}") from None
        return {"order_id": order_id}

    async def _transcript_file(self, contact_id: str) -> list[tuple[str, str, bytes]]:
        """A chat's transcript as a text file for its work order (the order keeps the conversation)."""
        match = CHAT_CONTACT.match(contact_id)
        channels = self.c.deps.channels
        if match is None or channels is None:
            return []
        try:
            messages = await channels.transcript(int(match.group(1)))
        except Exception:
            logger.exception("transcript not attached", extra={"contact": contact_id})
            return []
        lines = []
        for m in messages:
            body = m.get("body") or {}
            who = "座席" + str(body.get("seat", "")) if m.get("direction") == "out" else "市民"
            what = body.get("text") if body.get("text") is not None else f"[{m.get('kind', '消息')}]"
            lines.append(f"{str(m.get('at', ''))[:19].replace('T', ' ')} {who}：{what}")
        if not lines:
            return []
        return [(f"会话记录-{contact_id}.txt", "text/plain", ("\n".join(lines) + "\n").encode())]

    # ---- chat messages (the channels feature stores and delivers them) --------------------------
    def _chat(self, seat: str, contact_id: str) -> tuple[Any, int]:
        held = self.c.acd.core.seat(seat)
        if held is None or contact_id not in held.chats:
            raise ConsoleError(NOT_YOURS)
        match = CHAT_CONTACT.match(contact_id)
        channels = self.c.deps.channels
        if match is None or channels is None:
            raise ConsoleError("会话服务未启用")
        return channels, int(match.group(1))

    async def chat_history(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        channels, conversation = self._chat(seat, e.contact_id)
        return {"contact_id": e.contact_id, "messages": await channels.transcript(conversation)}

    async def chat_send(self, seat: str, e: schemas.ChatSend) -> dict[str, Any]:
        channels, conversation = self._chat(seat, e.contact_id)
        try:
            sent = await channels.send_text(conversation, seat, e.text, e.cid)
        except Exception as exc:  # the channels' refusals (window closed, quota...) are for the seat
            raise ConsoleError(str(exc) or "发送失败") from None
        if sent.status in ("sent", "held_window", "held_quota", "retry"):  # answered; delivery may follow
            # The first reply counts for the internet real-time response rate.
            try:
                await self.c.acd.feed(SeatReplied(now=self.c.now(), contact_id=e.contact_id))
            except ValueError:
                logger.info("reply not counted by the ACD", extra={"contact": e.contact_id})
        return {"contact_id": e.contact_id, "status": sent.status, "detail": sent.detail}

    async def chat_image(self, seat: str, e: schemas.ChatImage) -> dict[str, Any]:
        """A picture to a web-chat visitor (a map, a form to fill in)."""
        channels, conversation = self._chat(seat, e.contact_id)
        try:
            sent = await channels.send_web_image(conversation, seat, e.type, e.name, e.data)
        except Exception as exc:  # refusals (type, size, not a web chat) are for the seat
            raise ConsoleError(str(exc) or "发送失败") from None
        with contextlib.suppress(ValueError):
            await self.c.acd.feed(SeatReplied(now=self.c.now(), contact_id=e.contact_id))
        return {"contact_id": e.contact_id, "status": sent.status, "message_id": sent.message_id}

    async def chat_typing(self, seat: str, e: schemas.OnContact) -> dict[str, Any]:
        """'Seat is typing' for a web-chat visitor (WeChat has no such signal to a follower)."""
        channels, conversation = self._chat(seat, e.contact_id)
        signal = getattr(channels, "web_signal", None)
        if signal is not None:
            await signal(conversation, "typing", {})
        return {"contact_id": e.contact_id}

    async def chat_read(self, seat: str, e: schemas.ChatRead) -> dict[str, Any]:
        """The seat has read the citizen's messages up to ``up_to``; a web visitor sees 已读."""
        channels, conversation = self._chat(seat, e.contact_id)
        count = await channels.mark_read(conversation, "in", e.up_to)
        signal = getattr(channels, "web_signal", None)
        if count and signal is not None:
            await signal(conversation, "read", {"up_to": e.up_to})
        return {"contact_id": e.contact_id, "read": count}

    async def kb_suggest_order(self, seat: str, e: schemas.KbSuggestOrder) -> dict[str, Any]:
        """Knowledge answers for the work order the seat is writing (rate-limited per seat)."""
        if self.c.kb is None:
            raise ConsoleError("知识库未启用")
        return await self.c.kb.order(seat, e)

    async def sip(self, seat: str, _e: schemas.In) -> dict[str, Any]:
        creds = self.c.sip(seat)
        if creds is None:
            raise ConsoleError("本座席未使用网页话机")
        return creds
