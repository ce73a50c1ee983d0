"""The engine's aiohttp application: features plug in, OpenAPI and metrics are served.

A feature package may hold ``plugin.py`` with ``install(app, ctx)`` (add routes, background
tasks as cleanup contexts, Socket.IO namespaces) and ``OPENAPI`` (a dict with ``paths`` and
optionally ``components``/``schemas``) that is merged into ``/openapi.json``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hotline import __version__
from hotline.context import AppContext

logger = logging.getLogger(__name__)

CTX = web.AppKey("ctx", AppContext)
OPENAPI_DOC = web.AppKey("openapi", dict)
PLUGIN_ORDER = ("acd", "ivr", "workorders", "agent_console", "channels", "scheduling")


def _plugins() -> list[Any]:
    found = []
    for pkg in PLUGIN_ORDER:
        if importlib.util.find_spec(pkg) and importlib.util.find_spec(f"{pkg}.plugin"):
            found.append(importlib.import_module(f"{pkg}.plugin"))
    return found


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure becomes a JSON error for the sender and a log line; never a traceback to a user."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json" and request.path.startswith("/api"):
            return web.json_response({"error": exc.reason, "detail": exc.text or exc.reason}, status=exc.status)
        raise
    except Exception:
        logger.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return web.json_response({"error": "internal error", "detail": "内部错误，已记录"}, status=500)


def build_openapi(plugins: list[Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "12345 hotline engine", "version": __version__},
        "paths": {
            "/healthz": {"get": {"summary": "liveness", "responses": {"200": {"description": "alive"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
        },
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for plugin in plugins:
        part = getattr(plugin, "OPENAPI", None)
        if not part:
            continue
        doc["paths"].update(part.get("paths", {}))
        comps = part.get("components", {})
        for key, value in comps.items():
            doc["components"].setdefault(key, {}).update(value)
    return doc


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def metrics(_request: web.Request) -> web.Response:
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_DOC])


def build_app(ctx: AppContext) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=16 * 1024 * 1024)
    app[CTX] = ctx
    plugins = _plugins()
    app[OPENAPI_DOC] = build_openapi(plugins)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    from hotline import auth

    auth.install(app, ctx)
    for plugin in plugins:
        plugin.install(app, ctx)
    return app
