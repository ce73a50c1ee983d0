"""JSON API under /api/supervision (documented in supervision/openapi.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web

from hotline import auth
from hotline.auth import api_error as _err
from hotline.auth import json_object as _json
from supervision.core.lifecycle import Forbidden, IllegalTransition, InvalidInput, allowed
from supervision.core.measure import ClosureOptions
from supervision.core.model import (
    LETTER_STATE_LABELS,
    LEVEL_LABELS,
    RESULT_LABELS,
    STATE_LABELS,
    Actor,
    FollowUp,
    LetterState,
    Level,
    State,
    Supervision,
)
from supervision.letters import ConfirmationNeeded, LetterService
from supervision.models import SvLetter
from supervision.services import MAX_ID, Conflict, LedgerRow, NotFound, SupervisionService, utc
from workorders.api import parse_period

SERVICE = web.AppKey("supervision", SupervisionService)
LETTERS = web.AppKey("supervision_letters", LetterService)
STAFF = ("supervisor", "admin", "unit")
SUPERVISORS = ("supervisor", "admin")
T = TypeVar("T")


def actor_of(request: web.Request) -> Actor:
    acc = request[auth.ACCOUNT]
    return Actor(acc.username, acc.role, acc.unit_id)


async def guarded(coro: Awaitable[T]) -> T:
    """The service's refusals as API errors: 400, 403, 404, 409."""
    try:
        return await coro
    except InvalidInput as exc:
        raise _err(web.HTTPBadRequest, "invalid", str(exc)) from None
    except Forbidden as exc:
        raise _err(web.HTTPForbidden, "forbidden", str(exc)) from None
    except NotFound as exc:
        raise _err(web.HTTPNotFound, "not found", str(exc)) from None
    except ConfirmationNeeded as exc:
        raise _err(
            web.HTTPConflict, "confirmation required", str(exc), count=exc.count, cap=exc.cap, confirm=exc.token
        ) from None
    except (IllegalTransition, Conflict) as exc:
        raise _err(web.HTTPConflict, "conflict", str(exc)) from None


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def supervision_json(sup: Supervision, actor: Actor | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sup.id,
        "version": sup.version,
        "state": sup.state.value,
        "state_label": STATE_LABELS[sup.state],
        "level": sup.level.value,
        "level_label": LEVEL_LABELS[sup.level],
        "unit": sup.unit,
        "order_ids": list(sup.order_ids),
        "matter": sup.matter,
        "instructions": sup.instructions,
        "opened_by": sup.opened_by,
        "opened_at": sup.opened_at.isoformat(),
        "deadline": sup.deadline.isoformat(),
        "provisional": sup.provisional,
        "closed_at": _iso(sup.closed_at),
        "closed_by": sup.closed_by,
        "result": sup.result.value if sup.result else None,
        "result_label": RESULT_LABELS[sup.result] if sup.result else None,
        "reason": sup.reason,
    }
    if actor is not None:
        out["allowed_actions"] = allowed(sup, actor)
    return out


def follow_up_json(f: FollowUp) -> dict[str, Any]:
    return {"at": f.at.isoformat(), "actor": f.actor, "role": f.role, "action": f.action, "text": f.text}


def ledger_json(row: LedgerRow) -> dict[str, Any]:
    return {
        **supervision_json(row.supervision),
        "orders": row.orders,
        "days_left": row.left.days,
        "overdue": row.left.overdue,
        "days_provisional": row.left.provisional,
        "last_follow_up": follow_up_json(row.last) if row.last else None,
    }


def letter_json(row: SvLetter, now: dt.datetime) -> dict[str, Any]:
    state = LetterState(row.state)
    due = utc(row.deadline)
    return {
        "id": row.id,
        "number": row.number,
        "rule": row.rule,
        "unit": row.unit,
        "unit_name": row.unit_name,
        "facts": row.facts,
        "request": row.request,
        "order_ids": list(row.order_ids),
        "deadline": due.isoformat(),
        "issued_at": utc(row.issued_at).isoformat(),
        "created_by": row.created_by,
        "state": state.value,
        "state_label": LETTER_STATE_LABELS[state],
        "overdue": state is not LetterState.ANSWERED and now > due,
        "read_at": _iso(row.read_at and utc(row.read_at)),
        "acknowledged_at": _iso(row.acknowledged_at and utc(row.acknowledged_at)),
        "acknowledged_by": row.acknowledged_by,
        "answer": row.answer,
        "answered_at": _iso(row.answered_at and utc(row.answered_at)),
        "html": f"/api/supervision/letters/{row.id}/html",
        "pdf": f"/api/supervision/letters/{row.id}/pdf",
    }


def _id(request: web.Request) -> int:
    try:
        value = int(request.match_info["id"])
    except ValueError:
        raise _err(web.HTTPNotFound, "not found", "编号须为整数") from None
    if not 1 <= value <= MAX_ID:  # beyond the column's integer: no such row, not a database error
        raise _err(web.HTTPNotFound, "not found", f"编号 {value} 不存在")
    return value


def ledger_args(request: web.Request, tz: dt.tzinfo) -> dict[str, Any]:
    """The ledger's filters from the query string (the API's and the page's)."""
    q = request.query
    args: dict[str, Any] = {"unit": q.get("unit") or None, "overdue_only": q.get("overdue") in ("1", "true")}
    try:
        args["state"] = State(q.get("state") or "open")
        args["level"] = Level(q["level"]) if q.get("level") else None
        if q.get("from") and q.get("to"):
            args["closed_from"], args["closed_to"] = parse_period(q["from"], q["to"], tz)
    except ValueError as exc:
        raise _err(web.HTTPBadRequest, "bad request", f"筛选条件有误：{exc}") from None
    return args


@auth.require_roles(*STAFF)
async def list_supervisions(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    args = ledger_args(request, svc.orders.calendar().tz)
    rows = await guarded(svc.ledger(actor_of(request), **args))
    return web.json_response({"supervisions": [ledger_json(r) for r in rows]})


@auth.require_roles(*SUPERVISORS)
async def open_supervision(request: web.Request) -> web.Response:
    sup = await guarded(request.app[SERVICE].open(actor_of(request), await _json(request)))
    return web.json_response(supervision_json(sup, actor_of(request)), status=201)


@auth.require_roles(*STAFF)
async def get_supervision(request: web.Request) -> web.Response:
    actor = actor_of(request)
    sup, notes = await guarded(request.app[SERVICE].get(_id(request), actor))
    return web.json_response({**supervision_json(sup, actor), "follow_ups": [follow_up_json(f) for f in notes]})


@auth.require_roles(*STAFF)
async def act(request: web.Request) -> web.Response:
    actor = actor_of(request)
    body = await _json(request)
    sup = await guarded(request.app[SERVICE].act(_id(request), request.match_info["action"], actor, body))
    return web.json_response(supervision_json(sup, actor))


@auth.require_roles(*SUPERVISORS)
async def closure(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    q = request.query
    tz = svc.orders.calendar().tz
    try:
        start, end = parse_period(q.get("from", ""), q.get("to", ""), tz)
    except ValueError as exc:
        raise _err(web.HTTPBadRequest, "bad request", f"from/to：{exc}") from None
    options = ClosureOptions(resolved_only=q.get("resolved_only") in ("1", "true"), unit=q.get("unit") or None)
    rate = await svc.closure(start, end, options)
    return web.json_response({"from": start.isoformat(), "to": end.isoformat(), **rate.as_dict()})


@auth.require_roles(*STAFF)
async def list_letters(request: web.Request) -> web.Response:
    letters = request.app[LETTERS]
    q = request.query
    overdue = q.get("overdue") in ("1", "true")
    if q.get("state") and q["state"] not in {s.value for s in LetterState}:
        raise _err(web.HTTPBadRequest, "bad request", "state 须为 sent、read、acknowledged 或 answered")
    rows = await guarded(letters.list_for(actor_of(request), q.get("unit") or None, q.get("state") or None, overdue))
    now = utc(letters.clock())
    return web.json_response({"letters": [letter_json(r, now) for r in rows]})


@auth.require_roles(*SUPERVISORS)
async def create_letter(request: web.Request) -> web.Response:
    letters = request.app[LETTERS]
    row = await guarded(letters.create(actor_of(request), await _json(request)))
    return web.json_response(letter_json(row, utc(letters.clock())), status=201)


@auth.require_roles(*SUPERVISORS)
async def run_rules(request: web.Request) -> web.Response:
    letters = request.app[LETTERS]
    body = await _json(request)
    names, token = body.get("rules"), body.get("confirm")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _err(web.HTTPBadRequest, "bad request", "rules 须为规则名列表")
    if token is not None and not isinstance(token, str):
        raise _err(web.HTTPBadRequest, "bad request", "confirm 须为字符串")
    rows = await guarded(letters.run_rules(actor_of(request), names, token))
    now = utc(letters.clock())
    return web.json_response({"created": len(rows), "letters": [letter_json(r, now) for r in rows]}, status=201)


@auth.require_roles(*STAFF)
async def get_letter(request: web.Request) -> web.Response:
    letters = request.app[LETTERS]
    row = await guarded(letters.get(_id(request), actor_of(request)))
    return web.json_response(letter_json(row, utc(letters.clock())))


@auth.require_roles(*STAFF)
async def letter_html(request: web.Request) -> web.Response:
    letters = request.app[LETTERS]
    row = await guarded(letters.get(_id(request), actor_of(request)))
    return web.Response(text=letters.html(row), content_type="text/html", headers=NO_SCRIPT)


@auth.require_roles(*STAFF)
async def letter_pdf(request: web.Request) -> web.Response:
    letters = request.app[LETTERS]
    row = await guarded(letters.get(_id(request), actor_of(request)))
    name = f"letter-{row.year}-{row.seq}.pdf"
    headers = {"Content-Disposition": f'inline; filename="{name}"'}
    return web.Response(body=await letters.pdf(row), content_type="application/pdf", headers=headers)


@auth.require_roles(*STAFF)
async def letter_step(request: web.Request) -> web.Response:
    letters = request.app[LETTERS]
    body = await _json(request)
    row = await guarded(letters.step(_id(request), request.match_info["action"], actor_of(request), body))
    return web.json_response(letter_json(row, utc(letters.clock())))


NO_SCRIPT = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def add_routes(app: web.Application) -> None:
    r = app.router
    base = "/api/supervision"
    r.add_get(f"{base}/supervisions", list_supervisions)
    r.add_post(f"{base}/supervisions", open_supervision)
    r.add_get(f"{base}/supervisions/{{id}}", get_supervision)
    r.add_post(f"{base}/supervisions/{{id}}/{{action:follow_up|close|cancel}}", act)
    r.add_get(f"{base}/closure", closure)
    r.add_get(f"{base}/letters", list_letters)
    r.add_post(f"{base}/letters", create_letter)
    r.add_post(f"{base}/letters/run", run_rules)
    r.add_get(f"{base}/letters/{{id}}", get_letter)
    r.add_get(f"{base}/letters/{{id}}/html", letter_html)
    r.add_get(f"{base}/letters/{{id}}/pdf", letter_pdf)
    r.add_post(f"{base}/letters/{{id}}/{{action:acknowledge|answer}}", letter_step)
