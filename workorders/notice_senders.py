"""Senders of deadline notices outside the engine, behind one protocol (``Sender``).

A sender delivers one message to one target or raises :class:`SendError` saying whether another
try may succeed; the outbox (``workorders/notices.py``) does the trying. The base URLs are
settings, so the local stand-ins (``workorders/sms_standin.py``, ``workorders/wechat_standin.py``)
and the real services are interchangeable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from workorders.settings import WorkOrderSettings


class SendError(Exception):
    """A sender's refusal; ``retry`` says whether another try may succeed."""

    def __init__(self, code: str, message: str, retry: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retry = retry


@dataclass(frozen=True)
class Message:
    order: int
    kind: str  # warn | escalate
    deadline: str  # label, e.g. 签收
    due: str  # local time, "2026-03-10 11:00"
    title: str
    body: str


class Sender(Protocol):
    """One way of telling a person outside the engine (SMS, WeChat template message)."""

    channel: str

    async def send(self, target: str, message: Message) -> None:
        """Deliver or raise :class:`SendError`; ``target`` is a phone number or an openid."""


# ---- SMS ----------------------------------------------------------------------------------------
PHONE = re.compile(r"1[3-9]\d{9}")


def sms_signature(secret: str, fields: dict[str, str]) -> str:
    """HMAC-SHA256 over the sorted ``k=v`` pairs joined by ``&`` (the gateway checks the same)."""
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign")
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class SmsSender:
    """A signed request to the SMS gateway: app key, registered template and signature 【…】."""

    channel = "sms"
    RETRY = frozenset({"BUSINESS_LIMIT_CONTROL", "SYSTEM_BUSY", "HTTP", "NETWORK"})

    def __init__(
        self,
        url: str,
        app_key: str,
        secret: str,
        sign_name: str,
        template_id: str,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ):
        self.url, self.app_key, self.secret = url.rstrip("/"), app_key, secret
        self.sign_name, self.template_id, self.timeout_s, self.clock = sign_name, template_id, timeout_s, clock

    async def send(self, target: str, message: Message) -> None:
        params = {
            "order": str(message.order),
            "what": message.deadline,
            "due": message.due,
            "status": "已超期" if message.kind == "escalate" else "将至",
        }
        fields = {
            "app_key": self.app_key,
            "timestamp": str(int(self.clock())),
            "nonce": secrets.token_hex(8),
            "phone": target,
            "sign_name": self.sign_name,
            "template_id": self.template_id,
            "params": _json(params),
        }
        fields["sign"] = sms_signature(self.secret, fields)
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.post(f"{self.url}/sms/send", json=fields) as r,
            ):
                if r.status >= 500:
                    raise SendError("HTTP", f"gateway answered {r.status}", True)
                body = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError("NETWORK", f"{type(exc).__name__}: {exc}", True) from None
        code = str(body.get("code", "?")) if isinstance(body, dict) else "?"
        if code != "OK":
            msg = str(body.get("message", "")) if isinstance(body, dict) else str(body)
            raise SendError(code, msg, code in self.RETRY)


def _json(data: dict[str, str]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ---- WeChat template messages ---------------------------------------------------------------------
WX_APPID = re.compile(r"wx[0-9a-f]{16}")
WX_OPENID = re.compile(r"[A-Za-z0-9_-]{28}")
# The template's keywords (新版类目模板): thing ≤ 20 characters, character_string ≤ 32, time.
WX_FIELDS = {"character_string1": 32, "thing2": 20, "time3": 0, "thing4": 20}


class WechatSender:
    """Template messages of an official account: an access token from /cgi-bin/token (kept until
    5 minutes before it expires; fetched again once when the API says it is invalid or expired),
    then POST /cgi-bin/message/template/send?access_token=… with touser, template_id and data."""

    channel = "wechat"
    RETRY = frozenset({-1, 45009, 45047})  # busy, daily quota, too many per user: later may work
    STALE = frozenset({40001, 40014, 42001})  # the token: fetch a new one and try once more

    def __init__(
        self,
        url: str,
        appid: str,
        secret: str,
        template_id: str,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url, self.appid, self.secret, self.template_id = url.rstrip("/"), appid, secret, template_id
        self.timeout_s, self.clock = timeout_s, clock
        self._token: tuple[str, float] | None = None

    @staticmethod
    def data(message: Message) -> dict[str, dict[str, str]]:
        status = "已超期，已升级督办" if message.kind == "escalate" else "期限将至，请及时办理"
        return {
            "character_string1": {"value": str(message.order)},
            "thing2": {"value": f"{message.deadline}{'已超期' if message.kind == 'escalate' else '期限将至'}"[:20]},
            "time3": {"value": message.due},
            "thing4": {"value": status[:20]},
        }

    async def send(self, target: str, message: Message) -> None:
        body: dict[str, Any] = {"touser": target, "template_id": self.template_id, "data": self.data(message)}
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                for attempt in (1, 2):
                    token = await self._access_token(http)
                    answer = await self._call(http, "POST", "/cgi-bin/message/template/send", token, body)
                    code = _errcode(answer)
                    if code in self.STALE and attempt == 1:
                        self._token = None
                        continue
                    if code != 0:
                        raise SendError(str(code), str(answer.get("errmsg", "")), code in self.RETRY)
                    return
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError("NETWORK", f"{type(exc).__name__}: {exc}", True) from None

    async def _access_token(self, http: aiohttp.ClientSession) -> str:
        if self._token is not None and self.clock() < self._token[1]:
            return self._token[0]
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        async with http.get(f"{self.url}/cgi-bin/token", params=params) as r:
            if r.status >= 500:
                raise SendError("HTTP", f"token endpoint answered {r.status}", True)
            answer = await r.json(content_type=None)
        if not isinstance(answer, dict) or "access_token" not in answer:
            code = answer.get("errcode", "?") if isinstance(answer, dict) else "?"
            msg = answer.get("errmsg", "") if isinstance(answer, dict) else str(answer)
            raise SendError(f"token {code}", str(msg), code == -1)
        expires = float(answer.get("expires_in", 7200))
        self._token = (str(answer["access_token"]), self.clock() + max(0.0, expires - 300))
        return self._token[0]

    async def _call(
        self, http: aiohttp.ClientSession, method: str, path: str, token: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode()
        async with http.request(
            method,
            f"{self.url}{path}",
            params={"access_token": token},
            data=data,
            headers={"Content-Type": "application/json"},
        ) as r:
            if r.status >= 500:
                raise SendError("HTTP", f"WeChat answered {r.status}", True)
            answer = await r.json(content_type=None)
        return answer if isinstance(answer, dict) else {"errcode": -1, "errmsg": "not JSON"}


def _errcode(answer: dict[str, Any]) -> int:
    try:
        return int(answer.get("errcode", -1))
    except (TypeError, ValueError):
        return -1


def build_senders(settings: WorkOrderSettings) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    if "sms" in settings.notice_senders:
        senders["sms"] = SmsSender(
            settings.sms_url,
            settings.sms_app_key,
            settings.sms_app_secret,
            settings.sms_sign_name,
            settings.sms_template_id,
        )
    if "wechat" in settings.notice_senders:
        s = settings
        senders["wechat"] = WechatSender(s.wechat_url, s.wechat_appid, s.wechat_secret, s.wechat_template_id)
    return senders
