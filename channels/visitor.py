"""Socket.IO namespace ``/visitor``: the website's chat box talks to the engine here.

No login: a visitor is known by a signed id (cookie set by the /chat/ page, or ``auth.visitor``
for other clients) and, optionally, a phone number. Every event is answered by an ack,
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` in Chinese; a message is acknowledged
only once it is stored. Floods are refused per visitor with the time to wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotline.context import Deps

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import socketio

from acd.core import ContactAbandoned, ContactEnded
from channels.core.ratelimit import FloodLimit
from channels.core.visitor import (
    VisitorInputError,
    clean_image,
    clean_phone,
    clean_rating,
    clean_sent_as,
    clean_text,
    new_visitor_id,
    read_visitor,
    sign_visitor,
    visitor_from_cookie,
)
from channels.media import DiskFull
from channels.services import ChannelService
from channels.settings import WebChatSettings
from channels.webchat import NoConversation
from hotline.clock import engine_time
from hotline.dbhealth import DATABASE, log_failure, unavailable
from hotline.guard import RateLimiter, refuse
from hotline.settings import SecuritySettings

logger = logging.getLogger(__name__)

VISITOR_NS = "/visitor"
COOKIE = "hotline_visitor"


def visitor_room(visitor: str) -> str:
    return f"visitor:{visitor}"


class Refused(VisitorInputError):
    """Past a limit of the visitor's address (or phone number): said to the widget in Chinese."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AddressLimits:
    """What one remote address (and one phone number) may cost the hotline: visitor ids,
    conversations, messages, pictures, left messages (each becomes a work order), other events."""

    def __init__(self, sec: SecuritySettings) -> None:
        self.new_visitor = RateLimiter(sec.visitor_new_ids_per_hour, 3600.0)
        self.conversations = RateLimiter(sec.visitor_conversations_per_hour, 3600.0)
        self.messages = RateLimiter(sec.visitor_messages_per_minute, 60.0)
        self.pictures = RateLimiter(sec.visitor_pictures_per_hour, 3600.0)
        self.left = RateLimiter(sec.visitor_left_messages_per_hour, 3600.0)
        self.per_phone = RateLimiter(sec.left_messages_per_phone_per_day, 86400.0)
        self.events = RateLimiter(sec.visitor_events_per_minute, 60.0)

    @staticmethod
    def _wait(limiter: RateLimiter, key: str, reason: str) -> None:
        wait = limiter.take(key)
        if wait > 0:
            raise Refused(reason, f"操作过于频繁，请 {int(wait) + 1} 秒后再试")

    def check(self, event: str, session: dict[str, Any]) -> None:
        remote = str(session.get("remote", ""))
        if event in ("message", "image"):
            self._wait(self.messages, remote, "messages")
            if event == "image":
                self._wait(self.pictures, remote, "pictures")
            if "conversation" not in session and self.conversations.retry_after(remote) > 0:
                # Counted once the conversation exists (``conv.new``); refused before if over.
                raise Refused("conversations", "新会话过多，请稍后再试")
        elif event != "leave_message":
            self._wait(self.events, remote, "events")

    def left_message(self, remote: str, phone: str) -> None:
        if self.per_phone.retry_after(phone) > 0:
            raise Refused("left_messages_phone", "该号码今日留言次数已达上限，如有急事请拨打12345")
        self._wait(self.left, remote, "left_messages")
        self.per_phone.hit(phone)


class VisitorNamespace(socketio.AsyncNamespace):  # type: ignore[misc]  # python-socketio ships no types
    def __init__(
        self,
        service: ChannelService,
        settings: WebChatSettings,
        secret: str,
        deps: Deps,
        clock: Callable[[], float] = engine_time,
        security: SecuritySettings | None = None,
    ) -> None:
        super().__init__(VISITOR_NS)
        self.service = service
        self.settings = settings
        self.secret = secret
        self.deps = deps
        self.clock = clock
        self.flood = FloodLimit(settings.flood_rate, settings.flood_burst)
        self.limits = AddressLimits(security) if security is not None else None
        # Conversations waiting for a seat, by id -> visitor: they get queue-position updates.
        self.waiting: dict[int, str] = {}
        self.events = {
            "hello": self.hello,
            "identify": self.identify,
            "message": self.message,
            "image": self.image,
            "typing": self.typing,
            "read": self.read,
            "end": self.end,
            "leave_message": self.leave_message,
            "rate": self.rate,
        }
        service.web_out = self.deliver

    # ---- plumbing ----------------------------------------------------------------------------
    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        handler = self.events.get(event)
        if handler is None:
            return {"ok": False, "error": f"未知事件：{str(event)[:40]}"}
        sid, data = args[0], args[1] if len(args) > 1 else None
        try:
            session = await self.get_session(sid)
        except KeyError:
            return {"ok": False, "error": "未连接"}
        try:
            if self.limits is not None:
                self.limits.check(event, session)
            return {"ok": True, **await handler(sid, session, data if data is not None else {})}
        except Refused as exc:
            refuse("webchat", exc.reason, remote=session.get("remote", ""), visitor=session["visitor"])
            return {"ok": False, "error": str(exc)}
        except VisitorInputError as exc:
            logger.info(
                "web-chat input refused", extra={"visitor": session["visitor"], "event": event, "why": str(exc)}
            )
            return {"ok": False, "error": str(exc)}
        except NoConversation:
            return {"ok": False, "error": "没有找到这次会话"}
        except ValueError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            if unavailable(exc):  # one line per outage (dbhealth), not a traceback per event
                DATABASE.failed(f"web chat {event}", exc)
                return {"ok": False, "error": "系统繁忙，请稍后重试"}
            logger.exception("web-chat event failed", extra={"visitor": session.get("visitor"), "event": event})
            return {"ok": False, "error": "服务暂时出错，请稍后再试"}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = visitor_from_cookie(str(environ.get("HTTP_COOKIE", "")), COOKIE)
        visitor = read_visitor(self.secret, token)
        if visitor is None and isinstance(auth, dict):
            visitor = read_visitor(self.secret, auth.get("visitor"))
        remote = str(environ.get("hotline.remote") or environ.get("REMOTE_ADDR", ""))
        if visitor is None:
            if self.limits is not None and (wait := self.limits.new_visitor.take(remote)) > 0:
                refuse("webchat", "new_visitors", remote=remote)
                raise socketio.exceptions.ConnectionRefusedError(f"访问过于频繁，请 {int(wait) + 1} 秒后再试")
            visitor = new_visitor_id()
        await self.save_session(sid, {"visitor": visitor, "phone": "", "remote": remote})
        await self.enter_room(sid, visitor_room(visitor))

    def page_visitor(self, remote: str) -> str | None:
        """A new signed visitor id for the chat page's cookie, within the address's limit on new
        ids: the page is the widget's own way to a new id, and a spray that fetched it for each
        connection once had as many ids as it liked. None past the limit: the page is served
        without a cookie, and its socket is refused with the time to wait."""
        if self.limits is not None and self.limits.new_visitor.take(remote) > 0:
            refuse("webchat", "new_visitors", remote=remote, via="page")
            return None
        return sign_visitor(self.secret, new_visitor_id())

    async def deliver(self, visitor: str, event: str, data: dict[str, Any]) -> None:
        """What a seat (or the engine) sends to a visitor: every open page of that visitor gets it."""
        if event in ("assigned", "closed"):
            self.waiting.pop(int(data.get("conversation", 0)), None)
        elif event == "requeued":
            self.waiting[int(data["conversation"])] = visitor
        await self.emit(event, data, room=visitor_room(visitor))

    def _allowed(self, visitor: str) -> None:
        decision = self.flood.check(visitor, self.clock())
        if not decision.allowed:
            raise VisitorInputError(f"发送太频繁，请 {decision.retry_after:.0f} 秒后再试")

    def _acd(self) -> Any:
        return self.deps.acd

    def open_now(self) -> bool:
        """A seat can answer: the queue is within opening hours and some seat is signed in."""
        acd = self._acd()
        if acd is None:
            return False
        core = acd.core
        queue = core.queue_config(self.settings.queue)
        if queue is None or not queue.is_open(self.clock()):
            return False
        return any(seat.state != "logged_out" and seat.max_chats > 0 for seat in core.seats())

    def position(self, conversation: int) -> dict[str, Any] | None:
        """Place in line and expected wait; None when the conversation is not waiting in the ACD."""
        acd = self._acd()
        contact = f"webchat-{conversation}"
        if acd is None or not acd.core.has_contact(contact):
            return None
        pos = acd.core.contact_position(contact)
        if pos["state"] not in ("waiting", "callback"):
            return None
        wait = pos["expected_wait_s"]
        return {
            "conversation": conversation,
            "position": pos["position"],
            "expected_wait_s": None if wait == float("inf") else round(wait),
        }

    # ---- events ------------------------------------------------------------------------------
    async def hello(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        visitor = session["visitor"]
        conv = await self.service.conversation_of(visitor)
        queue = None
        if conv is not None and conv["state"] == "queued":
            self.waiting[conv["id"]] = visitor
            queue = self.position(conv["id"])
        return {
            "visitor": visitor,
            "token": sign_visitor(self.secret, visitor),
            "open": self.open_now(),
            "conversation": conv,
            "queue": queue,
        }

    async def identify(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        phone = clean_phone(data.get("phone") if isinstance(data, dict) else data)
        session["phone"] = phone
        await self.save_session(sid, session)
        return {"phone": phone}

    async def _after_store(self, session: dict[str, Any], conv: Any, msg: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"conversation": conv.id, "id": msg.id, "at": msg.at.isoformat()}
        if self.limits is not None and conv.new:
            self.limits.conversations.hit(session.get("remote", ""))
        session["conversation"] = conv.id
        if conv.state == "queued":
            self.waiting[conv.id] = session["visitor"]
        return out

    async def message(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        text = clean_text(data.get("text") if isinstance(data, dict) else None, self.settings.max_text)
        sent_as = clean_sent_as(data.get("cid") if isinstance(data, dict) else None)
        self._allowed(session["visitor"])
        conv, msg = await self.service.receive_web(
            session["visitor"], session["phone"], "text", {"text": text}, sent_as
        )
        return await self._after_store(session, conv, msg)

    async def image(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        picture = clean_image(data, self.settings.image_max_bytes)
        self._allowed(session["visitor"])
        try:
            conv, msg = await self.service.receive_web_image(session["visitor"], session["phone"], picture)
        except ValueError as exc:  # the bytes are not the declared picture type
            logger.info("web-chat image refused", extra={"visitor": session["visitor"], "why": str(exc)})
            raise VisitorInputError("图片文件已损坏或格式与声明不符") from None
        except DiskFull:  # said once a minute in the log (channels/media.py)
            raise VisitorInputError("存储空间不足，图片暂时无法发送，请先用文字描述") from None
        return await self._after_store(session, conv, msg)

    async def typing(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        conv = await self.service.open_conversation(session["visitor"])
        if conv is not None and conv["seat"]:
            await self.deps.bus.to_seat(conv["seat"], "chat_typing", {"contact_id": f"webchat-{conv['id']}"})
        return {}

    async def read(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        up_to = data.get("up_to") if isinstance(data, dict) else None
        conversation = data.get("conversation") if isinstance(data, dict) else None
        if not isinstance(up_to, int) or not isinstance(conversation, int) or isinstance(up_to, bool):
            raise VisitorInputError("已读回执格式不正确")
        conv = await self.service.web_conversation(conversation, session["visitor"])
        count = await self.service.mark_read(conversation, "out", up_to)
        if count and conv.seat:
            await self.deps.bus.to_seat(
                conv.seat, "chat_read", {"contact_id": f"webchat-{conversation}", "up_to": up_to}
            )
        return {"read": count}

    async def end(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        conv = await self.service.open_conversation(session["visitor"])
        if conv is None:
            raise NoConversation(0)
        contact = f"webchat-{conv['id']}"
        acd = self._acd()
        held = acd.core.contact(contact) if acd is not None else None
        if acd is not None and held is not None:
            waiting = held.state in ("waiting", "callback", "offered")
            event = ContactAbandoned if waiting else ContactEnded
            await acd.feed(event(now=acd.now(), contact_id=contact))  # the bridge closes the conversation
        else:
            await self.service.close(conv["id"], "citizen_left")
        return {"conversation": conv["id"]}

    async def leave_message(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise VisitorInputError("留言格式不正确")
        text = clean_text(data.get("text"), self.settings.max_text)
        phone = clean_phone(data.get("phone"))
        if not phone:
            raise VisitorInputError("请留下联系电话，以便工作人员回复")
        name = data.get("name", "")
        if not isinstance(name, str) or len(name.strip()) > 20:
            raise VisitorInputError("称呼最多20字")
        self._allowed(session["visitor"])
        if self.limits is not None:
            self.limits.left_message(session.get("remote", ""), phone)
        body = {"text": text, "phone": phone, "name": name.strip()}
        conv, msg = await self.service.receive_web(session["visitor"], phone, "leave_message", body)
        order_id = await self.service.workorder_from_message(conv.id)
        return {"conversation": conv.id, "id": msg.id, "order_id": order_id}

    async def rate(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        rating = clean_rating(data)
        conversation = data.get("conversation")
        if not isinstance(conversation, int) or isinstance(conversation, bool):
            raise VisitorInputError("请指明要评价的会话")
        await self.service.rate_web(session["visitor"], conversation, rating, self.settings.rating_window)
        return {"conversation": conversation, "rating": rating.code}

    # ---- queue position ----------------------------------------------------------------------
    async def push_positions(self) -> int:
        sent = 0
        acd = self._acd()
        for conversation, visitor in list(self.waiting.items()):
            pos = self.position(conversation)
            if pos is None:
                # Not yet in the ACD (its message is on the way) or no longer waiting there.
                if acd is None or acd.core.has_contact(f"webchat-{conversation}"):
                    self.waiting.pop(conversation, None)
                continue
            await self.emit("queue", pos, room=visitor_room(visitor))
            sent += 1
        return sent

    async def run_positions(self) -> None:
        while True:
            await asyncio.sleep(self.settings.position_every)
            try:
                await self.push_positions()
            except Exception as exc:
                log_failure(logger, "queue positions not pushed", exc, "queue positions")
