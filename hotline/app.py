"""The engine's aiohttp application: features plug in, OpenAPI and metrics are served.

A feature package may hold ``plugin.py`` with ``install(app, ctx)`` (add routes, background
tasks as cleanup contexts, Socket.IO namespaces) and ``OPENAPI`` (a dict with ``paths`` and
optionally ``components``/``schemas``) that is merged into ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hotline import __version__, auth, features
from hotline.context import AppContext
from hotline.dbhealth import DATABASE, unavailable
from hotline.guard import client_address, networks, refuse, within
from hotline.settings import Settings
from hotline.sockets import GuardedServer, limits_from, make_server

logger = logging.getLogger(__name__)

CTX = web.AppKey("ctx", AppContext)
OPENAPI_DOC = web.AppKey("openapi", dict)
ALLOWED_ORIGINS = web.AppKey("allowed_origins", tuple)
GATEWAY_SETTINGS = web.AppKey("gateway_settings", Settings)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_TYPES = frozenset({"application/json", "multipart/form-data"})


def _same_origin(value: str, request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Whether an Origin (or Referer) names this site: its host and port, whatever the scheme
    (a TLS-terminating proxy changes the scheme the engine sees, never the host)."""
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        return False
    return parts.netloc.lower() == request.host.lower() or f"{parts.scheme}://{parts.netloc}".lower() in allowed


@web.middleware
async def origin_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """A state-changing API request from a browser must come from one of this site's pages: a
    same-origin ``Origin`` (or, without one, ``Referer``) when a login cookie rides along, and a
    JSON (or, for uploads, multipart) body. A page of another site can send neither, so its forms
    cannot act with a seat's cookie (CSRF). Non-browser clients use a bearer token and send no
    cookie."""
    if request.method not in STATE_CHANGING or not request.path.startswith("/api/"):
        return await handler(request)
    allowed = request.app[ALLOWED_ORIGINS]
    origin = request.headers.get("Origin")
    cookie_only = auth.COOKIE in request.cookies and not request.headers.get("Authorization")
    claim = origin if origin is not None else (request.headers.get("Referer") if cookie_only else None)
    if (origin is not None or cookie_only) and (claim is None or not _same_origin(claim, request, allowed)):
        refuse("http", "cross_origin", path=request.path, origin=origin or "")
        return web.json_response({"error": "forbidden", "detail": "跨站请求被拒绝"}, status=403)
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    if has_body and request.content_type not in BODY_TYPES:
        refuse("http", "content_type", path=request.path, content_type=request.content_type)
        return web.json_response(
            {"error": "unsupported media type", "detail": "请求体须为 application/json"}, status=415
        )
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure becomes a JSON error for the sender and a log line; never a traceback to a user."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json" and request.path.startswith("/api"):
            return web.json_response({"error": exc.reason, "detail": exc.text or exc.reason}, status=exc.status)
        raise
    except Exception as exc:
        if unavailable(exc):  # one line per outage (dbhealth), not a traceback per request
            DATABASE.failed(f"http {request.method}", exc)
            return web.json_response(
                {"error": "database unavailable", "detail": "系统繁忙，请稍后重试"},
                status=503,
                headers={"Retry-After": "5"},
            )
        logger.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return web.json_response({"error": "internal error", "detail": "内部错误，已记录"}, status=500)


def build_openapi(plugins: list[Any]) -> dict[str, Any]:
    ops_only = {"403": {"description": "not from the operators' networks (setting security.ops_networks)"}}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "12345 hotline engine", "version": __version__},
        "paths": {
            "/healthz": {"get": {"summary": "liveness", "responses": {"200": {"description": "alive"}}}},
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text"}, **ops_only},
                }
            },
            "/cluster/active": {
                "get": {
                    "summary": "whether this engine is the active one (load balancers' health check)",
                    "responses": {
                        "200": {"description": "active: it routes calls and chats"},
                        "503": {"description": "a standby, or an engine that lost its lease"},
                    },
                }
            },
            "/cluster/relay": {
                "post": {
                    "summary": "a web gateway's socket event, carried out here (hotline/relay.py)",
                    "description": "Only for the cluster's gateways: the X-Hotline-Relay header must be"
                    " the setting cluster.relay_secret. Served when the secret and Redis are set.",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                        "200": {"description": "carried out; the event's ack, the engine's id and epoch"},
                        "400": {"description": "not a relay message"},
                        "403": {"description": "not signed with the relay secret"},
                        "404": {"description": "this engine takes no gateway (no relay secret or no Redis)"},
                        "409": {"description": "this engine does not know the socket: connect it first"},
                        "503": {"description": "a standby: try the next engine"},
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "this description",
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}, **ops_only},
                }
            },
        },
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for plugin in (auth, *plugins):
        part = getattr(plugin, "OPENAPI", None)
        if not part:
            continue
        doc["paths"].update(part.get("paths", {}))
        comps = part.get("components", {})
        for key, value in comps.items():
            doc["components"].setdefault(key, {}).update(value)
    _kernel_responses(doc)
    return doc


def _kernel_responses(doc: dict[str, Any]) -> None:
    """What the kernel answers on any route, documented on each: 401/403 where a login is needed,
    and for state-changing API requests the origin and body checks (origin_middleware)."""
    said = {
        "401": "not logged in, or the login has ended",
        "403": "not allowed for this role, or a cross-site request",
        "413": "body too large",
        "415": "body is not JSON (or multipart for uploads)",
    }
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            codes: list[str] = []
            if op.get("security"):
                codes += ["401", "403"]
            if path.startswith("/api/") and method.upper() in STATE_CHANGING:
                codes += ["403", "413", "415"]
            for code in codes:
                op["responses"].setdefault(code, {"description": said[code]})


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def cluster_active(request: web.Request) -> web.Response:
    """200 while this engine holds the routing lease (always, without a cluster); 503 otherwise.
    HAProxy sends the hotline's traffic only where this answers 200 (docs/deployment.md)."""
    lease = request.app[CTX].lease
    if lease.holds():
        return web.json_response({"role": "active", "epoch": lease.epoch})
    return web.json_response({"role": "fenced", "epoch": lease.epoch}, status=503)


async def relay_off(_request: web.Request) -> web.Response:
    """/cluster/relay on an engine that takes no web gateway (no relay secret or no Redis)."""
    return web.json_response({"error": "not found", "detail": "本引擎未启用网关转发"}, status=404)


def _ops_only(request: web.Request) -> None:
    """/metrics and /openapi.json describe the engine's insides: only for the operators'
    networks (loopback by default)."""
    settings = request.app[CTX].settings if CTX in request.app else request.app[GATEWAY_SETTINGS]
    sec = settings.security
    where = client_address(request.remote or "", request.headers, networks(sec.trusted_proxies))
    if not within(where, networks(sec.ops_networks)):
        refuse("http", "ops_only", path=request.path, remote=where)
        raise web.HTTPForbidden(
            text='{"error": "forbidden", "detail": "仅限运维网络访问"}', content_type="application/json"
        )


async def metrics(request: web.Request) -> web.Response:
    _ops_only(request)
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


async def openapi(request: web.Request) -> web.Response:
    _ops_only(request)
    return web.json_response(request.app[OPENAPI_DOC])


def socket_server(app: web.Application, ctx: AppContext) -> GuardedServer:
    """The one Socket.IO server of the process, on ``app``, shared by the features in
    ``ctx.deps.sio`` (the seats' and supervisors' consoles, the visitors' web chat)."""
    if ctx.deps.sio is None:
        sio = make_server(limits_from(ctx.settings), ctx.settings.redis_url, ctx.redis_health)
        sio.attach(app)
        ctx.deps.sio = sio
    return ctx.deps.sio


def build_app(ctx: AppContext) -> web.Application:
    app = web.Application(middlewares=[error_middleware, origin_middleware], client_max_size=16 * 1024 * 1024)
    app[CTX] = ctx
    app[ALLOWED_ORIGINS] = tuple(o.rstrip("/").lower() for o in ctx.settings.security.allowed_origins)
    plugins = features.plugins()
    app[OPENAPI_DOC] = build_openapi(plugins)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/cluster/active", cluster_active)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    auth.install(app, ctx)
    sio = socket_server(app, ctx)
    cluster = ctx.settings.cluster
    if cluster.relay_secret and ctx.settings.redis_url:  # web gateways relay to this engine
        from hotline.relay import install_engine

        install_engine(app, sio, cluster.relay_secret, cluster.gateway_silent_s, lambda: ctx.lease.epoch)
    else:
        app.router.add_post("/cluster/relay", relay_off)
    for plugin in plugins:
        plugin.install(app, ctx)
    app.cleanup_ctx.append(_outbox_worker)
    return app


def build_standby_app(ctx: AppContext) -> web.Application:
    """What a standby serves on the engine's port until it takes the lease: it is alive
    (``/healthz``), not active (``/cluster/active`` 503, so the load balancer passes it by), its
    metrics; anything else is refused with a clear 503 and ``Retry-After`` (a console or a page
    that reached it tries again and lands on the active engine)."""
    app = web.Application(client_max_size=64 * 1024)
    app[CTX] = ctx

    async def standby_health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "role": "standby", "version": __version__})

    async def not_active(request: web.Request) -> web.Response:
        return web.json_response({"role": "standby", "epoch": 0}, status=503)

    async def refused(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": "standby", "detail": "本机为备用节点，请稍后重试"}, status=503, headers={"Retry-After": "1"}
        )

    app.router.add_get("/healthz", standby_health)
    app.router.add_get("/cluster/active", not_active)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/{tail:.*}", refused)
    return app


async def _outbox_worker(app: web.Application) -> AsyncIterator[None]:
    """After the features' start-up (their handlers registered): carries out what an earlier run
    left waiting, then every row a commit writes."""
    outbox = app[CTX].outbox
    outbox.start()
    outbox.wake()
    yield
    await outbox.stop()


def build_gateway_app(settings: Settings) -> web.Application:
    """A web gateway (``cluster.role = "gateway"``): the Socket.IO edge of the seats', the
    supervisors' and the visitors' sockets, relayed to the active engine (hotline/relay.py);
    its health and metrics. The pages and the HTTP API are the engine's: the load balancer sends
    only ``/socket.io/`` here (``hotline cluster haproxy --gateway``)."""
    import uuid

    from hotline.redislink import RedisHealth
    from hotline.relay import EngineLink, Gateway

    cluster = settings.cluster
    app = web.Application(client_max_size=64 * 1024)
    app[GATEWAY_SETTINGS] = settings
    sio = make_server(limits_from(settings), settings.redis_url, RedisHealth())
    sio.attach(app)
    name = cluster.node or f"gateway-{settings.http.host}:{settings.http.port}"
    link = EngineLink(cluster.engines, cluster.relay_secret, f"{name}/{uuid.uuid4().hex[:8]}", cluster.relay_wait_s)
    gateway = Gateway(sio, link, cluster.gateway_beat_s)

    async def gateway_health(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "role": "gateway",
                "version": __version__,
                "engine": link.engine_id,
                "sockets": len(gateway.held),
            }
        )

    async def not_here(_request: web.Request) -> web.Response:
        return web.json_response({"error": "not found", "detail": "本机为网关，只接受 Socket.IO 连接"}, status=404)

    async def running(_app: web.Application) -> AsyncIterator[None]:
        # Listen on Redis before the first socket (python-socketio starts on the first one): the
        # rooms an engine puts a socket in while it connects come that way.
        sio.manager_initialized = True
        sio.manager.initialize()
        try:
            await asyncio.wait_for(sio.manager.listening.wait(), 10)
        except TimeoutError:
            raise RuntimeError(f"not subscribed on Redis at {settings.redis_url} within 10 s") from None
        await link.start()
        beat = asyncio.get_running_loop().create_task(gateway.beat(), name="relay-beat")
        yield
        beat.cancel()
        await link.close()

    app.router.add_get("/healthz", gateway_health)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/{tail:.*}", not_here)
    app.cleanup_ctx.append(running)
    return app
