"""Wire the internet channels into the engine's aiohttp app.

Publishes ``ctx.deps.channels`` (the ChannelService: assign, send_text, send_image,
close, transcript, tracker) and ``ctx.deps.channels_sink`` (the in-process
ContactSink the lead connects to the ACD). Routes: the WeChat webhook, when a token is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from channels.core.visitor import read_visitor
from channels.dedup import Deduplicator, MemoryDedup, RedisDedup
from channels.http import WEBHOOK_PATH, WeChatWebhook
from channels.models import ChannelConversation
from channels.services import ChannelService
from channels.settings import ChannelSettings, load_channel_settings
from channels.sink import ContactSink, ConversationChange, Notification, QueueContactSink
from channels.spool import PushSpool, SpoolTaken
from channels.visitor import COOKIE, VisitorNamespace
from channels.wechat_api import WeChatApi
from hotline import auth
from hotline.context import AppContext
from hotline.guard import client_address, networks

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
VENDOR = Path(__file__).resolve().parents[1] / "var" / "frontend" / "console-vendor.js"
SERVICE = web.AppKey("channels.service", ChannelService)
WEBHOOK = web.AppKey("channels.webhook", WeChatWebhook)

_SIGNED = [
    {"name": n, "in": "query", "required": True, "schema": {"type": "string"}}
    for n in ("signature", "timestamp", "nonce")
]
OPENAPI: dict[str, Any] = {
    "paths": {
        WEBHOOK_PATH: {
            "get": {
                "summary": "WeChat server-URL handshake: echoes echostr when the signature is right",
                "parameters": [
                    *_SIGNED,
                    {"name": "echostr", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "echostr"},
                    "403": {"description": "bad signature or timestamp"},
                    "404": {"description": "no WeChat official account configured"},
                },
            },
            "post": {
                "summary": "WeChat message push (plain, compatible or safe mode); stored before it is acknowledged",
                "parameters": [
                    *_SIGNED,
                    {"name": "encrypt_type", "in": "query", "required": False, "schema": {"enum": ["raw", "aes"]}},
                    {"name": "msg_signature", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "requestBody": {"content": {"text/xml": {"schema": {"type": "string", "maxLength": 65536}}}},
                "responses": {
                    "200": {"description": "success (stored, or a retry of a stored message)"},
                    "400": {"description": "oversized, hostile or malformed XML, or cannot decrypt"},
                    "403": {"description": "bad signature or timestamp out of window"},
                    "404": {"description": "no WeChat official account configured"},
                },
            },
        },
        "/chat/": {
            "get": {
                "summary": "web-chat widget page (网页在线咨询); sets the signed visitor cookie; "
                "Socket.IO namespace /visitor",
                "responses": {"200": {"description": "HTML"}},
            }
        },
        "/chat/media/{message_id}": {
            "get": {
                "summary": "a picture of the visitor's own chat (visitor cookie), for the widget",
                "parameters": [{"name": "message_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "the picture"}, "404": {"description": "not this visitor's"}},
            }
        },
        "/api/channels/media/{message_id}": {
            "get": {
                "summary": "a picture a citizen sent in a chat, for seats and supervisors",
                "security": [{"bearer": []}, {"cookie": []}],
                "parameters": [{"name": "message_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "the picture"},
                    "401": {"description": "not logged in"},
                    "404": {"description": "no such picture"},
                },
            }
        },
    }
}

# The widget loads only its own scripts; nothing inline, nothing from elsewhere.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self' ws: wss:; frame-ancestors *"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def build_service(
    ctx: AppContext,
    settings: ChannelSettings,
    session: aiohttp.ClientSession | None,
    sink: ContactSink,
) -> ChannelService:
    dedup: Deduplicator = (
        RedisDedup(ctx.redis, settings.wechat.dedup_ttl, health=ctx.redis_health)
        if ctx.redis is not None
        else MemoryDedup(settings.wechat.dedup_ttl)
    )
    api = WeChatApi(session, settings.wechat, ctx.redis, health=ctx.redis_health) if session is not None else None
    return ChannelService(ctx.sessions, settings, ctx.settings.data_dir, sink, dedup, api, ctx.deps, outbox=ctx.outbox)


def install(app: web.Application, ctx: AppContext, settings: ChannelSettings | None = None) -> None:
    settings = settings or load_channel_settings()
    sink = ctx.deps.channels_sink or QueueContactSink()
    ctx.deps.channels_sink = sink
    holder: dict[str, ChannelService] = {}

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession() if settings.wechat.api_enabled else None
        service = holder["service"]
        if session is not None:
            service.api = WeChatApi(session, settings.wechat, ctx.redis, health=ctx.redis_health)
        restored = await service.restore()
        if restored:
            logger.info("response tracking restored for %d open conversations", restored)
        # Downloads a stop cut off (the job that follows a push's commit lives in memory): after the start.
        service.spawn_catch_up()
        # Plain tasks, not a TaskGroup: aiohttp runs this generator's halves in different tasks.
        tasks = [asyncio.create_task(service.run_worker()), asyncio.create_task(service.run_ticker())]
        hook = _app.get(WEBHOOK)
        if hook is not None and hook.spool is not None:
            tasks.append(asyncio.create_task(hook.replay_kept(), name="wechat-spool"))
        try:
            yield
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.drain(), timeout=5)
            await service.aclose()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if hook is not None and hook.spool is not None:
                hook.spool.close()
            if session is not None:
                await session.close()

    service = build_service(ctx, settings, None, sink)
    holder["service"] = service
    ctx.deps.channels = service
    app[SERVICE] = service
    app.cleanup_ctx.append(lifecycle)
    if settings.webchat.enabled:
        _install_webchat(app, ctx, settings, service, sink)
    if settings.wechat.webhook_enabled:
        hook = WeChatWebhook(settings.wechat, service, spool=_spool(ctx, settings))
        app[WEBHOOK] = hook
        app.router.add_get(WEBHOOK_PATH, hook.handshake)
        app.router.add_post(WEBHOOK_PATH, hook.push)
    else:
        logger.info("WeChat webhook off: HOTLINE_WECHAT__TOKEN is not set")


def _spool(ctx: AppContext, settings: ChannelSettings) -> PushSpool | None:
    """The data folder's WeChat spool (``channels.spool``), unless it is off or another engine on
    the same folder holds it."""
    if not settings.wechat.outage_spool_bytes:
        return None
    path = ctx.settings.data_dir / "spool" / "wechat-pushes.jsonl"
    try:
        return PushSpool(path, settings.wechat.outage_spool_bytes)
    except SpoolTaken:
        logger.warning("WeChat spool held by another engine on this data folder; pushes get 503 in an outage")
        return None


# What a seat's console and the supervisors' board say for each conversation flag.
FLAG_LABELS = {
    "late": "市民等待回复已超时",
    "offer_elsewhere": "市民等待过久，会话已转给其他座席",
    "window_closed": "已超出微信48小时回复时限，待市民再次发消息",
    "held_quota": "微信客服消息条数已达上限，待市民再次发消息",
    "snap_draft": "随手拍：已生成工单草稿",
    "workorder_created": "随手拍：已自动创建工单",
    "delivery_failed": "回复未能送达微信（微信拒收或已超出48小时回复时限），请改用电话联系市民",
}
SUPERVISOR_FLAGS = frozenset({"late", "offer_elsewhere"})


def _install_webchat(
    app: web.Application, ctx: AppContext, settings: ChannelSettings, service: ChannelService, sink: ContactSink
) -> None:
    sio = ctx.deps.sio
    if sio is None:
        logger.warning("web chat off: no Socket.IO server (the composition root builds it)")
        return
    namespace = VisitorNamespace(
        service, settings.webchat, ctx.settings.secret_key, ctx.deps, security=ctx.settings.security
    )
    # A picture at the size limit must fit in one Engine.IO packet (base64 over long-polling adds
    # a third), so that it is refused with a message, not by dropping the visitor's connection.
    needed = settings.webchat.image_max_bytes * 4 // 3 + 64 * 1024
    sio.eio.max_http_buffer_size = max(sio.eio.max_http_buffer_size, needed)
    sio.register_namespace(namespace)
    secret = ctx.settings.secret_key
    trusted = networks(ctx.settings.security.trusted_proxies)

    async def page(request: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC / "widget.html", headers=_HEADERS)
        if read_visitor(secret, request.cookies.get(COOKIE)) is None:
            token = namespace.page_visitor(client_address(request.remote or "", request.headers, trusted))
            if token is None:
                return response
            response.set_cookie(
                COOKIE,
                token,
                max_age=365 * 86400,
                httponly=True,
                samesite="Lax",
                secure=request.secure,
                path="/",
            )
        return response

    async def vendor(_request: web.Request) -> web.StreamResponse:
        if not VENDOR.exists():
            return web.Response(status=503, text="/* bundle missing: run make setup */", content_type="text/javascript")
        return web.FileResponse(VENDOR, headers={"Cache-Control": "no-cache"})

    @auth.require_roles("seat", "supervisor", "manager", "admin")
    async def media(request: web.Request) -> web.StreamResponse:
        """A citizen's picture: for the seat holding that conversation and for supervisors only."""
        try:
            message_id = int(request.match_info["message_id"])
        except ValueError:
            raise web.HTTPNotFound(text="图片不存在") from None
        if not 1 <= message_id <= 2**31 - 1:
            raise web.HTTPNotFound(text="图片不存在")
        account = request[auth.ACCOUNT]
        if account.role == "seat" and await service.media_seat(message_id) != account.username:
            raise web.HTTPNotFound(text="图片不存在")  # not told apart from a missing one
        found = await service.media_file(message_id)
        if found is None or not found[0].exists():
            raise web.HTTPNotFound(text="图片不存在")
        return web.FileResponse(found[0], headers={"Content-Type": found[1], "X-Content-Type-Options": "nosniff"})

    async def visitor_media(request: web.Request) -> web.StreamResponse:
        """A picture in the visitor's own chat, for the widget; nothing of anyone else's."""
        visitor = read_visitor(secret, request.cookies.get(COOKIE))
        try:
            message_id = int(request.match_info["message_id"])
        except ValueError:
            visitor = None
        found = await service.visitor_media(visitor, message_id) if visitor is not None else None
        if found is None or not found[0].exists():
            raise web.HTTPNotFound(text="图片不存在")
        return web.FileResponse(found[0], headers={"Content-Type": found[1], "X-Content-Type-Options": "nosniff"})

    bus = ctx.deps.bus

    async def to_console(item: Notification) -> None:
        """A citizen's message in a conversation a seat holds appears on that seat's console at once;
        a flag (late reply, 48-hour window closed, moved elsewhere...) reaches the seat and supervisors."""
        if isinstance(item, ConversationChange):
            await _flag(item)
            return
        conv, msg = item
        if not conv.seat or conv.state == "queued":
            return
        message = {
            "id": msg.id,
            "direction": msg.direction,
            "kind": msg.kind,
            "supported": msg.supported,
            "status": "received",
            "body": msg.body,
            "at": msg.at.isoformat(),
        }
        await bus.to_seat(conv.seat, "chat_message", {"contact_id": f"{conv.channel}-{conv.id}", "message": message})

    async def _flag(change: ConversationChange) -> None:
        async with ctx.sessions() as s:
            conv = await s.get(ChannelConversation, change.conversation_id)
            if conv is None:
                return
            channel, seat = conv.channel, conv.seat
        seat = str(change.detail.get("seat") or seat)
        data = {
            "contact_id": f"{channel}-{change.conversation_id}",
            "change": change.change,
            "label": FLAG_LABELS.get(change.change, change.change),
            "seat": seat,
            "detail": {k: v for k, v in change.detail.items() if isinstance(v, (str, int, float, bool))},
        }
        if seat:
            await bus.to_seat(seat, "chat_flag", data)
        if change.change in SUPERVISOR_FLAGS:
            await bus.to_supervisors("chat_flag", data)

    if isinstance(sink, QueueContactSink):
        sink.subscribe(to_console)

    async def positions(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(namespace.run_positions(), name="webchat-positions")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    app.cleanup_ctx.append(positions)
    app.router.add_get("/chat", _redirect_chat)
    app.router.add_get("/chat/", page)
    app.router.add_get("/chat/vendor.js", vendor)
    app.router.add_get("/chat/media/{message_id}", visitor_media)
    app.router.add_static("/chat/static", STATIC)
    app.router.add_get("/api/channels/media/{message_id}", media)
    ctx.deps.webchat = namespace


async def _redirect_chat(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/chat/")
