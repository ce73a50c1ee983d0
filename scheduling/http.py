"""JSON API of seat scheduling: staffing figures, manager actions (with the surge), the action log
and a roster day's plan-vs-required chart. Handlers only validate and hand off."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from hotline import auth
from hotline.guard import refuse
from hotline.login import json_body
from hotline.offload import Busy, TooLong
from scheduling.core import staffing
from scheduling.core.actions import (
    Action,
    ActivateSurge,
    CallInReserves,
    CancelBreak,
    CloudSeat,
    EndSurge,
    MoveSeats,
    StartBreak,
)
from scheduling.services import SchedulingService, day_chart, load_actions

logger = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE = web.AppKey("scheduling_service", SchedulingService)
CHINA = dt.timezone(dt.timedelta(hours=8))
MANAGERS = ("supervisor", "manager", "admin")
DEFAULT_ANNOUNCEMENT = "因突发事件来电较多，我们已增派座席，请您耐心等待。"


def bad(detail: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=f'{{"error": "bad request", "detail": {_json_str(detail)}}}', content_type="application/json"
    )


def _json_str(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _number(query: Any, name: str, default: float | None = None) -> float | None:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise bad(f"{name} 必须是数字，收到 {raw!r}") from None
    if not math.isfinite(value):
        raise bad(f"{name} 必须是有限数字")
    return value


def staffing_inputs(query: Any) -> Callable[[], staffing.StaffingPlan]:
    """Shared by the API and the page: the staffing calculator's inputs, validated and bounded
    (400 at once), as the computation still to run."""
    channel = query.get("channel") or "voice"
    if channel not in ("voice", "chat"):
        raise bad("channel 只能是 voice 或 chat")
    arrivals = _number(query, "arrivals_per_hour")
    aht = _number(query, "aht")
    if arrivals is None or aht is None:
        raise bad("需要 arrivals_per_hour（每小时来话量）和 aht（平均处理时长，秒）")
    within = _number(query, "within", 15.0 if channel == "voice" else 60.0)
    concurrency = _number(query, "concurrency", 1.0)
    assert within is not None and concurrency is not None
    if concurrency != int(concurrency) or abs(concurrency) > 1000:
        raise bad("concurrency 必须是整数")
    target = _number(query, "target", 0.95) or 0.0
    patience = _number(query, "patience")
    shrinkage = _number(query, "shrinkage", 0.0) or 0.0
    try:
        staffing.check_inputs(arrivals, aht, target, within, shrinkage, int(concurrency), patience)
    except ValueError as exc:
        raise bad(str(exc)) from None
    return functools.partial(
        staffing.plan,
        arrivals,
        aht,
        target,
        within,
        patience_s=patience,
        shrinkage=shrinkage,
        channel="chat" if channel == "chat" else "voice",
        concurrency=int(concurrency),
    )


async def compute(request: web.Request, job: Callable[[], T]) -> T:
    """Run a computation in the engine's worker processes (bounded, with a time limit): the
    event loop keeps serving calls and chats meanwhile."""
    lane = request.app[SERVICE].compute
    if lane is None:
        return job()
    timeout = request.app[SERVICE].compute_timeout_s
    try:
        return await lane.process(job, timeout=timeout)
    except Busy:
        refuse("scheduling", "busy", path=request.path)
        raise web.HTTPServiceUnavailable(
            text=f'{{"error": "busy", "detail": {_json_str("测算请求过多，请稍后再试")}}}',
            content_type="application/json",
            headers={"Retry-After": "2"},
        ) from None
    except TooLong:
        refuse("scheduling", "too_long", path=request.path)
        raise web.HTTPServiceUnavailable(
            text=f'{{"error": "too long", "detail": {_json_str(f"测算超过 {timeout:g} 秒，已停止")}}}',
            content_type="application/json",
        ) from None
    except ValueError as exc:
        raise bad(str(exc)) from None


def plan_json(result: staffing.StaffingPlan) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in dataclasses.asdict(result).items()
    }


@auth.require_roles(*MANAGERS)
async def get_staffing(request: web.Request) -> web.Response:
    return web.json_response(plan_json(await compute(request, staffing_inputs(request.query))))


def _skills(raw: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, dict) or not raw:
        raise bad('skills 必须是技能到熟练度的对象，例如 {"general": 1}')
    if len(raw) > MAX_SKILLS:
        raise bad(f"技能最多 {MAX_SKILLS} 项")
    out = []
    for name, level in raw.items():
        if not isinstance(name, str) or not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise bad(f"技能 {str(name)[:40]!r} 的熟练度必须是 1 到 5 的整数")
        if not 1 <= len(name) <= 64:
            raise bad("技能名须为 1 到 64 个字符")
        out.append((name, level))
    return tuple(sorted(out))


def _ids(raw: Any, name: str = "seat_ids") -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) and SEAT_ID.match(x) for x in raw):
        raise bad(f"{name} 必须是非空的座席工号列表")
    if len(raw) > MAX_SEAT_IDS:
        raise bad(f"{name} 最多 {MAX_SEAT_IDS} 个")
    return tuple(dict.fromkeys(raw))


# What one manager's action may name: more cloud seats than any city calls in for an emergency,
# and more seats than a hotline has, are refused before anything is done (docs/security.md).
MAX_CLOUD_SEATS = 500
MAX_SEAT_IDS = 2000
MAX_SKILLS = 50
MAX_WHY = 500
MAX_SURGE_MINUTES = 24 * 60
SEAT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def parse_action(body: dict[str, Any], now: float, dialable: Callable[[str], bool]) -> Action:
    kind = body.get("action")
    if kind == "surge":
        seats = body.get("seats")
        if not isinstance(seats, list) or not seats:
            raise bad("surge 需要 seats：云座席列表（seat_id、number 或浏览器、skills）")
        if len(seats) > MAX_CLOUD_SEATS:
            raise bad(f"一次扩容最多 {MAX_CLOUD_SEATS} 名云座席")
        cloud = []
        for seat in seats:
            if not isinstance(seat, dict) or not isinstance(seat.get("seat_id"), str):
                raise bad("每个云座席需要 seat_id")
            if not SEAT_ID.match(seat["seat_id"]):
                raise bad("云座席工号只能含字母、数字、_ 和 -（最多 32 位）")
            number = seat.get("number")
            if number is not None and not (isinstance(number, str) and number.isdigit()):
                raise bad(f"云座席 {seat['seat_id']} 的外线号码只能是数字")
            if number is not None and not dialable(number):
                raise bad(f"云座席 {seat['seat_id']} 的外线号码 {number} 不在允许外呼的范围内")
            cloud.append(CloudSeat(seat["seat_id"], _skills(seat.get("skills")), number=number))
        if len({c.seat_id for c in cloud}) != len(cloud):
            raise bad("云座席工号重复")
        minutes = body.get("minutes")
        if minutes is not None and (
            not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or not 0 < minutes <= MAX_SURGE_MINUTES
        ):
            raise bad(f"minutes 必须是 0 到 {MAX_SURGE_MINUTES} 之间的数；不填表示直到排队清空")
        until = None if minutes is None else now + float(minutes) * 60
        text = body.get("announcement") or DEFAULT_ANNOUNCEMENT
        if not isinstance(text, str) or len(text) > 200:
            raise bad("announcement 必须是不超过 200 字的文字")
        return ActivateSurge(tuple(cloud), until=until, announcement=text)
    if kind == "end_surge":
        return EndSurge()
    if kind == "move_seats":
        groups = body.get("groups") or []
        if (
            not isinstance(groups, list)
            or len(groups) > MAX_SKILLS
            or not all(isinstance(g, str) and len(g) <= 64 for g in groups)
        ):
            raise bad(f"groups 必须是不超过 {MAX_SKILLS} 项的文字列表")
        return MoveSeats(_ids(body.get("seat_ids")), _skills(body.get("skills")), tuple(groups))
    if kind == "start_break":
        return StartBreak(_ids(body.get("seat_ids")), str(body.get("reason") or "break"))
    if kind == "cancel_break":
        return CancelBreak(_ids(body.get("seat_ids")))
    if kind == "call_reserves":
        return CallInReserves(_ids(body.get("seat_ids")))
    raise bad("action 只能是 surge、end_surge、move_seats、start_break、move_break、cancel_break、call_reserves")


@auth.require_roles(*MANAGERS)
async def post_action(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    body = await json_body(request, 256 * 1024)  # 500 cloud seats with their skills fit easily
    why = body.get("why")
    if not isinstance(why, str) or not why.strip() or len(why) > MAX_WHY:
        raise bad(f"why（操作原因）必填，最多 {MAX_WHY} 字")
    account = request[auth.ACCOUNT]
    if body.get("action") == "move_break":
        return await _move_break(service, body, account.username, why.strip())
    action = parse_action(body, service.acd.now(), service.dial_policy.allows)
    try:
        outputs = await service.act(action, who=account.username, why=why.strip())
    except ValueError as exc:
        raise web.HTTPConflict(
            text=f'{{"error": "conflict", "detail": {_json_str(str(exc))}}}', content_type="application/json"
        ) from None
    return web.json_response(
        {"ok": True, "outputs": [type(o).__name__ for o in outputs], "surge": service.desk.surge_state}
    )


async def _move_break(service: SchedulingService, body: dict[str, Any], who: str, why: str) -> web.Response:
    roster, seat = body.get("roster"), body.get("seat_id")
    if not isinstance(roster, str) or not isinstance(seat, str) or not roster or not seat:
        raise bad("move_break 需要 roster、seat_id、from、to（带时区的时间，如 2026-05-11T10:00:00+08:00）")
    try:
        old = dt.datetime.fromisoformat(str(body.get("from")))
        new = dt.datetime.fromisoformat(str(body.get("to")))
    except ValueError:
        raise bad("from / to 必须是 ISO 时间，如 2026-05-11T10:00:00+08:00") from None
    if old.tzinfo is None or new.tzinfo is None:
        old, new = old.replace(tzinfo=old.tzinfo or CHINA), new.replace(tzinfo=new.tzinfo or CHINA)
    try:
        outputs = await service.move_break(roster, seat, old, new, who=who, why=why)
    except ValueError as exc:
        raise web.HTTPConflict(
            text=f'{{"error": "conflict", "detail": {_json_str(str(exc))}}}', content_type="application/json"
        ) from None
    return web.json_response({"ok": True, "outputs": [type(o).__name__ for o in outputs]})


@auth.require_roles(*MANAGERS)
async def get_actions(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.sessions is None:
        return web.json_response({"actions": []})
    hours = _number(request.query, "hours", 24.0) or 24.0
    if not 0 < hours <= 24 * 366:
        raise bad("hours 须在 0 到 8784（一年）之间")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    rows = await load_actions(service.sessions, since)
    return web.json_response(
        {
            "actions": [
                {
                    "at": (r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)).isoformat(),
                    "who": r.who,
                    "why": r.why,
                    "kind": r.kind,
                    "detail": r.detail,
                }
                for r in rows
            ]
        }
    )


def parse_day(raw: str | None) -> dt.date:
    if not raw:
        return dt.datetime.now(CHINA).date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise bad(f"day 必须是 YYYY-MM-DD，收到 {raw!r}") from None


@auth.require_roles(*MANAGERS)
async def get_chart(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.sessions is None:
        raise web.HTTPServiceUnavailable(reason="no database")
    day = parse_day(request.query.get("day"))
    lines = await day_chart(service.sessions, request.match_info["name"], day, CHINA)
    return web.json_response({"roster": request.match_info["name"], "day": day.isoformat(), "groups": lines})


async def intraday_for(request: web.Request) -> tuple[list[Any], list[Any]]:
    """Shared by the API and the page: today's view of a published roster for one group."""
    service = request.app[SERVICE]
    q = request.query
    roster = q.get("roster")
    if not roster:
        raise bad("需要 roster（已发布的排班名称）")
    group = q.get("group") or "voice"
    if group not in ("voice", "internet"):
        raise bad("group 只能是 voice 或 internet")
    voice = group == "voice"
    aht = _number(q, "aht", 240.0 if voice else 300.0)
    within = _number(q, "within", 15.0 if voice else 60.0)
    concurrency = _number(q, "concurrency", 1.0 if voice else 3.0)
    assert aht is not None and within is not None and concurrency is not None
    try:
        return await service.intraday(
            roster,
            parse_day(q.get("day")),
            group,
            CHINA,
            aht_s=aht,
            target=_number(q, "target", 0.95) or 0.95,
            within_s=within,
            patience_s=_number(q, "patience"),
            concurrency=max(1, int(concurrency)),
        )
    except (Busy, TooLong) as exc:
        refuse("scheduling", type(exc).__name__.lower(), path=request.path)
        raise web.HTTPServiceUnavailable(
            text=f'{{"error": "busy", "detail": {_json_str("测算繁忙或超时，请稍后再试")}}}',
            content_type="application/json",
            headers={"Retry-After": "2"},
        ) from None
    except ValueError as exc:
        raise bad(str(exc)) from None


@auth.require_roles(*MANAGERS)
async def get_intraday(request: web.Request) -> web.Response:
    rows, alerts = await intraday_for(request)
    return web.json_response(
        {
            "rows": [{k: _finite(v) for k, v in dataclasses.asdict(r).items()} for r in rows],
            "alerts": [dataclasses.asdict(a) for a in alerts],
        }
    )


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/scheduling/intraday", get_intraday)
    app.router.add_get("/api/scheduling/staffing", get_staffing)
    app.router.add_post("/api/scheduling/actions", post_action)
    app.router.add_get("/api/scheduling/actions", get_actions)
    app.router.add_get("/api/scheduling/rosters/{name}/chart", get_chart)


SEC = [{"bearer": []}, {"cookie": []}]
_BAD = {"description": "bad input (the detail names the field and its bound)"}
_BUSY = {"description": "computations busy or stopped at their time limit; Retry-After"}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/api/scheduling/staffing": {
            "get": {
                "summary": "Seats for a service-level target (Erlang C, or A with patience); supervisors, managers,"
                " admins. Inputs are bounded (arrivals <= 100,000/h, AHT <= 7,200 s, ...; docs/security.md)",
                "security": SEC,
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": t}}
                    for n, t in (
                        ("arrivals_per_hour", "number"),
                        ("aht", "number"),
                        ("target", "number"),
                        ("within", "number"),
                        ("patience", "number"),
                        ("shrinkage", "number"),
                        ("channel", "string"),
                        ("concurrency", "integer"),
                    )
                ],
                "responses": {"200": {"description": "staffing plan"}, "400": _BAD, "503": _BUSY},
            }
        },
        "/api/scheduling/actions": {
            "post": {
                "summary": "A shift manager's action: surge, end_surge, move_seats, start_break, cancel_break, "
                "call_reserves (who = the logged-in account, why required)",
                "security": SEC,
                "responses": {
                    "200": {"description": "done"},
                    "400": _BAD,
                    "409": {"description": "not allowed now (e.g. no surge running)"},
                },
            },
            "get": {
                "summary": "Action log of the last hours",
                "security": SEC,
                "responses": {"200": {"description": "log"}, "400": _BAD},
            },
        },
        "/api/scheduling/intraday": {
            "get": {
                "summary": "Today: re-forecast, required vs scheduled vs logged-in vs ready per interval, alerts",
                "security": SEC,
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": "string"}}
                    for n in ("roster", "group", "day", "aht", "within", "target", "patience", "concurrency")
                ],
                "responses": {"200": {"description": "rows and alerts"}, "400": _BAD, "503": _BUSY},
            }
        },
        "/api/scheduling/rosters/{name}/chart": {
            "get": {
                "summary": "Required vs scheduled seats per interval for one day of a published roster",
                "security": SEC,
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "day", "in": "query", "schema": {"type": "string", "format": "date"}},
                ],
                "responses": {
                    "200": {"description": "chart lines per skill group"},
                    "400": _BAD,
                    "503": {"description": "no database"},
                },
            }
        },
    }
}
