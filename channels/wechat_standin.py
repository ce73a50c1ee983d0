"""A local stand-in of WeChat's official-account API server, as strict as the real one.

Rules follow WeChat's public documentation of the official-account API (公众号开发文档):
- ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=``: 40002 wrong grant_type,
  40013 unknown appid, 40001 wrong secret (the real server says "AppSecret error"); answers
  ``{"access_token", "expires_in": 7200}``. Fetching a new token invalidates the previous one
  after a grace period (the documentation promises old and new work together for 5 minutes).
- every other call needs ``access_token``: missing 41001, unknown 40001, expired 42001.
- ``POST /cgi-bin/message/custom/send``: empty body 44002; not JSON 47001; ``touser`` not a
  follower 40003; ``msgtype`` other than text/image 40008 (the others exist but the engine
  does not send them); text without content 44003; image with an unknown media_id 40007;
  the citizen's last message older than 48 h 45015 ("response out of time limit");
  more replies than the quota since the citizen's last message 45047 ("out of response
  count limit"; WeChat allows 5 per citizen message since June 2023).
- ``GET /cgi-bin/media/get``: unknown media_id 40007 as JSON; otherwise the file with its
  content type and a Content-Disposition filename.
Time is the real clock plus an offset the test controls; ``advance`` moves it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

WINDOW = 48 * 3600
GRACE = 300


def _err(code: int, msg: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": msg})


@dataclass
class StandInState:
    app_id: str
    app_secret: str
    token_life: int = 7200
    quota: int = 5
    offset: float = 0.0  # seconds the test has moved the stand-in's clock ahead of real time
    followers: dict[str, float] = field(default_factory=dict)  # openid -> last time they wrote
    replies_since: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    # media ids whose download breaks off half-way (a network fault between WeChat and us)
    cut_short: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    calls: list[tuple[str, int]] = field(default_factory=list)  # (path, errcode) of every API call
    down_until: float = 0.0  # until then (stand-in clock) every API call answers HTTP 503: an outage

    @property
    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def user_wrote(self, openid: str, at: float | None = None) -> None:
        """What WeChat learns when a citizen writes: the window opens and the quota resets."""
        self.followers[openid] = self.now if at is None else at
        self.replies_since[openid] = 0

    def revoke_tokens(self) -> None:
        """As if another server fetched a token and the grace period passed: ours becomes invalid (40001)."""
        self.tokens.clear()

    def expire_tokens(self) -> None:
        for token in self.tokens:
            self.tokens[token] = self.now - 1


def build_standin(state: StandInState) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)

    def check_token(request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if not token:
            return _err(41001, "access_token missing")
        expires = state.tokens.get(token)
        if expires is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if state.now >= expires:
            return _err(42001, "access_token expired")
        return None

    async def token(request: web.Request) -> web.Response:
        q = request.query
        state.token_requests += 1
        if q.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if q.get("appid") != state.app_id:
            return _err(40013, "invalid appid")
        if q.get("secret") != state.app_secret:
            return _err(40001, "invalid credential, AppSecret error")
        for old, exp in list(state.tokens.items()):
            state.tokens[old] = min(exp, state.now + GRACE)
        new = secrets.token_urlsafe(48)
        state.tokens[new] = state.now + state.token_life
        return web.json_response({"access_token": new, "expires_in": state.token_life})

    async def custom_send(request: web.Request) -> web.Response:
        if state.now < state.down_until:
            state.calls.append((request.path, -503))
            return web.Response(status=503, text="service unavailable")
        resp = check_token(request) or await _send(request)
        state.calls.append((request.path, json.loads(resp.text or "{}").get("errcode", 0)))
        return resp

    async def _send(request: web.Request) -> web.Response:
        raw = await request.read()
        if not raw.strip():
            return _err(44002, "empty post data")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _err(47001, "data format error")
        if not isinstance(body, dict):
            return _err(47001, "data format error")
        touser = body.get("touser")
        if not isinstance(touser, str) or touser not in state.followers:
            return _err(40003, "invalid openid")
        msgtype = body.get("msgtype")
        if msgtype == "text":
            text = body.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("content"), str) or not text["content"]:
                return _err(44003, "empty content")
        elif msgtype == "image":
            image = body.get("image")
            if not isinstance(image, dict) or image.get("media_id") not in state.media:
                return _err(40007, "invalid media_id")
        else:
            return _err(40008, "invalid message type")
        if state.now - state.followers[touser] > WINDOW:
            return _err(45015, "response out of time limit or subscription is canceled")
        if state.replies_since.get(touser, 0) >= state.quota:
            return _err(45047, "out of response count limit")
        state.replies_since[touser] = state.replies_since.get(touser, 0) + 1
        state.sent.append(body)
        return _err(0, "ok")

    async def media_get(request: web.Request) -> web.StreamResponse:
        denied = check_token(request)
        if denied is not None:
            return denied
        media_id = request.query.get("media_id", "")
        found = state.media.get(media_id)
        if found is None:
            return _err(40007, "invalid media_id")
        ctype, content = found
        if media_id in state.cut_short:
            # The whole length announced, half the bytes sent, then the connection drops.
            resp = web.StreamResponse(headers={"Content-Type": ctype})
            resp.content_length = len(content)
            await resp.prepare(request)
            await resp.write(content[: len(content) // 2])
            if request.transport is not None:
                request.transport.close()
            return resp
        return web.Response(
            body=content,
            content_type=ctype,
            headers={"Content-Disposition": f'attachment; filename="{request.query["media_id"][:32]}"'},
        )

    app.router.add_get("/cgi-bin/token", token)
    app.router.add_post("/cgi-bin/message/custom/send", custom_send)
    app.router.add_get("/cgi-bin/media/get", media_get)
    return app
