"""JSON API of the knowledge base under /api/kb (documented in knowledge/openapi.py)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import BodyPartReader, web

from hotline import auth
from hotline.auth import api_error as _err
from hotline.auth import json_object as _json
from hotline.guard import RateLimiter, client_address, networks, refuse
from knowledge.core.lifecycle import Forbidden, IllegalEvent, allowed
from knowledge.core.model import STATE_LABELS, Actor, Entry, State
from knowledge.core.validate import InvalidEntry
from knowledge.services import ACTIONS, Conflict, KnowledgeService, NotFound, SearchResult

SERVICE = web.AppKey("knowledge", KnowledgeService)
PUBLIC_LIMITER = web.AppKey("knowledge_public_limiter", RateLimiter)
TRUSTED_PROXIES = web.AppKey("knowledge_trusted_proxies", tuple)
STAFF = ("seat", "supervisor", "manager", "dispatcher", "unit", "admin")
EXPORTERS = ("supervisor", "manager", "admin")


def actor_of(request: web.Request) -> Actor:
    acc = request[auth.ACCOUNT]
    return Actor(acc.username, acc.role, acc.unit_id)


def _svc(request: web.Request) -> KnowledgeService:
    return request.app[SERVICE]


def _version(body: dict[str, Any]) -> int | None:
    version = body.pop("version", None)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise _err(web.HTTPBadRequest, "bad request", "version 须为整数")
    return version


def entry_json(entry: Entry, actor: Actor | None = None, today: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id,
        "version": entry.version,
        "state": entry.state.value,
        "state_label": STATE_LABELS[entry.state],
        **entry.content.as_dict(),
        "late": entry.late,
        "submitted_at": entry.submitted_at.isoformat() if entry.submitted_at else None,
        "submit_by": entry.submit_by.isoformat() if entry.submit_by else None,
        "published_at": entry.published_at.isoformat() if entry.published_at else None,
        "updated_at": entry.updated_at.isoformat(),
    }
    if today is not None:
        out["expired"] = entry.expired_on(today)
    if actor is not None:
        out["allowed_actions"] = allowed(entry, actor)
    return out


def result_json(res: SearchResult) -> dict[str, Any]:
    return {
        "query": res.query,
        "cut": res.cut,
        "terms": list(res.terms),
        "took_ms": res.ms,
        "results": [
            {"id": h.id, "score": h.score, "question": h.question, "scope": h.scope, "expired": h.expired}
            for h in res.hits
        ],
    }


async def _change(request: web.Request, coro: Any) -> Entry:
    try:
        return await coro  # type: ignore[no-any-return]
    except NotFound as exc:
        raise _err(web.HTTPNotFound, "not found", str(exc)) from None
    except InvalidEntry as exc:
        raise _err(web.HTTPUnprocessableEntity, "invalid", str(exc), field=exc.field) from None
    except Forbidden as exc:
        raise _err(web.HTTPForbidden, "forbidden", str(exc)) from None
    except (IllegalEvent, Conflict) as exc:
        raise _err(web.HTTPConflict, "conflict", str(exc)) from None


def _limit(request: web.Request) -> int | None:
    raw = request.query.get("limit")
    if raw is None:
        return None
    try:
        value = int(raw)
        if not 1 <= value <= 200:
            raise ValueError
    except ValueError:
        raise _err(web.HTTPBadRequest, "bad request", "limit 须为 1 到 200 的整数") from None
    return value


async def _search_args(request: web.Request) -> tuple[str, str | None, int | None]:
    """From the query string (GET) or a JSON body (POST: a query too long for a URL)."""
    if request.method == "POST":
        body = await _json(request)
        q, scope, limit = body.get("q", ""), body.get("scope"), body.get("limit")
        if not isinstance(q, str) or not isinstance(scope, str | None):
            raise _err(web.HTTPBadRequest, "bad request", "q 与 scope 须为字符串")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 200):
            raise _err(web.HTTPBadRequest, "bad request", "limit 须为 1 到 200 的整数")
        return q, scope or None, limit
    return request.query.get("q", ""), request.query.get("scope") or None, _limit(request)


@auth.require_roles(*STAFF)
async def search(request: web.Request) -> web.Response:
    q, scope, limit = await _search_args(request)
    res = await _svc(request).search(q, scope, "seat", limit)
    return web.json_response(result_json(res))


async def public_search(request: web.Request) -> web.Response:
    """Citizens' self-service: no login, a rate per address, never an expired entry."""
    where = client_address(request.remote or "", request.headers, request.app[TRUSTED_PROXIES])
    wait = request.app[PUBLIC_LIMITER].take(where)
    if wait > 0:
        refuse("http", "kb_public_rate", remote=where)
        raise web.HTTPTooManyRequests(
            text=json.dumps({"error": "too many requests", "detail": "查询过于频繁，请稍后再试"}, ensure_ascii=False),
            content_type="application/json",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    q, scope, limit = await _search_args(request)
    res = await _svc(request).search(q, scope, "public", limit)
    body = result_json(res)
    for hit in body["results"]:
        hit.pop("expired")
    return web.json_response(body)


@auth.require_roles(*STAFF)
async def list_entries(request: web.Request) -> web.Response:
    svc = _svc(request)
    state = request.query.get("state") or None
    if state is not None and state not in {s.value for s in State}:
        raise _err(web.HTTPBadRequest, "bad request", f"state: one of {', '.join(s.value for s in State)}")
    rows = await svc.list(state, request.query.get("unit") or None, _limit(request) or 200)
    today, actor = svc.today(), actor_of(request)
    return web.json_response({"items": [entry_json(e, actor, today) for e in rows]})


@auth.require_roles("unit", "admin")
async def create_entry(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    body = await _json(request)
    if actor.role == "unit" and "unit" not in body:
        body["unit"] = actor.unit
    entry = await _change(request, svc.create(body, actor))
    return web.json_response(entry_json(entry, actor, svc.today()), status=201)


@auth.require_roles(*STAFF)
async def get_entry(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    entry_id = request.match_info["id"]
    entry = await _change(request, svc.get(entry_id))
    out = entry_json(entry, actor, svc.today())
    out["history"] = await svc.history(entry_id)
    return web.json_response(out)


@auth.require_roles("unit", "admin")
async def edit_entry(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    body = await _json(request)
    version = _version(body)
    entry = await _change(request, svc.edit(request.match_info["id"], body, actor, version))
    return web.json_response(entry_json(entry, actor, svc.today()))


@auth.require_roles(*STAFF)
async def do_action(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise _err(web.HTTPNotFound, "not found", f"未知操作 {action}；可用：{', '.join(ACTIONS)}")
    body = await _json(request)
    version = _version(body)
    entry = await _change(request, svc.act(request.match_info["id"], action, body, actor, version))
    return web.json_response(entry_json(entry, actor, svc.today()))


@auth.require_roles("admin")
async def import_entries(request: web.Request) -> web.Response:
    """JSON Lines as ``{"jsonl": "..."}`` or a multipart ``file``; 200 with the report, 422 when
    any line was refused (the good lines are imported all the same)."""
    svc = _svc(request)
    max_bytes = svc.settings.import_max_bytes
    if request.content_length and request.content_length > max_bytes:
        raise _err(web.HTTPRequestEntityTooLarge, "too large", f"导入文件不得超过 {max_bytes} 字节")
    text = ""
    if request.content_type == "multipart/form-data":
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, BodyPartReader) and part.name == "file":
                    text = (await part.read(decode=False)).decode("utf-8", errors="replace")
        except web.HTTPException:
            raise
        except Exception as exc:  # no boundary, a body that is not multipart at all ...
            refuse("http", "bad_multipart", path=request.path, detail=f"{type(exc).__name__}: {exc}"[:200])
            raise _err(web.HTTPBadRequest, "bad request", "multipart 格式不正确：须有字段 file") from None
    else:
        body = await _json(request)
        if not isinstance(body.get("jsonl"), str):
            raise _err(web.HTTPBadRequest, "bad request", "须提供 jsonl（JSON Lines 文本）或 multipart 字段 file")
        text = body["jsonl"]
    report = await svc.import_lines(text.splitlines(), actor_of(request))
    return web.json_response(report.as_dict(), status=422 if report.refused else 200)


@auth.require_roles(*EXPORTERS)
async def export_entries(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson; charset=utf-8"})
    await resp.prepare(request)
    async for line in _svc(request).export_lines():
        await resp.write((line + "\n").encode())
    await resp.write_eof()
    return resp


def add_routes(app: web.Application, public_per_minute: int, trusted: list[str]) -> None:
    app[PUBLIC_LIMITER] = RateLimiter(public_per_minute, 60.0)
    app[TRUSTED_PROXIES] = networks(trusted)
    r = app.router
    r.add_get("/api/kb/search", search)
    r.add_post("/api/kb/search", search)
    r.add_get("/api/kb/public/search", public_search)
    r.add_post("/api/kb/public/search", public_search)
    r.add_get("/api/kb/entries", list_entries)
    r.add_post("/api/kb/entries", create_entry)
    r.add_get("/api/kb/entries/{id}", get_entry)
    r.add_put("/api/kb/entries/{id}", edit_entry)
    r.add_post("/api/kb/entries/{id}/actions/{action}", do_action)
    r.add_post("/api/kb/import", import_entries)
    r.add_get("/api/kb/export", export_entries)
