"""WeChat's server API on aiohttp: access token, customer-service messages, media download.

The base URL is a setting (tests point it at ``channels.wechat_standin``). The access token
is cached (in Redis when configured, so several engine processes share one token: fetching
a new one invalidates the old one after a grace period) and refetched once when WeChat says
it is invalid (40001) or expired (42001).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from channels.settings import WeChatSettings
from hotline.redislink import FAILURES, RedisHealth

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
REFRESH_MARGIN = 300  # refetch this many seconds before WeChat's expiry


class WeChatApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"WeChat API error {code}: {message}")
        self.code = code
        self.message = message


class OutsideWindow(WeChatApiError):
    """45015: the citizen last wrote more than 48 hours ago; only they can reopen the window."""


class TooManyMessages(WeChatApiError):
    """45047: the per-citizen quota of customer-service messages is used up until they write again."""


class NotConfigured(Exception):
    pass


class MediaRejected(Exception):
    """media/get answered with a file we do not keep (type or size)."""


def _raise_for(data: dict[str, Any]) -> None:
    code = data.get("errcode", 0)
    if not isinstance(code, int):
        raise WeChatApiError(-2, f"unexpected errcode {code!r}")
    if code == 0:
        return
    msg = str(data.get("errmsg", ""))
    if code == 45015:
        raise OutsideWindow(code, msg)
    if code == 45047:
        raise TooManyMessages(code, msg)
    raise WeChatApiError(code, msg)


@dataclass(frozen=True)
class Media:
    content_type: str
    content: bytes
    filename: str


class WeChatApi:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: WeChatSettings,
        redis: Redis | None = None,
        clock: Callable[[], float] = time.time,
        health: RedisHealth | None = None,
    ) -> None:
        self._session = session
        self._settings = settings
        self._redis = redis
        self._health = health or RedisHealth()
        self._clock = clock
        self._token: str = ""
        self._expires: float = 0.0
        self._lock = asyncio.Lock()
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout)
        self.token_fetches = 0

    @property
    def _redis_key(self) -> str:
        return f"hotline:wechat:token:{self._settings.app_id}"

    def _url(self, path: str) -> str:
        if not self._settings.api_enabled:
            raise NotConfigured("WeChat API not configured: set HOTLINE_WECHAT__API_BASE_URL, APP_ID and APP_SECRET")
        return f"{self._settings.api_base_url}{path}"

    async def access_token(self) -> str:
        now = self._clock()
        if self._token and now < self._expires:
            return self._token
        async with self._lock:
            now = self._clock()
            if self._token and now < self._expires:
                return self._token
            shared = await self._shared_token()
            if shared is not None:
                self._token, ttl = shared
                self._expires = now + ttl
                return self._token
            await self._fetch_token()
            return self._token

    async def _shared_token(self) -> tuple[str, int] | None:
        """The token other processes fetched (from Redis), with its remaining life; None if none or no Redis."""
        if self._redis is None or not self._health.worth_trying():
            return None
        try:
            cached = await self._redis.get(self._redis_key)
            ttl = await self._redis.ttl(self._redis_key)
        except FAILURES as exc:  # the token is then fetched and kept in this process
            self._health.failed("wechat_token", exc)
            return None
        self._health.ok("wechat_token")
        if not cached or ttl <= 0:
            return None
        return (cached.decode() if isinstance(cached, bytes) else str(cached)), int(ttl)

    async def _fetch_token(self) -> None:
        params = {
            "grant_type": "client_credential",
            "appid": self._settings.app_id,
            "secret": self._settings.app_secret,
        }
        async with self._session.get(self._url("/cgi-bin/token"), params=params, timeout=self._timeout) as resp:
            data = await self._json(resp)
        _raise_for(data)
        token = data.get("access_token")
        expires_in = data.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise WeChatApiError(-2, "token answer without access_token/expires_in")
        self.token_fetches += 1
        life = max(expires_in - REFRESH_MARGIN, expires_in // 2)
        self._token = token
        self._expires = self._clock() + life
        if self._redis is not None and self._health.worth_trying():
            try:
                await self._redis.set(self._redis_key, token, ex=life)
            except FAILURES as exc:  # kept in this process only
                self._health.failed("wechat_token", exc)
            else:
                self._health.ok("wechat_token")
        logger.info("wechat access token fetched", extra={"expires_in": expires_in})

    async def _invalidate(self, token: str) -> None:
        """Forget ``token``, unless another process has already replaced it with a newer one."""
        async with self._lock:
            if self._token == token:
                self._token = ""
                self._expires = 0.0
            shared = await self._shared_token()
            if shared is not None and shared[0] == token and self._redis is not None:
                with contextlib.suppress(*FAILURES):
                    await self._redis.delete(self._redis_key)

    @staticmethod
    async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
        if resp.status != 200:
            raise WeChatApiError(-1, f"HTTP {resp.status}")
        try:
            data = json.loads(await resp.read())
        except (ValueError, UnicodeDecodeError):
            raise WeChatApiError(-1, "answer is not JSON") from None
        if not isinstance(data, dict):
            raise WeChatApiError(-1, "answer is not a JSON object")
        return data

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        for attempt in (1, 2):
            token = await self.access_token()
            async with self._session.post(
                self._url(path),
                params={"access_token": token},
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self._timeout,
            ) as resp:
                data = await self._json(resp)
            if data.get("errcode") in TOKEN_ERRORS and attempt == 1:
                logger.warning("wechat token rejected (%s), refetching once", data.get("errcode"))
                await self._invalidate(token)
                continue
            _raise_for(data)
            return data
        raise AssertionError("unreachable")

    async def send_text(self, openid: str, content: str) -> None:
        await self._post(
            "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": content}}
        )

    async def send_image(self, openid: str, media_id: str) -> None:
        await self._post(
            "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}}
        )

    async def get_media(self, media_id: str, max_bytes: int, allowed: tuple[str, ...]) -> Media:
        """Download a citizen's picture or voice; refuse a type or size we do not keep."""
        for attempt in (1, 2):
            token = await self.access_token()
            async with self._session.get(
                self._url("/cgi-bin/media/get"),
                params={"access_token": token, "media_id": media_id},
                timeout=self._timeout,
            ) as resp:
                ctype = resp.content_type.lower()
                if ctype in ("application/json", "text/plain"):
                    data = await self._json(resp)
                    if data.get("errcode") in TOKEN_ERRORS and attempt == 1:
                        await self._invalidate(token)
                        continue
                    _raise_for(data)
                    raise WeChatApiError(-2, "media/get answered JSON without a file")
                if resp.status != 200:
                    raise WeChatApiError(-1, f"HTTP {resp.status}")
                if ctype not in allowed:
                    raise MediaRejected(f"content type {ctype} not accepted")
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise MediaRejected(f"{resp.content_length} bytes > {max_bytes}")
                # To the end or past the limit: read(n) may stop at any chunk, and a file cut short
                # must never be kept as if it were whole.
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaRejected(f"more than {max_bytes} bytes")
                    chunks.append(chunk)
                content = b"".join(chunks)
                if resp.content_length is not None and size != resp.content_length:
                    raise WeChatApiError(-3, f"media/get ended after {size} of {resp.content_length} bytes")
                filename = ""
                disp = resp.headers.get("Content-Disposition", "")
                if "filename=" in disp:
                    filename = disp.split("filename=", 1)[1].strip().strip('"')
                return Media(ctype, content, filename)
        raise AssertionError("unreachable")
