"""Logging in and out, and passwords: the HTTP side of hotline.auth, hardened for the open internet.

Order of checks on ``POST /api/login``, cheapest first, so that abuse is refused before it costs:
body size (4 KiB), JSON shape, username shape, password length; then the failed-login limits
per address and per username (only failures count); then the password hash, computed off the
event loop in a bounded thread lane (``password_checks_at_once`` running, ``..._waiting`` queued,
beyond that 429 at once). A wrong password costs the same time whether or not the user exists.

The lane's places are not first come, first served: logins from an address with other attempts
in the window (failures, or others in flight) share all but a third of them, so that a spray
from a few addresses, which fills the lane in a moment, cannot refuse a seat logging in from an
address with a clean record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import delete, select

from hotline import auth
from hotline.auth import ACCOUNT, COOKIE, USERNAME_RE, Account, RevokedToken, error
from hotline.guard import RateLimiter, client_address, networks, refuse
from hotline.kernel import Kernel
from hotline.offload import Busy, Lane

logger = logging.getLogger(__name__)
T = TypeVar("T")
BODY_MAX = 4096
HASH_NICENESS = 10  # how much less CPU a hashing thread gets than the event loop when both want it


def _lowly(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a hashing thread at a lower CPU priority than the event loop (Linux nices
    each thread apart): the hashes of a login spray once took both cores of a small machine, and
    a citizen's chat waited half a second for its seat."""
    with contextlib.suppress(AttributeError, OSError):  # elsewhere: the process's own priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)
    return fn(*args)


class Login:
    """The login service of one app: limits, the hashing lane and the settings they follow."""

    def __init__(self, ctx: Kernel) -> None:
        sec = ctx.settings.security
        self.ctx = ctx
        self.trusted = networks(sec.trusted_proxies)
        self.per_address = RateLimiter(sec.login_failures_per_address, sec.login_window_s)
        self.per_account = RateLimiter(sec.login_failures_per_account, sec.login_window_s)
        self.hashing = Lane("password", workers=sec.password_checks_at_once, waiting=sec.password_checks_waiting)
        places = sec.password_checks_at_once + sec.password_checks_waiting
        self.shared = places - places // 3  # what logins from addresses under suspicion may hold
        self.suspect = 0  # places they hold now
        self.secure = sec.secure_cookies
        self.dummy = auth.hash_password(secrets.token_urlsafe(12))

    def address(self, request: web.Request) -> str:
        return client_address(request.remote or "", request.headers, self.trusted)

    async def check_password(self, password: str, stored: str, *, suspect: bool = False) -> bool:
        """``suspect``: the address has other attempts in the window; it gets a place only while
        such logins hold fewer than ``shared``, the rest being kept for clean addresses."""
        try:
            if suspect and self.suspect >= self.shared:
                raise Busy("password: the places for addresses with other attempts are taken")
            self.suspect += suspect
            try:
                return await self.hashing.thread(_lowly, auth.verify_password, password, stored)
            finally:
                self.suspect -= suspect
        except Busy:
            refuse("login", "busy")
            raise error(
                web.HTTPTooManyRequests, "busy", "登录请求过多，请稍后再试", headers={"Retry-After": "2"}
            ) from None

    async def hash_password(self, password: str) -> str:
        try:
            return await self.hashing.thread(_lowly, auth.hash_password, password)
        except Busy:
            refuse("login", "busy")
            raise error(web.HTTPTooManyRequests, "busy", "请求过多，请稍后再试", headers={"Retry-After": "2"}) from None


LOGIN = web.AppKey("login", Login)


async def json_body(request: web.Request, limit: int = BODY_MAX) -> dict[str, Any]:
    """A small JSON object from the body, read no further than ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise error(
            web.HTTPRequestEntityTooLarge,
            "too large",
            f"请求体不得超过 {limit} 字节",
            max_size=limit,
            actual_size=request.content_length,
        )
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise error(
            web.HTTPRequestEntityTooLarge,
            "too large",
            f"请求体不得超过 {limit} 字节",
            max_size=limit,
            actual_size=len(raw),
        )
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "bad request", "请求体须为 JSON 对象")
    return body


def _too_many(edge: str, reason: str, wait: float, **fields: Any) -> web.HTTPException:
    refuse(edge, reason, **fields)
    seconds = int(wait) + 1
    return error(
        web.HTTPTooManyRequests,
        "too many attempts",
        f"登录失败次数过多，请 {seconds} 秒后再试",
        headers={"Retry-After": str(seconds)},
    )


def _cookie(resp: web.Response, token: str, hours: float, secure: bool) -> None:
    resp.set_cookie(COOKIE, token, max_age=int(hours * 3600), httponly=True, samesite="Lax", path="/", secure=secure)


def _issue(request: web.Request, acc: Account) -> web.Response:
    cfg = auth.config(request)
    expires = int(time.time() + cfg.token_hours * 3600)
    token = auth.make_token(cfg.ctx.settings.secret_key, acc.username, acc.role, acc.unit_id, expires)
    resp = web.json_response(
        {"token": token, "expires_at": dt.datetime.fromtimestamp(expires, dt.UTC).isoformat(), "account": acc.public()}
    )
    _cookie(resp, token, cfg.token_hours, request.app[LOGIN].secure)
    return resp


async def login(request: web.Request) -> web.Response:
    svc = request.app[LOGIN]
    where = svc.address(request)
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise error(web.HTTPBadRequest, "bad request", '请求体须为 JSON：{"username": "...", "password": "..."}')
    # An attempt counts as a failure from the start (so that a burst cannot slip past the limit
    # while its hashes run) and is taken back if it succeeds: only failures remain counted.
    wait = svc.per_address.take(where)
    if wait > 0:
        raise _too_many("login", "address", wait, remote=where)
    if not USERNAME_RE.match(username) or not password or len(password) > auth.PASSWORD_MAX:
        raise error(web.HTTPUnauthorized, "unauthorized", "用户名或密码错误")  # never hashed
    wait = svc.per_account.take(username)
    if wait > 0:
        svc.per_address.unhit(where)  # refused before any work: not an attempt of this address
        raise _too_many("login", "account", wait, username=username, remote=where)
    try:
        async with svc.ctx.sessions() as s:
            acc = (await s.execute(select(Account).where(Account.username == username))).scalar_one_or_none()
        # A dummy hash for unknown users too, so the reply time does not reveal which names exist.
        suspect = svc.per_address.count(where) > 1  # more than this attempt within the window
        ok = await svc.check_password(password, acc.password_hash if acc else svc.dummy, suspect=suspect)
    except web.HTTPTooManyRequests:  # busy: nothing was tried
        svc.per_address.unhit(where)
        svc.per_account.unhit(username)
        raise
    if not ok or acc is None or not acc.active:
        logger.info("login failed", extra={"username": username, "remote": where})
        raise error(web.HTTPUnauthorized, "unauthorized", "用户名或密码错误")
    svc.per_address.unhit(where)
    svc.per_account.clear(username)
    return _issue(request, acc)


async def logout(request: web.Request) -> web.Response:
    """End this token now (not only the cookie): a copy of it is refused from here on."""
    cfg = auth.config(request)
    token = auth.request_token(request)
    claims = auth.read_token(cfg.ctx.settings.secret_key, token, time.time()) if token else None
    if claims is not None and claims.jti:
        now = dt.datetime.now(dt.UTC)
        async with cfg.ctx.sessions() as s, s.begin():
            if await s.get(RevokedToken, claims.jti) is None:
                s.add(RevokedToken(jti=claims.jti, expires_at=dt.datetime.fromtimestamp(claims.expires, dt.UTC)))
            # Rows of tokens that have expired anyway are of no more use.
            await s.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    return web.json_response((await auth.authenticate(request)).public())


async def _set_password(svc: Login, username: str, password: str) -> Account:
    """New hash; every token issued before now stops working (other browsers, stolen copies)."""
    try:
        auth.valid_password(password)
    except auth.AccountError:
        raise error(web.HTTPBadRequest, "bad request", f"新密码须为 8 至 {auth.PASSWORD_MAX} 个字符") from None
    digest = await svc.hash_password(password)
    async with svc.ctx.sessions() as s, s.begin():
        acc = (await s.execute(select(Account).where(Account.username == username))).scalar_one_or_none()
        if acc is None:
            raise error(web.HTTPNotFound, "not found", "没有这个账号")
        acc.password_hash = digest
        # Whole seconds, as tokens carry them: a token issued in this same second stays valid.
        acc.tokens_after = dt.datetime.fromtimestamp(int(time.time()), dt.UTC)
    logger.info("password changed", extra={"username": username})
    return acc


@auth.require_roles()
async def change_password(request: web.Request) -> web.Response:
    """Any logged-in user, with the current password; answers with a fresh token for this browser."""
    svc = request.app[LOGIN]
    acc = request[ACCOUNT]
    body = await json_body(request)
    old, new = body.get("old_password"), body.get("new_password")
    if not isinstance(old, str) or not isinstance(new, str) or len(old) > auth.PASSWORD_MAX:
        raise error(
            web.HTTPBadRequest, "bad request", '请求体须为 JSON：{"old_password": "...", "new_password": "..."}'
        )
    wait = svc.per_account.retry_after(acc.username)
    if wait > 0:
        raise _too_many("password", "account", wait, username=acc.username)
    if not await svc.check_password(old, acc.password_hash):
        svc.per_account.hit(acc.username)
        raise error(web.HTTPForbidden, "forbidden", "当前密码不正确")
    updated = await _set_password(svc, acc.username, new)
    return _issue(request, updated)


@auth.require_roles("admin")
async def reset_password(request: web.Request) -> web.Response:
    """An administrator sets someone's password (e.g. a seat who forgot it)."""
    svc = request.app[LOGIN]
    body = await json_body(request)
    new = body.get("new_password")
    if not isinstance(new, str):
        raise error(web.HTTPBadRequest, "bad request", '请求体须为 JSON：{"new_password": "..."}')
    username = request.match_info["username"]
    if not USERNAME_RE.match(username):
        raise error(web.HTTPNotFound, "not found", "没有这个账号")
    await _set_password(svc, username, new)
    logger.info("password reset by an administrator", extra={"username": username, "by": request[ACCOUNT].username})
    return web.json_response({"ok": True})


def install(app: web.Application, ctx: Kernel) -> None:
    app[LOGIN] = Login(ctx)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/me/password", change_password)
    app.router.add_post("/api/accounts/{username}/password", reset_password)
