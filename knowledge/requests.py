"""The knowledge base's requests under /api/kb (issue 22 parts 2, 6 and 8): seats' questions to
units, corrections of entries, emergency Q&A lists for the consoles, the use of entries and the
units' KPIs. Installed by ``knowledge.plugin`` as one of its parts; documented in
``knowledge/requests_openapi.py`` and docs/knowledge.md."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, NoReturn, TypeVar

from aiohttp import web

from hotline import auth
from hotline.context import AppContext
from knowledge.core import requests as rq
from knowledge.core.lifecycle import Forbidden, IllegalEvent
from knowledge.core.model import UNIT, Actor
from knowledge.core.sanitize import sanitize_html
from knowledge.core.validate import ENTRY_ID, InvalidEntry
from knowledge.core.validate import UNIT as UNIT_CODE
from knowledge.requests_kpi import kpi_report, table_html
from knowledge.requests_openapi import OPENAPI as OPENAPI
from knowledge.requests_store import BadInput, RequestService, emergency_items
from knowledge.services import Conflict, KnowledgeService, NotFound

logger = logging.getLogger(__name__)
T = TypeVar("T")

REQUESTS = web.AppKey("knowledge_requests", RequestService)
STAFF = ("seat", "supervisor", "manager", "dispatcher", "unit", "admin")
ASKERS = ("seat", "supervisor")
EMERGENCY_EDITORS = ("unit", "supervisor", "admin")
KPI_READERS = ("supervisor", "manager", "admin", "unit")
SEARCH_PATH = "/api/kb/search"

__all__ = ["OPENAPI", "REQUESTS", "install"]


# ---- edge helpers --------------------------------------------------------------------------------
def _refuse(request: web.Request, cls: type[web.HTTPException], detail: str, **extra: Any) -> NoReturn:
    logger.info(
        "kb request refused",
        extra={"path": request.path, "method": request.method, "status": cls.status_code, "detail": detail},
    )
    error = {400: "bad request", 403: "forbidden", 404: "not found", 409: "conflict"}.get(cls.status_code, "error")
    body = json.dumps({"error": error, "detail": detail, **extra}, ensure_ascii=False)
    raise cls(text=body, content_type="application/json")


async def _run(request: web.Request, work: Awaitable[T]) -> T:
    try:
        return await work
    except BadInput as exc:
        _refuse(request, web.HTTPBadRequest, str(exc))
    except InvalidEntry as exc:
        _refuse(request, web.HTTPBadRequest, str(exc), field=exc.field)
    except NotFound as exc:
        _refuse(request, web.HTTPNotFound, str(exc))
    except Forbidden as exc:
        _refuse(request, web.HTTPForbidden, f"无权操作：{exc}")
    except rq.NotCorrected as exc:
        _refuse(request, web.HTTPConflict, str(exc))
    except IllegalEvent as exc:
        _refuse(request, web.HTTPConflict, f"当前状态不允许此操作：{exc}")
    except Conflict as exc:
        _refuse(request, web.HTTPConflict, str(exc))


def _actor(request: web.Request) -> Actor:
    acc = request[auth.ACCOUNT]
    return Actor(acc.username, acc.role, acc.unit_id)


def _svc(request: web.Request) -> RequestService:
    return request.app[REQUESTS]


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        _refuse(request, web.HTTPBadRequest, "请求体须为 JSON 对象")
    if not isinstance(body, dict):
        _refuse(request, web.HTTPBadRequest, "请求体须为 JSON 对象")
    return body


def _text(request: web.Request, body: dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        _refuse(request, web.HTTPBadRequest, f"{name} 须为非空字符串")
    if len(value.strip()) > limit:
        _refuse(request, web.HTTPBadRequest, f"{name} 不得超过 {limit} 字")
    return value.strip()


def _optional_id(request: web.Request, body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not ENTRY_ID.match(value):
        _refuse(request, web.HTTPBadRequest, f"{name} 须为 1-64 位字母、数字或 _ . : -")
    return value


def _unit_param(request: web.Request, given: str | None) -> str | None:
    """A unit's user sees its own unit only; naming another is refused."""
    actor = _actor(request)
    if given is not None and not UNIT_CODE.match(given):
        _refuse(request, web.HTTPBadRequest, "unit 须为单位编码（1-32 字，不含空白与 / < >）")
    if actor.role == UNIT:
        if given and given != actor.unit:
            _refuse(request, web.HTTPForbidden, f"单位用户只能查看本单位（{actor.unit}）的数据")
        return actor.unit or "\x00"
    return given or None


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "200")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        _refuse(request, web.HTTPBadRequest, "limit 须为 1 到 500 的整数")
    return int(raw)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def query_json(q: rq.Query, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": q.id,
        "question": q.question,
        "unit": q.unit,
        "entry_id": q.entry_id,
        "contact_id": q.contact_id,
        "state": q.state.value,
        "state_label": rq.QUERY_LABELS[q.state],
        "overdue": q.overdue(now),
        "asked_by": q.asked_by,
        "asked_at": _iso(q.asked_at),
        "due_at": _iso(q.due_at),
        "provisional": q.provisional,
        "answer": q.answer,
        "answered_by": q.answered_by,
        "answered_at": _iso(q.answered_at),
        "late": q.late,
    }


def flag_json(f: rq.Flag, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": f.id,
        "entry_id": f.entry_id,
        "unit": f.unit,
        "reason": f.reason,
        "state": f.state.value,
        "state_label": rq.FLAG_LABELS[f.state],
        "overdue": f.overdue(now),
        "raised_by": f.raised_by,
        "raised_at": _iso(f.raised_at),
        "due_at": _iso(f.due_at),
        "provisional": f.provisional,
        "note": f.note,
        "resolved_by": f.resolved_by,
        "resolved_at": _iso(f.resolved_at),
        "late": f.late,
    }


def _now(request: web.Request) -> dt.datetime:
    return _svc(request).kb.clock()


# ---- questions to units ------------------------------------------------------------------------
@auth.require_roles(*ASKERS)
async def ask(request: web.Request) -> web.Response:
    body = await _body(request)
    question = _text(request, body, "question", rq.MAX_QUESTION)
    unit = _text(request, body, "unit", 32)
    entry_id, contact_id = _optional_id(request, body, "entry_id"), _optional_id(request, body, "contact_id")
    q = await _run(request, _svc(request).ask(question, unit, _actor(request), entry_id, contact_id))
    return web.json_response(query_json(q, _now(request)), status=201)


@auth.require_roles(*STAFF)
async def list_queries(request: web.Request) -> web.Response:
    state = request.query.get("state") or None
    if state not in (None, "open", "answered", "overdue"):
        _refuse(request, web.HTTPBadRequest, "state 须为 open、answered 或 overdue")
    unit = _unit_param(request, request.query.get("unit"))
    rows = await _svc(request).list_queries(unit, state, _limit(request))
    now = _now(request)
    return web.json_response({"items": [query_json(q, now) for q in rows]})


@auth.require_roles(*STAFF)
async def get_query(request: web.Request) -> web.Response:
    q = await _run(request, _svc(request).get_query(request.match_info["id"]))
    actor = _actor(request)
    if actor.role == UNIT and q.unit != actor.unit:
        _refuse(request, web.HTTPForbidden, f"无权查看：求助属于单位 {q.unit}")
    return web.json_response(query_json(q, _now(request)))


@auth.require_roles("unit", "admin")
async def answer(request: web.Request) -> web.Response:
    body = await _body(request)
    text = sanitize_html(_text(request, body, "answer", rq.MAX_ANSWER))
    if not text:
        _refuse(request, web.HTTPBadRequest, "answer 须有文字内容")
    make_entry = body.get("make_entry", False)
    if not isinstance(make_entry, bool):
        _refuse(request, web.HTTPBadRequest, "make_entry 须为 true 或 false")
    extra = body.get("entry") or {}
    if not isinstance(extra, dict):
        _refuse(request, web.HTTPBadRequest, "entry 须为对象（category、scope 等条目字段）")
    q, entry = await _run(
        request, _svc(request).answer(request.match_info["id"], text, _actor(request), extra if make_entry else None)
    )
    out = query_json(q, _now(request))
    out["entry"] = {"id": entry.id, "state": entry.state.value, "version": entry.version} if entry else None
    return web.json_response(out)


# ---- corrections -------------------------------------------------------------------------------
@auth.require_roles(*ASKERS)
async def raise_flag(request: web.Request) -> web.Response:
    body = await _body(request)
    reason = _text(request, body, "reason", rq.MAX_REASON)
    f = await _run(request, _svc(request).flag(request.match_info["id"], reason, _actor(request)))
    return web.json_response(flag_json(f, _now(request)), status=201)


@auth.require_roles(*STAFF)
async def list_flags(request: web.Request) -> web.Response:
    state = request.query.get("state") or None
    if state is not None and state not in {s.value for s in rq.FlagState}:
        _refuse(request, web.HTTPBadRequest, "state 须为 open、corrected 或 dismissed")
    entry = request.query.get("entry") or None
    if entry is not None and not ENTRY_ID.match(entry):
        _refuse(request, web.HTTPBadRequest, "entry 须为条目编号")
    unit = _unit_param(request, request.query.get("unit"))
    rows = await _svc(request).list_flags(entry, unit, state, _limit(request))
    now = _now(request)
    return web.json_response({"items": [flag_json(f, now) for f in rows]})


@auth.require_roles("unit", "admin", "supervisor", "manager")
async def resolve_flag(request: web.Request) -> web.Response:
    body = await _body(request)
    note = _text(request, body, "note", rq.MAX_REASON, required=False)
    dismiss = body.get("dismiss", False)
    if not isinstance(dismiss, bool):
        _refuse(request, web.HTTPBadRequest, "dismiss 须为 true 或 false")
    f = await _run(request, _svc(request).resolve(request.match_info["id"], note, dismiss, _actor(request)))
    return web.json_response(flag_json(f, _now(request)))


@web.middleware
async def flags_in_search(request: web.Request, handler: Any) -> web.StreamResponse:
    """Seats' search results carry ``flag`` (null, or the open correction's id, reason and time),
    so a console warns before an answer under correction is read out."""
    resp = await handler(request)
    if request.path != SEARCH_PATH or resp.status != 200 or not isinstance(resp, web.Response):
        return resp
    if resp.content_type != "application/json" or not isinstance(resp.body, bytes):
        return resp
    data = json.loads(resp.body)
    hits = data.get("results") or []
    found = await request.app[REQUESTS].open_flag_rows(h["id"] for h in hits)
    for hit in hits:
        f = found.get(hit["id"])
        hit["flag"] = {"id": f.id, "reason": f.reason, "raised_at": _iso(f.raised_at)} if f else None
    resp.text = json.dumps(data, ensure_ascii=False)
    return resp


# ---- emergency lists and use of entries --------------------------------------------------------
@auth.require_roles(*EMERGENCY_EDITORS)
async def publish_emergency(request: web.Request) -> web.Response:
    body = await _body(request)
    title = _text(request, body, "title", 200)
    try:
        items = emergency_items(body.get("items"))
    except BadInput as exc:
        _refuse(request, web.HTTPBadRequest, str(exc))
    out = await _run(request, _svc(request).publish_emergency(title, items, _actor(request)))
    return web.json_response(out, status=201)


@auth.require_roles(*EMERGENCY_EDITORS)
async def withdraw_emergency(request: web.Request) -> web.Response:
    out = await _run(request, _svc(request).withdraw_emergency(request.match_info["id"], _actor(request)))
    return web.json_response(out)


@auth.require_roles(*STAFF)
async def active_emergency(request: web.Request) -> web.Response:
    return web.json_response({"lists": await _svc(request).active_emergency()})


@auth.require_roles(*ASKERS)
async def entry_used(request: web.Request) -> web.Response:
    entry_id = request.match_info["id"]
    if not ENTRY_ID.match(entry_id):
        _refuse(request, web.HTTPBadRequest, "条目编号格式不对")
    await _run(request, _svc(request).used(entry_id))
    return web.Response(status=204)


# ---- KPIs --------------------------------------------------------------------------------------
@auth.require_roles(*KPI_READERS)
async def kpi(request: web.Request) -> web.Response:
    from workorders.api import parse_period  # the period rules of every KPI report

    svc = _svc(request)
    tz = svc.kb.calendar().tz
    today = svc.kb.today()
    try:
        start, end = parse_period(
            request.query.get("from") or today.replace(day=1).isoformat(),
            request.query.get("to") or today.isoformat(),
            tz,
        )
    except ValueError as exc:
        _refuse(request, web.HTTPBadRequest, f"统计区间有误：{exc}")
    unit = _unit_param(request, request.query.get("unit"))
    if unit and request.query.get("unit"):
        await _run(request, svc.check_unit(unit))
    return web.json_response(await kpi_report(svc.kb, start, end, unit))


def _page_section(svc: RequestService) -> Any:
    async def section(start: dt.datetime, end: dt.datetime, unit: str | None) -> str:
        return table_html(await kpi_report(svc.kb, start, end, unit))

    return section


# ---- wiring ------------------------------------------------------------------------------------
def install(app: web.Application, ctx: AppContext, service: KnowledgeService) -> None:
    deps = ctx.deps

    async def directory() -> Iterable[str]:
        return (await deps.workorders.directory()).keys() if deps.workorders is not None else ()

    svc = RequestService(service, deps.bus, directory)
    service.open_flags = svc.open_flags  # the consoles' correction warnings (knowledge.api)
    app[REQUESTS] = svc
    app.middlewares.append(flags_in_search)
    r = app.router
    r.add_post("/api/kb/queries", ask)
    r.add_get("/api/kb/queries", list_queries)
    r.add_get("/api/kb/queries/{id}", get_query)
    r.add_post("/api/kb/queries/{id}/answer", answer)
    r.add_post("/api/kb/entries/{id}/flags", raise_flag)
    r.add_get("/api/kb/flags", list_flags)
    r.add_post("/api/kb/flags/{id}/resolve", resolve_flag)
    r.add_get("/api/kb/emergency", active_emergency)
    r.add_post("/api/kb/emergency", publish_emergency)
    r.add_delete("/api/kb/emergency/{id}", withdraw_emergency)
    r.add_post("/api/kb/entries/{id}/used", entry_used)
    r.add_get("/api/kb/kpi", kpi)
    deps.kpi_sections.append(_page_section(svc))  # the units' table on the work orders' KPI page
