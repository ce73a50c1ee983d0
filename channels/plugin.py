"""Wire the internet channels into the engine's aiohttp app.

Publishes ``ctx.services["channels"]`` (the ChannelService: assign, send_text, send_image,
close, transcript, tracker) and ``ctx.services["channels.sink"]`` (the in-process
ContactSink the lead connects to the ACD). Routes: the WeChat webhook, when a token is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from channels.dedup import Deduplicator, MemoryDedup, RedisDedup
from channels.http import WEBHOOK_PATH, WeChatWebhook
from channels.services import ChannelService
from channels.settings import ChannelSettings, load_channel_settings
from channels.sink import ContactSink, QueueContactSink
from channels.wechat_api import WeChatApi
from hotline.context import AppContext

logger = logging.getLogger(__name__)

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
                "responses": {"200": {"description": "echostr"}, "403": {"description": "bad signature or timestamp"}},
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
                },
            },
        }
    }
}


def build_service(
    ctx: AppContext,
    settings: ChannelSettings,
    session: aiohttp.ClientSession | None,
    sink: ContactSink,
) -> ChannelService:
    dedup: Deduplicator = (
        RedisDedup(ctx.redis, settings.wechat.dedup_ttl)
        if ctx.redis is not None
        else MemoryDedup(settings.wechat.dedup_ttl)
    )
    api = WeChatApi(session, settings.wechat, ctx.redis) if session is not None else None
    return ChannelService(ctx.sessions, settings, ctx.settings.data_dir, sink, dedup, api, ctx.services)


def install(app: web.Application, ctx: AppContext, settings: ChannelSettings | None = None) -> None:
    settings = settings or load_channel_settings()
    sink = ctx.services.get("channels.sink") or QueueContactSink()
    ctx.services["channels.sink"] = sink
    holder: dict[str, ChannelService] = {}

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession() if settings.wechat.api_enabled else None
        service = holder["service"]
        if session is not None:
            service.api = WeChatApi(session, settings.wechat, ctx.redis)
        restored = await service.restore()
        if restored:
            logger.info("response tracking restored for %d open conversations", restored)
        # Plain tasks, not a TaskGroup: aiohttp runs this generator's halves in different tasks.
        tasks = [asyncio.create_task(service.run_worker()), asyncio.create_task(service.run_ticker())]
        try:
            yield
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.drain(), timeout=5)
            await service.aclose()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if session is not None:
                await session.close()

    service = build_service(ctx, settings, None, sink)
    holder["service"] = service
    ctx.services["channels"] = service
    app[SERVICE] = service
    app.cleanup_ctx.append(lifecycle)
    if settings.wechat.webhook_enabled:
        hook = WeChatWebhook(settings.wechat, service)
        app[WEBHOOK] = hook
        app.router.add_get(WEBHOOK_PATH, hook.handshake)
        app.router.add_post(WEBHOOK_PATH, hook.push)
    else:
        logger.info("WeChat webhook off: HOTLINE_WECHAT__TOKEN is not set")
