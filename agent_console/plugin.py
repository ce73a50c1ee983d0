"""Wires the console into the engine: Socket.IO on the aiohttp app, the pages, the ACD's bus.

Pages: ``/console/`` (seats) and ``/supervisor/`` (supervisors), static HTML and JS; the
browser bundle of JsSIP and the Socket.IO client is built at set-up into
``var/frontend/console-vendor.js`` (``scripts/frontend.sh``) and served at
``/console/vendor.js``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import socketio
from aiohttp import web

from agent_console.access import SocketAuth
from agent_console.kb import EMERGENCY_TOPIC, KbSuggestions, relay_emergency
from agent_console.namespaces import AgentNamespace, SupervisorNamespace
from agent_console.services import ConsoleService
from agent_console.settings import ConsoleSettings, load_console_settings
from agent_console.supervision import SupervisorActions
from hotline import auth
from hotline.bus import TO_SEAT, TO_SUPERVISORS, Bus
from hotline.context import AppContext
from hotline.dbhealth import log_failure

if TYPE_CHECKING:
    from knowledge.api import KnowledgeApi

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
VENDOR = Path(__file__).resolve().parents[1] / "var" / "frontend" / "console-vendor.js"
SIO = web.AppKey("console.sio", socketio.AsyncServer)
CONSOLE = web.AppKey("console.service", ConsoleService)

OPENAPI: dict[str, Any] = {
    "paths": {
        "/console/": {
            "get": {"summary": "seat console page (座席工作台)", "responses": {"200": {"description": "HTML"}}}
        },
        "/supervisor/": {
            "get": {"summary": "supervisor board page (班长监控)", "responses": {"200": {"description": "HTML"}}}
        },
        "/socket.io/": {
            "get": {
                "summary": "Socket.IO: namespaces /agent (seats) and /supervisor; auth {token} or the login cookie",
                "responses": {
                    "101": {"description": "WebSocket"},
                    "200": {"description": "Engine.IO long-polling"},
                    "400": {"description": "not a Socket.IO request (protocol, transport or session unknown)"},
                },
            }
        },
    }
}


def _page(name: str) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers=_HEADERS)

    return handler


# The pages load only their own scripts; nothing inline, nothing from elsewhere.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; media-src 'self' blob:; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _redirect(to: str) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(to)

    return handler


async def _vendor(_request: web.Request) -> web.StreamResponse:
    if not VENDOR.exists():
        return web.Response(
            status=503,
            text="/* console bundle missing: run `make setup` or `bash scripts/frontend.sh` */",
            content_type="application/javascript",
        )
    return web.FileResponse(VENDOR, headers={"Cache-Control": "no-cache"})


def _knowledge(app: web.Application, ctx: AppContext) -> KnowledgeApi | None:
    """The knowledge base when it runs (installed before the consoles, it sets ``deps.knowledge``)."""
    return ctx.deps.knowledge


def _flags(ctx: AppContext) -> Callable[[list[str]], Awaitable[set[str]]]:
    """Which entries have an open correction (the knowledge base's requests part, when it runs)."""

    async def flagged(ids: list[str]) -> set[str]:
        kb = ctx.deps.knowledge
        if kb is None or kb.open_flags is None:
            return set()
        return set(await kb.open_flags(ids))

    return flagged


def install(app: web.Application, ctx: AppContext, settings: ConsoleSettings | None = None) -> None:
    settings = settings or load_console_settings()
    acd = ctx.deps.acd
    if acd is None:
        logger.warning("agent console not installed: the ACD service is missing")
        return
    auth.install(app, ctx)  # idempotent: the console needs /api/login even if the app frame did not add it
    bus: Bus = ctx.deps.bus
    sio = ctx.deps.sio
    if sio is None:
        logger.warning("agent console not installed: no Socket.IO server (the composition root builds it)")
        return
    console = ConsoleService(sio, acd, ctx.sessions, ctx.settings, settings, ctx.deps)
    supervision = SupervisorActions(console)
    socket_auth = SocketAuth(ctx.sessions, ctx.settings.secret_key)
    sio.register_namespace(AgentNamespace(console, socket_auth))
    sio.register_namespace(SupervisorNamespace(console, supervision, socket_auth))
    app[SIO] = sio
    app[CONSOLE] = console
    ctx.deps.console = console
    kb = console.kb = KbSuggestions(console, lambda: _knowledge(app, ctx), settings, _flags(ctx))

    async def on_emergency(_topic: str, payload: dict[str, Any]) -> None:
        await relay_emergency(console, payload)

    unsubscribe = [
        bus.subscribe("seat", console.on_seat_topic),
        bus.subscribe("supervisor.seat", supervision.on_seat_topic),
        bus.subscribe(TO_SEAT, console.on_to_seat),
        # after the console's own handler: a chat message is emitted before its suggestions are sought
        bus.subscribe(TO_SEAT, kb.on_to_seat),
        bus.subscribe(TO_SUPERVISORS, console.on_to_supervisors),
        bus.subscribe(EMERGENCY_TOPIC, on_emergency),
    ]

    async def end_sessions() -> None:
        """Every second: sockets whose account was disabled, whose token was revoked at logout or
        predates a password change, are disconnected (their events are refused meanwhile)."""
        while True:
            await asyncio.sleep(1.0)
            try:
                ended = await socket_auth.ended()
            except Exception as exc:  # the database may be away a moment: try again next second
                log_failure(logger, "console sessions not checked", exc, "console sessions")
                continue
            for namespace, sid in ended:
                socket_auth.ending.add((namespace, sid))
                who = socket_auth.live.get((namespace, sid))
                logger.info("console session ended", extra={"namespace": namespace, "sid": sid})
                if who is not None:
                    await console.close_phone(who.username)  # its SIP endpoint ends with it
                await sio.disconnect(sid, namespace=namespace)
                socket_auth.untrack(namespace, sid)
                socket_auth.ending.discard((namespace, sid))

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        console.start()
        pusher = asyncio.create_task(supervision.run_pusher(), name="console-board")
        sweeper = asyncio.create_task(end_sessions(), name="console-sessions")
        yield
        for off in unsubscribe:
            off()
        for task in (pusher, sweeper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await kb.stop()
        await console.stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/console", _redirect("/console/"))
    app.router.add_get("/supervisor", _redirect("/supervisor/"))
    app.router.add_get("/console/", _page("console.html"))
    app.router.add_get("/supervisor/", _page("supervisor.html"))
    app.router.add_get("/console/vendor.js", _vendor)
    app.router.add_static("/console/static", STATIC)
