"""Wires the IVR into the engine's app: the service for the voice adapter, flow hot reload, admin API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline import auth
from hotline.context import AppContext
from hotline.settings import SettingsError
from ivr.core.errors import FlowError
from ivr.core.session import WorkingDay
from ivr.draw import render_svg
from ivr.prompts import Voice, synthesize
from ivr.service import IvrService
from ivr.settings import load_ivr_settings

logger = logging.getLogger(__name__)

SERVICE = web.AppKey("ivr", IvrService)
ADMINS = ("supervisor", "manager", "admin")


def speak(name: str, text: str, folder: Path) -> None:
    """The IVR's voice for a text made at run time (the surge announcement): folder/name.wav."""
    synthesize(name, text, folder, Voice(), ("wav",))


def install(app: web.Application, ctx: AppContext) -> None:
    settings = load_ivr_settings(ctx.settings)

    def calendar() -> WorkingDay | None:
        # the work-order calendar (with the loaded State Council years and overrides) when present;
        # looked up per call because that plugin is installed after this one
        workorders = ctx.deps.workorders
        if workorders is None or not hasattr(workorders, "cal"):
            return None
        cal = workorders.cal()
        return lambda day: bool(cal.day_kind(day, allow_provisional=True)[0])

    try:
        service = IvrService(settings, calendar)
    except FlowError as exc:
        # no flow in service at all: refuse to start rather than answer calls with nothing
        raise SettingsError(f"IVR flow {settings.flow} cannot go into service (HOTLINE_IVR__FLOW):\n{exc}") from None
    ctx.deps.ivr = service
    ctx.deps.speak = speak
    app[SERVICE] = service
    auth.install(app, ctx)
    app.router.add_get("/api/ivr/flow", flow_info)
    app.router.add_post("/api/ivr/reload", reload_flow)
    app.router.add_get("/api/ivr/flow.svg", flow_svg)
    app.cleanup_ctx.append(_watch)


async def _watch(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]

    async def loop() -> None:
        while True:
            await asyncio.sleep(service.settings.reload_seconds)
            try:
                service.reload(only_if_changed=True)
            except Exception:  # the poller must outlive any surprise; the old flow stays in service
                logger.exception("flow reload failed")

    task = asyncio.create_task(loop(), name="ivr-flow-watch")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@auth.require_roles(*ADMINS)
async def flow_info(request: web.Request) -> web.Response:
    """The flow in service: name, version, node count and the last reload error."""
    return web.json_response(request.app[SERVICE].describe())


@auth.require_roles(*ADMINS)
async def reload_flow(request: web.Request) -> web.Response:
    """Load the flow file again; on error the running flow stays and the problems are returned."""
    service = request.app[SERVICE]
    error = service.reload()
    if error is not None:
        return web.json_response(
            {
                "error": "flow_invalid",
                "detail": "流程文件有误，当前流程继续使用",
                "issues": [str(i) for i in error.issues],
            },
            status=422,
        )
    return web.json_response(service.describe())


@auth.require_roles(*ADMINS)
async def flow_svg(request: web.Request) -> web.Response:
    """The flow in service as an SVG diagram."""
    svg = render_svg(request.app[SERVICE].store.current)
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8")


_ERR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_INFO = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "version": {"type": "string"},
        "source": {"type": "string"},
        "nodes": {"type": "integer"},
        "start": {"type": "string"},
        "last_reload_error": {"type": "array", "items": {"type": "string"}},
    },
}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/api/ivr/flow": {
            "get": {
                "summary": "the IVR flow in service",
                "tags": ["ivr"],
                "security": [{"bearer": []}, {"cookie": []}],
                "responses": {
                    "200": {"description": "flow", "content": {"application/json": {"schema": _INFO}}},
                    "401": _ERR,
                    "403": _ERR,
                },
            }
        },
        "/api/ivr/reload": {
            "post": {
                "summary": "reload the flow file; a bad file is refused and the running flow stays",
                "tags": ["ivr"],
                "security": [{"bearer": []}, {"cookie": []}],
                "responses": {
                    "200": {"description": "reloaded", "content": {"application/json": {"schema": _INFO}}},
                    "422": {"description": "file:line: reason for each problem; running flow kept"},
                    "401": _ERR,
                    "403": _ERR,
                },
            }
        },
        "/api/ivr/flow.svg": {
            "get": {
                "summary": "the flow in service as an SVG diagram",
                "tags": ["ivr"],
                "security": [{"bearer": []}, {"cookie": []}],
                "responses": {
                    "200": {"description": "SVG", "content": {"image/svg+xml": {}}},
                    "401": _ERR,
                    "403": _ERR,
                },
            }
        },
    }
}
