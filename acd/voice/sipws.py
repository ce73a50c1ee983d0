"""SIP over WebSocket for the seats' browsers, through the engine.

Asterisk serves SIP over WebSocket (``/ws``) on the same HTTP server as ARI. To keep ARI (and
AMI) on the loopback or management address while browsers on the network register their
soft-phones, the page talks to the engine's ``/sip/ws`` and the engine relays each frame to
Asterisk's ``/ws``. Only a logged-in seat, supervisor or manager may open it; one client's
frames are bounded (size, rate) so a page cannot flood Asterisk through the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp
from aiohttp import web

from hotline import auth
from hotline.guard import refuse

logger = logging.getLogger(__name__)

PHONE_ROLES = ("seat", "supervisor", "manager")
MAX_FRAME = 64 * 1024  # a SIP message is a few KiB; SDP with many candidates stays well under this
FRAMES_PER_MINUTE = 600


def handler(upstream_url: str) -> web.Handler:
    async def relay(request: web.Request) -> web.StreamResponse:
        account = await auth.authenticate(request)
        if account.role not in PHONE_ROLES:
            raise web.HTTPForbidden(text="只有座席和班长的网页话机可以连接")
        client = web.WebSocketResponse(protocols=("sip",), max_msg_size=MAX_FRAME, heartbeat=30.0)
        await client.prepare(request)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(upstream_url, protocols=("sip",), max_msg_size=MAX_FRAME, heartbeat=30.0) as asterisk,
        ):
            up = asyncio.create_task(_browser_to_asterisk(client, asterisk, account.username))
            down = asyncio.create_task(_asterisk_to_browser(asterisk, client))
            try:
                await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (up, down):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        await client.close()
        return client

    return relay


async def _browser_to_asterisk(
    client: web.WebSocketResponse, asterisk: aiohttp.ClientWebSocketResponse, user: str
) -> None:
    window: list[float] = []
    async for msg in client:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break  # SIP over WebSocket is text; anything else ends the relay
        now = time.monotonic()
        window = [t for t in window if now - t < 60.0]
        window.append(now)
        if len(window) > FRAMES_PER_MINUTE:
            refuse("sipws", "frames_per_minute", user=user)
            break
        await asterisk.send_str(msg.data)


async def _asterisk_to_browser(asterisk: aiohttp.ClientWebSocketResponse, client: web.WebSocketResponse) -> None:
    async for msg in asterisk:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        await client.send_str(msg.data)
