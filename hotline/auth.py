"""Accounts, passwords, signed bearer tokens and role checks shared by every page and API.

Use from a feature's handlers::

    from hotline import auth

    @auth.require_roles("dispatcher", "supervisor")
    async def handler(request):
        account = request[auth.ACCOUNT]          # the logged-in, active account

    account = await auth.authenticate(request)   # any role; 401 without a valid token

A token is ``base64url(json claims) + "." + base64url(HMAC-SHA256(secret_key, claims))``; the
claims carry username, role, unit, expiry, the time it was issued and its own id. It is accepted
from ``Authorization: Bearer`` or from the HttpOnly cookie ``hotline_token`` that
``POST /api/login`` sets (hotline/login.py). Every request looks the account up, so disabling an
account takes effect at once; a token revoked by logout, or issued before the account's password
changed, is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import Boolean, DateTime, Integer, String, false, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.kernel import Kernel
from hotline.storage import Base

logger = logging.getLogger(__name__)

ROLES = ("seat", "supervisor", "manager", "dispatcher", "unit", "admin")
COOKIE = "hotline_token"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
# A member unit's code (the dispatch directory's): letters, digits and inner hyphens, so that it
# can never act as a pattern (SQL LIKE's % and _) and match another unit's orders.
UNIT_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
# scrypt cost: 2**14 x 8 x 1 is about 16 MiB and a few tens of ms per check: slow for guessing,
# quick enough for a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PASSWORD_MAX = 256  # longer input is refused before any hashing


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str | None] = mapped_column(String(32), default=None)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A unit account with its leader's capability (分管领导): signs the unit's replies that need it.
    unit_leader: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Tokens issued before this instant are refused (set when the password changes).
    tokens_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "unit": self.unit_id,
        }
        if self.role == "unit":  # only a unit account can be its unit's leader
            out["unit_leader"] = bool(self.unit_leader)
        return out

    def accepts(self, claims: Claims) -> bool:
        """An active account that has not revoked tokens issued when this one was."""
        return token_holds(self.active, self.tokens_after, claims)


def token_holds(active: bool, tokens_after: dt.datetime | None, claims: Claims) -> bool:
    """Whether a token of an account (``active``, ``tokens_after``) is still good."""
    if not active:
        return False
    if tokens_after is None:
        return True
    if tokens_after.tzinfo is None:  # SQLite hands timestamps back without their zone
        tokens_after = tokens_after.replace(tzinfo=dt.UTC)
    return claims.issued >= int(tokens_after.timestamp())


class RevokedToken(Base):
    """Tokens ended by logout before their expiry; a row is useless once the token has expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AccountError(ValueError):
    """Bad account data; the message says which field and why."""


# ---- passwords ---------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def valid_password(password: str) -> None:
    if not 8 <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"password: 8 to {PASSWORD_MAX} characters")


async def create_account(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    role: str,
    password: str,
    unit: str | None = None,
    display_name: str = "",
    leader: bool = False,
) -> Account:
    if not USERNAME_RE.match(username):
        raise AccountError(f"username {username!r}: use 2-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if role == "unit" and not unit:
        raise AccountError("a member-unit account needs --unit CODE (the unit in the dispatch directory)")
    if unit and not UNIT_RE.match(unit):
        raise AccountError(f"unit code {unit!r}: 1-32 letters, digits or inner hyphens")
    if role != "unit" and unit:
        raise AccountError("--unit is only for role unit")
    if leader and role != "unit":
        raise AccountError("--leader is only for role unit (the unit's leader signs its replies)")
    valid_password(password)
    async with sessions() as s, s.begin():
        if (await s.execute(select(Account.id).where(Account.username == username))).first():
            raise AccountError(f"username {username!r} already exists")
        acc = Account(
            username=username,
            display_name=display_name or username,
            role=role,
            unit_id=unit,
            password_hash=hash_password(password),
            active=True,
            unit_leader=leader,
            created_at=dt.datetime.now(dt.UTC),
        )
        s.add(acc)
    return acc


# ---- tokens -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claims:
    username: str
    role: str
    unit: str | None
    expires: int  # Unix seconds
    issued: int = 0  # Unix seconds
    jti: str = ""  # the token's own id, for logout


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, username: str, role: str, unit: str | None, expires: int, issued: int | None = None) -> str:
    claims = {"u": username, "r": role, "n": unit, "e": expires, "i": int(time.time()) if issued is None else issued}
    claims["j"] = secrets.token_urlsafe(12)
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def read_token(secret: str, token: str, now: float) -> Claims | None:
    """The claims of a valid, unexpired token; None for anything else."""
    try:
        body, sig = token.split(".")
        want = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, sig):
            return None
        raw = json.loads(_unb64(body))
        claims = Claims(
            str(raw["u"]), str(raw["r"]), raw.get("n"), int(raw["e"]), int(raw.get("i", 0)), str(raw.get("j", ""))
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return claims if claims.expires > now else None


# ---- aiohttp wiring -----------------------------------------------------------------------------
async def account_for(sessions: async_sessionmaker[AsyncSession], claims: Claims) -> Account | None:
    """The account a valid token speaks for, if it still may: active, the token neither revoked
    nor issued before the account's last password change."""
    async with sessions() as s:
        acc = (await s.execute(select(Account).where(Account.username == claims.username))).scalar_one_or_none()
        if acc is None or not acc.accepts(claims):
            return None
        if claims.jti and await s.get(RevokedToken, claims.jti) is not None:
            return None
    return acc


@dataclass
class AuthConfig:
    ctx: Kernel
    token_hours: float


AUTH = web.AppKey("auth", AuthConfig)
ACCOUNT = web.RequestKey("account", Account)  # request[ACCOUNT] after require_roles


def api_error(cls: type[web.HTTPException], error: str, detail: str, **fields: Any) -> web.HTTPException:
    """An API refusal: ``{"error", "detail", **fields}`` as JSON (the features' routes)."""
    body = {"error": error, "detail": detail, **fields}
    return cls(text=json.dumps(body, ensure_ascii=False), content_type="application/json")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; ``{}`` for no body; 400 for anything else. The size is bounded by
    the app's ``client_max_size``."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise api_error(web.HTTPBadRequest, "bad request", "请求体须为 JSON 对象") from None
    if not isinstance(body, dict):
        raise api_error(web.HTTPBadRequest, "bad request", "请求体须为 JSON 对象")
    return body


def error(cls: type[web.HTTPException], error: str, detail: str, **kw: Any) -> web.HTTPException:
    return cls(
        text=json.dumps({"error": error, "detail": detail}, ensure_ascii=False), content_type="application/json", **kw
    )


_error = error


def config(request: web.Request) -> AuthConfig:
    try:
        return request.app[AUTH]
    except KeyError:
        raise RuntimeError("hotline.auth.install(app, ctx) was not called") from None


_config = config


def request_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")


async def authenticate(request: web.Request) -> Account:
    """The active account behind the request's bearer token or cookie; 401 otherwise."""
    cfg = _config(request)
    token = request_token(request)
    claims = read_token(cfg.ctx.settings.secret_key, token, time.time()) if token else None
    if claims is None:
        raise _error(web.HTTPUnauthorized, "unauthorized", "请先登录（令牌缺失、无效或已过期）")
    acc = await account_for(cfg.ctx.sessions, claims)
    if acc is None:
        raise _error(web.HTTPUnauthorized, "unauthorized", "账号不存在、已停用或登录已失效")
    return acc


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def require_roles(*roles: str) -> Callable[[Handler], Handler]:
    """Decorator: 401 without a valid login, 403 for a role not listed (no roles: any role)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def deco(handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            acc = await authenticate(request)
            if roles and acc.role not in roles:
                raise _error(web.HTTPForbidden, "forbidden", f"此操作需要角色：{'、'.join(roles)}")
            request[ACCOUNT] = acc
            return await handler(request)

        wrapped.__name__ = getattr(handler, "__name__", "handler")
        wrapped.__doc__ = handler.__doc__
        return wrapped

    return deco


def install(app: web.Application, ctx: Kernel, token_hours: float = 12.0) -> None:
    """Add /api/login, /api/logout, /api/me and the password routes; safe to call more than once."""
    if AUTH in app:
        return
    app[AUTH] = AuthConfig(ctx, token_hours)
    from hotline import login

    login.install(app, ctx)


_ACCOUNT_SCHEMA = {
    "type": "object",
    "properties": {
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "role": {"type": "string", "enum": list(ROLES)},
        "unit": {"type": ["string", "null"]},
        "unit_leader": {
            "type": "boolean",
            "description": "unit accounts only: the unit's leader, who signs its replies (分管领导)",
        },
    },
}
_ERR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
OPENAPI: dict[str, Any] = {
    "paths": {
        "/api/login": {
            "post": {
                "summary": "log in; returns a bearer token and sets the HttpOnly cookie hotline_token",
                "tags": ["auth"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["username", "password"],
                                "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "logged in",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "token": {"type": "string"},
                                        "expires_at": {"type": "string", "format": "date-time"},
                                        "account": {"$ref": "#/components/schemas/Account"},
                                    },
                                }
                            }
                        },
                    },
                    "400": _ERR,
                    "401": _ERR,
                    "413": _ERR,
                    "429": _ERR,
                },
            }
        },
        "/api/logout": {
            "post": {
                "summary": "end the token (refused from now on) and clear the login cookie",
                "tags": ["auth"],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/api/me/password": {
            "post": {
                "summary": "change one's own password; every other session of the account ends",
                "tags": ["auth"],
                "security": [{"bearer": []}, {"cookie": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["old_password", "new_password"],
                                "properties": {
                                    "old_password": {"type": "string", "maxLength": PASSWORD_MAX},
                                    "new_password": {"type": "string", "minLength": 8, "maxLength": PASSWORD_MAX},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "changed; a new token"},
                    "400": _ERR,
                    "401": _ERR,
                    "403": _ERR,
                    "413": _ERR,
                    "429": _ERR,
                },
            }
        },
        "/api/accounts/{username}/password": {
            "post": {
                "summary": "an administrator sets an account's password; its sessions end",
                "tags": ["auth"],
                "security": [{"bearer": []}, {"cookie": []}],
                "parameters": [{"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["new_password"],
                                "properties": {
                                    "new_password": {"type": "string", "minLength": 8, "maxLength": PASSWORD_MAX}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "set"},
                    "400": _ERR,
                    "401": _ERR,
                    "403": _ERR,
                    "404": _ERR,
                    "413": _ERR,
                },
            }
        },
        "/api/me": {
            "get": {
                "summary": "the logged-in account",
                "tags": ["auth"],
                "security": [{"bearer": []}, {"cookie": []}],
                "responses": {
                    "200": {
                        "description": "account",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Account"}}},
                    },
                    "401": _ERR,
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Account": _ACCOUNT_SCHEMA,
            "Error": {"type": "object", "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}},
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
        },
    },
}
