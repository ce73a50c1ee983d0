"""The citizens' self-service page ``/kb/`` (热线百科 自助查询) and its two small public routes.

The page searches through ``/api/kb/public/search`` (limited per address, never an expired entry)
and then reads the answers of the entries found from ``/api/kb/public/entries``; the district list
comes from ``/api/kb/public/scopes``. Both routes are limited per address too and show only
published entries still valid today. The page is static files with no inline script, served under
a Content-Security-Policy that allows only its own scripts.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select

from hotline.context import AppContext
from hotline.guard import RateLimiter, client_address, networks, refuse
from knowledge.models import KbEntry
from knowledge.services import KnowledgeService

STATIC = Path(__file__).parent / "static"
E = KbEntry.__table__
MAX_IDS = 50
CITY_SCOPES = ("city", "如皋市")  # the city-wide scope as entries name it (an import uses the city's name)
SERVICE = web.AppKey("knowledge_public_service", KnowledgeService)


@dataclass(frozen=True)
class Limit:
    """The page's routes' rate per address, and the proxies whose forwarded address is believed."""

    limiter: RateLimiter
    trusted: tuple[Any, ...]


LIMIT = web.AppKey("knowledge_public_pages_limit", Limit)

# Only the page's own script and style; answers are rebuilt from an allow-list in the page, never
# written as HTML, so even an unsanitised row could not run anything.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors *"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_PUBLIC = {"200": {"description": "OK"}, "429": {"description": "too many requests from this address"}}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/kb/": {
            "get": {
                "summary": "citizens' self-service page (热线百科): search, answers, a district selector; no login",
                "tags": ["knowledge"],
                "security": [],
                "responses": {"200": {"description": "text/html"}},
            }
        },
        "/api/kb/public/scopes": {
            "get": {
                "summary": "districts and towns of the published, valid entries (for the page's selector)",
                "tags": ["knowledge"],
                "security": [],
                "responses": _PUBLIC,
            }
        },
        "/api/kb/public/entries": {
            "get": {
                "summary": "question, sanitised answer, category and scope of published, valid entries by id",
                "tags": ["knowledge"],
                "security": [],
                "parameters": [
                    {
                        "name": "ids",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": f"comma-separated entry ids, at most {MAX_IDS}; unknown or expired ones are left out",
                    }
                ],
                "responses": _PUBLIC,
            }
        },
    }
}


def _limited(request: web.Request) -> None:
    limit = request.app[LIMIT]
    where = client_address(request.remote or "", request.headers, limit.trusted)
    wait = limit.limiter.take(where)
    if wait > 0:
        refuse("http", "kb_public_rate", remote=where)
        raise web.HTTPTooManyRequests(
            text=json.dumps({"error": "too many requests", "detail": "查询过于频繁，请稍后再试"}, ensure_ascii=False),
            content_type="application/json",
            headers={"Retry-After": str(int(wait) + 1)},
        )


def _valid(today: dt.date) -> Any:
    return (E.c.state == "published") & or_(E.c.valid_to.is_(None), E.c.valid_to >= today)


async def scopes(request: web.Request) -> web.Response:
    _limited(request)
    svc = request.app[SERVICE]
    stmt = select(E.c.scope).where(_valid(svc.today())).distinct().order_by(E.c.scope)
    async with svc.engine.connect() as conn:
        found = [s for (s,) in await conn.execute(stmt) if s]
    city = [s for s in found if s in CITY_SCOPES]
    return web.json_response({"scopes": city + [s for s in found if s not in CITY_SCOPES], "city": CITY_SCOPES[0]})


async def entries(request: web.Request) -> web.Response:
    _limited(request)
    ids = [i for i in dict.fromkeys(request.query.get("ids", "").split(",")) if i][:MAX_IDS]
    if not ids:
        return web.json_response({"items": []})
    svc = request.app[SERVICE]
    stmt = select(E.c.id, E.c.question, E.c.answer, E.c.category, E.c.scope).where(E.c.id.in_(ids), _valid(svc.today()))
    async with svc.engine.connect() as conn:
        rows = {r.id: r for r in await conn.execute(stmt)}
    items = [
        {"id": i, "question": r.question, "answer": r.answer, "category": r.category, "scope": r.scope}
        for i in ids
        if (r := rows.get(i)) is not None
    ]
    return web.json_response({"items": items})


async def page(_request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "kb.html", headers=HEADERS)


async def _to_page(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/kb/")


def install(app: web.Application, ctx: AppContext, service: KnowledgeService) -> None:
    # A search on the page reads its answers once: twice the search rate leaves room for that and
    # the district list.
    limiter = RateLimiter(2 * service.settings.public_searches_per_minute, 60.0)
    app[LIMIT] = Limit(limiter, networks(ctx.settings.security.trusted_proxies))
    app[SERVICE] = service
    r = app.router
    r.add_get("/kb", _to_page)
    r.add_get("/kb/", page)
    r.add_static("/kb/static", STATIC)
    r.add_get("/api/kb/public/scopes", scopes)
    r.add_get("/api/kb/public/entries", entries)
