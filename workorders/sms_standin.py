"""A local stand-in for a Chinese SMS gateway, as strict as the real ones, for tests and demos.

``POST /sms/send`` with JSON ``{app_key, timestamp, nonce, phone, sign_name, template_id, params,
sign}``; ``sign`` is HMAC-SHA256 of the sorted ``k=v`` pairs (``workorders.notices.sms_signature``).
It answers ``{"code": "OK", "request_id", "biz_id"}`` or an error code like the real gateways:
a wrong key or signature, a timestamp more than 5 minutes off, a nonce used twice, a number that
is not a mainland mobile number, a signature 【…】 or a template not registered, template
parameters that are missing, extra or longer than 35 characters, and the per-number limits
(1 a minute, 5 an hour, 10 a day: ``BUSINESS_LIMIT_CONTROL``). ``outage`` answers 503 to the next
N requests. Run alone: ``python -m workorders.sms_standin --port 8025``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from workorders.notice_senders import sms_signature

PHONE = re.compile(r"1[3-9]\d{9}")
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
DEFAULT_TEMPLATES = {"SMS_WO_ALERT": "工单${order}${what}期限${due}${status}，请及时处理。"}
LIMITS = ((60, 1), (3600, 5), (86400, 10))  # (window in seconds, messages per number)
REQUIRED = ("app_key", "timestamp", "nonce", "phone", "sign_name", "template_id", "params", "sign")


@dataclass
class SmsGateway:
    app_key: str = "standin-key"
    app_secret: str = "standin-secret"
    signs: frozenset[str] = frozenset({"【12345热线】"})
    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    clock: Callable[[], float] = time.time
    outage: int = 0  # answer 503 to this many requests
    sent: list[dict[str, Any]] = field(default_factory=list)
    _nonces: set[str] = field(default_factory=set)
    _times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def answer(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or any(not isinstance(body.get(k), str) for k in REQUIRED):
            return _err("MISSING_PARAMETER", f"required string fields: {', '.join(REQUIRED)}")
        if body["app_key"] != self.app_key:
            return _err("INVALID_APP_KEY", "app_key not found")
        if not hmac.compare_digest(body["sign"], sms_signature(self.app_secret, body)):
            return _err("SIGNATURE_DOES_NOT_MATCH", "the request signature does not match")
        now = self.clock()
        try:
            stamp = int(body["timestamp"])
        except ValueError:
            return _err("INVALID_TIMESTAMP", "timestamp must be Unix seconds")
        if abs(now - stamp) > 300:
            return _err("TIMESTAMP_EXPIRED", "timestamp more than 5 minutes off")
        if body["nonce"] in self._nonces:
            return _err("NONCE_REUSED", "nonce already used")
        self._nonces.add(body["nonce"])
        phone = body["phone"]
        if not PHONE.fullmatch(phone):
            return _err("MOBILE_NUMBER_ILLEGAL", f"{phone!r} is not a mainland mobile number")
        if body["sign_name"] not in self.signs:
            return _err("SIGN_NAME_ILLEGAL", "signature not registered or not approved")
        template = self.templates.get(body["template_id"])
        if template is None:
            return _err("TEMPLATE_MISSING", "template not registered or not approved")
        try:
            params = json.loads(body["params"])
        except ValueError:
            return _err("TEMPLATE_PARAMS_ILLEGAL", "params must be a JSON object")
        wanted = set(PLACEHOLDER.findall(template))
        if not isinstance(params, dict) or set(params) != wanted:
            return _err("TEMPLATE_PARAMS_ILLEGAL", f"params must be exactly {sorted(wanted)}")
        if any(not isinstance(v, str) or len(v) > 35 for v in params.values()):
            return _err("TEMPLATE_PARAMS_ILLEGAL", "each parameter is a string of at most 35 characters")
        recent = [t for t in self._times[phone] if now - t < 86400]
        for window, most in LIMITS:
            if sum(1 for t in recent if now - t < window) >= most:
                return _err("BUSINESS_LIMIT_CONTROL", f"more than {most} messages in {window} s to this number")
        self._times[phone] = [*recent, now]
        text = body["sign_name"] + PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), template)
        biz_id = uuid.uuid4().hex[:16]
        self.sent.append({"phone": phone, "text": text, "biz_id": biz_id, "at": now})
        return {"code": "OK", "message": "OK", "request_id": uuid.uuid4().hex, "biz_id": biz_id}

    def app(self) -> web.Application:
        async def send(request: web.Request) -> web.Response:
            if self.outage > 0:
                self.outage -= 1
                return web.json_response({"code": "SYSTEM_BUSY", "message": "service unavailable"}, status=503)
            try:
                body = await request.json()
            except ValueError:
                body = None
            return web.json_response(self.answer(body), dumps=lambda d: json.dumps(d, ensure_ascii=False))

        app = web.Application()
        app.router.add_post("/sms/send", send)
        return app


def _err(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": uuid.uuid4().hex}


def main() -> None:  # pragma: no cover - a demo entry point
    p = argparse.ArgumentParser(description="local SMS gateway stand-in")
    p.add_argument("--port", type=int, default=8025)
    p.add_argument("--app-key", default="standin-key")
    p.add_argument("--app-secret", default="standin-secret")
    a = p.parse_args()
    web.run_app(SmsGateway(a.app_key, a.app_secret).app(), host="127.0.0.1", port=a.port)


if __name__ == "__main__":
    main()
