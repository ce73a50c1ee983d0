"""JSON API of work orders under /api/workorders (documented in workorders/openapi.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from aiohttp import BodyPartReader, web

from hotline import auth
from hotline.auth import api_error as _err
from hotline.auth import json_object as _json
from workorders.admin import InputError, utc
from workorders.core import deadlines as dl
from workorders.core import kpi
from workorders.core.calendar import CalendarError, YearNotCovered
from workorders.core.deadlines import RuleViolation
from workorders.core.lifecycle import ACTIONS, Forbidden, IllegalAction
from workorders.core.model import Actor, Role, order_from_dict
from workorders.models import WoAttachment, WoAudit, WoOrder
from workorders.notices import Notices
from workorders.reports import kpi_report, parse_period
from workorders.services import Conflict, NotFound, WorkOrderService, state_label

logger = logging.getLogger(__name__)

SERVICE = web.AppKey("workorders", WorkOrderService)
NOTICES = web.AppKey("workorder_notices", Notices)
ANY = ("seat", "supervisor", "manager", "dispatcher", "unit", "admin")


def _too_large(max_bytes: int, size: int) -> web.HTTPException:
    body = json.dumps({"error": "too large", "detail": f"附件不得超过 {max_bytes} 字节"}, ensure_ascii=False)
    return web.HTTPRequestEntityTooLarge(max_bytes, size, text=body, content_type="application/json")


def actor_of(request: web.Request) -> Actor:
    acc = request[auth.ACCOUNT]
    return Actor(acc.username, Role(acc.role), acc.unit_id, leader=bool(acc.unit_leader))


def _svc(request: web.Request) -> WorkOrderService:
    return request.app[SERVICE]


MAX_ID = 2**31 - 1  # the id columns' range on PostgreSQL; anything beyond names nothing


def _id(request: web.Request, key: str = "id") -> int:
    try:
        value = int(request.match_info[key])
    except ValueError:
        raise _err(web.HTTPNotFound, "not found", "工单编号须为整数") from None
    if not 1 <= value <= MAX_ID:
        raise _err(web.HTTPNotFound, "not found", f"编号 {value} 不存在")
    return value


def _local(svc: WorkOrderService, moment: dt.datetime | None) -> str | None:
    m = utc(moment)
    return m.astimezone(svc.settings.tz).isoformat() if m else None


def _due(svc: WorkOrderService, row: WoOrder, now: dt.datetime) -> dict[str, Any] | None:
    """The deadline the order is waiting on now, with working time left and its status."""
    order = order_from_dict(row.core)
    d = order.deadlines
    if d is None:
        return None
    which = {
        "dispatched": "sign_by",
        "return_requested": "return_by",
        "handling": "reply_by",
        "extension_requested": "reply_by",
        "leader_review": "reply_by",  # the leader's approval counts in the unit's reply limit
    }.get(row.state)
    if which is None:
        return None
    due: dt.datetime = getattr(d, which)
    cal = svc.cal()
    left = cal.working_between(now, due, True) if now < due else -(now - due)
    return {
        "deadline": which,
        "due": due.astimezone(svc.settings.tz).isoformat(),
        "working_seconds_left": int(left.total_seconds()),
        "status": dl.status(cal, d.dispatched_at, due, now, svc.settings.limits()),
        "provisional": d.provisional,
    }


def summary(svc: WorkOrderService, row: WoOrder, actor: Actor, now: dt.datetime) -> dict[str, Any]:
    hide = not svc.may_see_citizen(row, actor)
    return {
        "id": row.id,
        "version": row.version,
        "title": row.title,
        "state": row.state,
        "state_label": state_label(row.state),
        "type": row.order_type,
        "urgency": row.urgency,
        "category": row.category,
        "lead_unit": row.lead_unit,
        "channel": row.channel,
        "citizen_phone": "（保密）" if hide else row.citizen_phone,
        "created_at": _local(svc, row.created_at),
        "due": _due(svc, row, now),
    }


def _audit(svc: WorkOrderService, a: WoAudit) -> dict[str, Any]:
    return {
        "at": _local(svc, a.at),
        "actor": a.actor,
        "role": a.role,
        "action": a.action,
        "from": a.from_state,
        "to": a.to_state,
        "reason": a.reason,
        "data": a.data,
    }


def _att(svc: WorkOrderService, a: WoAttachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "uploaded_by": a.uploaded_by,
        "uploaded_at": _local(svc, a.uploaded_at),
        "url": f"/api/workorders/{a.order_id}/attachments/{a.id}",
    }


async def detail(svc: WorkOrderService, row: WoOrder, actor: Actor) -> dict[str, Any]:
    now = svc.clock()
    order = order_from_dict(row.core)
    hide = not svc.may_see_citizen(row, actor)
    approval = await svc.approval(row, actor)
    out = summary(svc, row, actor, now)
    out.update(
        {
            "content": row.content,
            "citizen_name": "（保密）" if hide else row.citizen_name,
            "address": row.address,
            "contact_id": row.contact_id,
            "confidential": row.confidential,
            "co_units": list(order.co_units),
            "source_level": order.source_level.value,
            "deadlines": order.deadlines.as_dict() if order.deadlines else None,
            "order": row.core,
            "reply": order.reply,
            "approval": approval,
            "allowed_actions": svc.allowed_actions(row, actor, approval["required"] if approval else None),
            "history": [_audit(svc, a) for a in await svc.history(row.id)],
            "attachments": [_att(svc, a) for a in await svc.attachments(row.id)],
        }
    )
    return out


@auth.require_roles(*ANY)
async def list_orders(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    try:
        limit = int(request.query.get("limit", "200"))
        if not 1 <= limit <= 1000:
            raise ValueError
    except ValueError:
        raise _err(web.HTTPBadRequest, "bad request", "limit 须为 1 到 1000 的整数") from None
    rows = await svc.list_orders(actor, request.query.get("state") or None, request.query.get("unit") or None, limit)
    now = svc.clock()
    return web.json_response({"items": [summary(svc, r, actor, now) for r in rows]})


@auth.require_roles("seat", "dispatcher")
async def create_order(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    body = await _json(request)
    try:
        order_id = await svc.create(body, actor)
    except InputError as exc:
        raise _err(web.HTTPUnprocessableEntity, "invalid", str(exc)) from None
    except RuleViolation as exc:
        raise _err(web.HTTPUnprocessableEntity, "rule", str(exc), rule=exc.rule) from None
    return web.json_response(await detail(svc, await svc.get(order_id), actor), status=201)


async def _visible(request: web.Request) -> WoOrder:
    svc, actor = _svc(request), actor_of(request)
    try:
        row = await svc.get(_id(request))
    except NotFound as exc:
        raise _err(web.HTTPNotFound, "not found", str(exc)) from None
    if not svc.may_see(row, actor):
        raise _err(web.HTTPNotFound, "not found", f"工单 {row.id} 不存在")
    return row


@auth.require_roles(*ANY)
async def get_order(request: web.Request) -> web.Response:
    row = await _visible(request)
    return web.json_response(await detail(_svc(request), row, actor_of(request)))


@auth.require_roles(*ANY)
async def do_action(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise _err(web.HTTPNotFound, "not found", f"未知操作 {action}；可用：{', '.join(sorted(ACTIONS))}")
    row = await _visible(request)
    body = await _json(request)
    version = body.pop("version", None)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise _err(web.HTTPBadRequest, "bad request", "version 须为整数")
    try:
        await svc.act(row.id, action, body, actor, version)
    except IllegalAction as exc:
        raise _err(web.HTTPConflict, "illegal action", str(exc)) from None
    except Conflict as exc:
        raise _err(web.HTTPConflict, "conflict", str(exc)) from None
    except Forbidden as exc:
        raise _err(web.HTTPForbidden, "forbidden", str(exc)) from None
    except RuleViolation as exc:
        raise _err(web.HTTPUnprocessableEntity, "rule", str(exc), rule=exc.rule) from None
    return web.json_response(await detail(svc, await svc.get(row.id), actor))


@auth.require_roles(*ANY)
async def upload(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    row = await _visible(request)
    max_bytes = svc.settings.attachment_max_bytes
    if request.content_length and request.content_length > max_bytes + 64 * 1024:
        raise _too_large(max_bytes, request.content_length)
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError):
        raise _err(web.HTTPBadRequest, "bad request", "须以 multipart/form-data 上传（字段 kind 与 file）") from None
    kind, data, filename, ctype = "", b"", "", ""
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "kind":
            kind = (await part.text()).strip()
        elif part.name == "file":
            filename = part.filename or "file"
            ctype = part.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
            chunks, size = [], 0
            while chunk := await part.read_chunk(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes, size)
                chunks.append(chunk)
            data = b"".join(chunks)
    try:
        att = await svc.add_attachment(row.id, kind, filename, ctype, data, actor)
    except InputError as exc:
        raise _err(web.HTTPUnprocessableEntity, "invalid", str(exc)) from None
    except IllegalAction as exc:
        raise _err(web.HTTPConflict, "illegal action", str(exc)) from None
    except Forbidden as exc:
        raise _err(web.HTTPForbidden, "forbidden", str(exc)) from None
    return web.json_response(_att(svc, att), status=201)


@auth.require_roles(*ANY)
async def download(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    row = await _visible(request)
    att_id = _id(request, "aid")
    att = next((a for a in await svc.attachments(row.id) if a.id == att_id), None)
    if att is None:
        raise _err(web.HTTPNotFound, "not found", f"附件 {att_id} 不存在")
    resp = web.FileResponse(svc.attachment_path(att))
    resp.content_type = att.content_type
    resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(att.filename)}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@auth.require_roles(*ANY)
async def units(request: web.Request) -> web.Response:
    svc = _svc(request)
    d = await svc.directory()
    return web.json_response(
        {
            "units": [{"code": u.code, "name": u.name, "tier": u.tier, "active": u.active} for u in d.values()],
            "categories": await svc.categories(),
        }
    )


@auth.require_roles("admin", "dispatcher")
async def put_units(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    body = await _json(request)
    try:
        await svc.put_directory(body.get("units", []), body.get("categories", []))
    except (InputError, AttributeError, TypeError) as exc:
        raise _err(web.HTTPUnprocessableEntity, "invalid", str(exc)) from None
    return await units(request)


@auth.require_roles(*ANY)
async def deadlines(request: web.Request) -> web.Response:
    svc = _svc(request)
    q = request.query
    try:
        order_type = dl.OrderType(q.get("type", ""))
        urgency = dl.Urgency(q.get("urgency", "general"))
        when = dt.datetime.fromisoformat(q.get("dispatched", ""))
    except ValueError:
        raise _err(web.HTTPBadRequest, "bad request", "需要 type、dispatched（ISO-8601）参数，urgency 可选") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=svc.settings.tz)
    try:
        result = dl.compute_deadlines(svc.cal(), svc.settings.limits(), order_type, urgency, when)
    except (YearNotCovered, CalendarError) as exc:
        raise _err(web.HTTPUnprocessableEntity, "calendar", str(exc)) from None
    return web.json_response(result.as_dict())


@auth.require_roles("supervisor", "manager", "dispatcher", "admin", "unit")
async def kpis(request: web.Request) -> web.Response:
    svc, actor = _svc(request), actor_of(request)
    q = request.query
    try:
        start, end = parse_period(q.get("from", ""), q.get("to", ""), svc.settings.tz)
    except ValueError as exc:
        raise _err(web.HTTPBadRequest, "bad request", str(exc)) from None
    unit = actor.unit if actor.role is Role.UNIT else (q.get("unit") or None)
    options = kpi.KpiOptions(
        count_basically_satisfied=q.get("basic_satisfied", "true").lower() != "false",
        repeat_window_days=svc.settings.repeat_window_days,
        repeat_match_address=q.get("repeat_by_address", "false").lower() == "true",
    )
    return web.json_response(await kpi_report(svc, start, end, unit, options))


@auth.require_roles(*ANY)
async def list_notices(request: web.Request) -> web.Response:
    """The unread count and the newest notices of the caller's unit, or of the supervisors."""
    notices, actor = request.app[NOTICES], actor_of(request)
    if not notices.may_read(actor):
        raise _err(web.HTTPForbidden, "forbidden", "只有承办单位和督办人员可查看预警通知")
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), 200)
    except ValueError:
        raise _err(web.HTTPBadRequest, "invalid", "limit 须为 1 到 200 的整数") from None
    unread, rows = await notices.listing(actor, request.query.get("unread") in ("1", "true"), limit)
    return web.json_response({"unread": unread, "notices": rows}, dumps=_dumps)


@auth.require_roles(*ANY)
async def read_notice(request: web.Request) -> web.Response:
    notices, actor = request.app[NOTICES], actor_of(request)
    done = await notices.mark_read(_id(request), actor)
    if done is None:
        raise _err(web.HTTPNotFound, "not found", "通知不存在")
    if not done:
        raise _err(web.HTTPForbidden, "forbidden", "不能标记其他单位的通知")
    return web.json_response({"ok": True})


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/workorders", list_orders)
    r.add_post("/api/workorders", create_order)
    r.add_get("/api/workorders/units", units)
    r.add_put("/api/workorders/units", put_units)
    r.add_get("/api/workorders/deadlines", deadlines)
    r.add_get("/api/workorders/kpi", kpis)
    r.add_get("/api/workorders/notices", list_notices)
    r.add_post(r"/api/workorders/notices/{id:\d+}/read", read_notice)
    r.add_get(r"/api/workorders/{id:\d+}", get_order)
    r.add_post(r"/api/workorders/{id:\d+}/actions/{action}", do_action)
    r.add_post(r"/api/workorders/{id:\d+}/attachments", upload)
    r.add_get(r"/api/workorders/{id:\d+}/attachments/{aid:\d+}", download)
