"""A local stand-in for WeChat's official-account API (access token and template messages), as
strict as the real one, for tests and demos.

``GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` → ``{access_token,
expires_in: 7200}`` or ``40013`` invalid appid, ``40125`` invalid appsecret, ``40002`` invalid
grant_type. A new token makes the earlier one invalid after a while like the real API does; here at once.
``POST /cgi-bin/message/template/send?access_token=…`` with ``{touser, template_id, data, url?}``:
``40001`` invalid credential, ``42001`` expired token, ``44002`` empty body, ``47001`` not JSON,
``40003`` invalid openid, ``43004`` the user does not follow the account, ``40037`` invalid
template_id, ``47003`` data not exactly the template's keywords or a value over its type's length
(thing ≤ 20, character_string ≤ 32 and no Chinese, time ``YYYY-MM-DD HH:MM``); else
``{errcode: 0, errmsg: "ok", msgid}``. ``outage`` answers ``-1`` system busy to the next N sends.
Run alone: ``python -m workorders.wechat_standin --port 8026``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

OPENID = re.compile(r"[A-Za-z0-9_-]{28}")
DEFAULT_TEMPLATE = {"character_string1": "character_string", "thing2": "thing", "time3": "time", "thing4": "thing"}
TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


@dataclass
class WechatApi:
    appid: str = "wx0123456789abcdef"
    secret: str = "standin-app-secret"
    templates: dict[str, dict[str, str]] = field(default_factory=lambda: {"TPL_WO_ALERT": dict(DEFAULT_TEMPLATE)})
    followers: set[str] = field(default_factory=set)
    clock: Callable[[], float] = time.time
    outage: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(2_000_000_001))

    def token(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if query.get("appid") != self.appid:
            return _err(40013, "invalid appid")
        if query.get("secret") != self.secret:
            return _err(40125, "invalid appsecret")
        self._tokens.clear()  # the newest token is the only valid one
        token = secrets.token_urlsafe(48)
        self._tokens[token] = self.clock() + 7200
        self.tokens_issued += 1
        return {"access_token": token, "expires_in": 7200}

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on (as after two hours)."""
        for t in self._tokens:
            self._tokens[t] = 0.0

    def send(self, token: str | None, raw: bytes) -> dict[str, Any]:
        expires = self._tokens.get(token or "")
        if expires is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if self.clock() >= expires:
            return _err(42001, "access_token expired")
        if not raw.strip():
            return _err(44002, "empty post data")
        try:
            body = json.loads(raw)
        except ValueError:
            return _err(47001, "data format error")
        if not isinstance(body, dict):
            return _err(47001, "data format error")
        if self.outage > 0:
            self.outage -= 1
            return _err(-1, "system error")
        touser = body.get("touser")
        if not isinstance(touser, str) or not OPENID.fullmatch(touser):
            return _err(40003, "invalid openid")
        if touser not in self.followers:
            return _err(43004, "require subscribe")
        template = self.templates.get(str(body.get("template_id")))
        if template is None:
            return _err(40037, "invalid template_id")
        data = body.get("data")
        if not isinstance(data, dict) or set(data) != set(template):
            return _err(47003, f"argument invalid! data must be exactly {sorted(template)}")
        for key, kind in template.items():
            item = data[key]
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, str) or not _fits(kind, value):
                return _err(47003, f"argument invalid! data.{key}.value invalid")
        msgid = next(self._ids)
        self.sent.append({"touser": touser, "template_id": body["template_id"], "data": data, "msgid": msgid})
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def app(self) -> web.Application:
        async def token(request: web.Request) -> web.Response:
            return _json(self.token(dict(request.query)))

        async def send(request: web.Request) -> web.Response:
            return _json(self.send(request.query.get("access_token"), await request.read()))

        app = web.Application()
        app.router.add_get("/cgi-bin/token", token)
        app.router.add_post("/cgi-bin/message/template/send", send)
        return app


def _fits(kind: str, value: str) -> bool:
    if kind == "thing":
        return 0 < len(value) <= 20
    if kind == "character_string":
        return 0 < len(value) <= 32 and value.isascii()
    if kind == "time":
        return bool(TIME.fullmatch(value))
    return bool(value)


def _err(code: int, message: str) -> dict[str, Any]:
    return {"errcode": code, "errmsg": f"{message} rid: {secrets.token_hex(4)}"}


def _json(data: dict[str, Any]) -> web.Response:
    # WeChat answers 200 with the error in the body, errors included.
    return web.json_response(data, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def main() -> None:  # pragma: no cover - a demo entry point
    p = argparse.ArgumentParser(description="local WeChat official-account API stand-in")
    p.add_argument("--port", type=int, default=8026)
    p.add_argument("--follower", action="append", default=[], help="an openid that follows the account")
    a = p.parse_args()
    web.run_app(WechatApi(followers=set(a.follower)).app(), host="127.0.0.1", port=a.port)


if __name__ == "__main__":
    main()
