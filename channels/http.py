"""The WeChat webhook: the server-URL handshake (GET) and message pushes (POST).

Order of checks on a push, each before anything is stored: body size, signed timestamp
window (403), signature (403), XML screening (400), decryption (400), parsing (400), and the
signed query accepted before with another body (403, a replay). Only then is the message
stored, and only after it is committed does WeChat hear "success" — or, while the database
cannot take it within ``store_wait``, after it is written to the disk (``channels.spool``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from aiohttp import web
from prometheus_client import Counter, Histogram
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.parser import parse_message
from wechatpy.utils import WeChatSigner

from channels.core.inbound import BadMessage, NonceBook, StaleTimestamp, check_timestamp, normalise
from channels.core.xmlguard import XmlRejected, screen_xml
from channels.services import ChannelService
from channels.settings import WeChatSettings
from channels.spool import PushSpool
from hotline.dbhealth import DATABASE, log_failure, unavailable

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/wechat/webhook"
REJECTED = Counter("hotline_wechat_rejected_total", "WeChat pushes refused", ["reason"])
ACK_SECONDS = Histogram(
    "hotline_wechat_ack_seconds",
    "time from push received to answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)


class Refused(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


def _plain_signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return str(signer.signature)


class WeChatWebhook:
    def __init__(
        self,
        settings: WeChatSettings,
        service: ChannelService,
        clock: Callable[[], float] = time.time,
        spool: PushSpool | None = None,
    ):
        self.settings = settings
        self.service = service
        self.clock = clock
        self.spool = spool
        self.recent_acks: deque[float] = deque(maxlen=100_000)  # seconds, for the benchmark and /metrics
        self.nonces = NonceBook(settings.timestamp_window)
        self.crypto = (
            WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
            if settings.encoding_aes_key
            else None
        )

    def _check_signed(self, request: web.Request) -> tuple[str, str]:
        q = request.query
        timestamp, nonce, signature = q.get("timestamp", ""), q.get("nonce", ""), q.get("signature", "")
        if not (timestamp and nonce and signature) or len(nonce) > 64 or len(signature) != 40:
            raise Refused(403, "unsigned", "signature, timestamp and nonce are required")
        try:
            check_timestamp(timestamp, self.clock(), self.settings.timestamp_window)
        except StaleTimestamp as exc:
            raise Refused(403, "stale", str(exc)) from None
        expected = _plain_signature(self.settings.token, timestamp, nonce)
        if not hmac.compare_digest(expected, signature.lower()):
            raise Refused(403, "signature", "bad signature")
        return timestamp, nonce

    async def handshake(self, request: web.Request) -> web.Response:
        try:
            self._check_signed(request)
        except Refused as exc:
            REJECTED.labels(exc.reason).inc()
            return web.Response(status=exc.status, text=exc.detail)
        echostr = request.query.get("echostr", "")
        if not echostr or len(echostr) > 512:
            return web.Response(status=400, text="echostr required")
        return web.Response(text=echostr)

    async def push(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            fields, raw = await self._read(request)
            msg = normalise(fields)
        except Refused as exc:
            REJECTED.labels(exc.reason).inc()
            logger.warning("wechat push refused (%s): %s", exc.reason, exc.detail)
            return web.Response(status=exc.status, text=exc.detail)
        except BadMessage as exc:
            REJECTED.labels("bad_message").inc()
            logger.warning("wechat push refused (bad_message): %s", exc)
            return web.Response(status=400, text=str(exc))
        if self.spool is not None and self.spool.pending:
            # Pushes wait on the disk for the database: this one joins them, behind, in order.
            return await self._keep(fields, raw, started)
        try:
            async with asyncio.timeout(self.settings.store_wait if self.spool is not None else None):
                result = await self.service.receive_wechat(msg, raw)
        except Exception as exc:
            timed_out = isinstance(exc, TimeoutError)
            if not (timed_out or unavailable(exc)):
                raise
            if not timed_out:  # one log line per outage, a count per push
                DATABASE.failed("wechat pushes", exc)
            return await self._keep(fields, raw, started)
        self._acked(started)
        logger.debug("wechat push %s %s", msg.dedup_key, result.status)
        return web.Response(text="success")

    def _acked(self, started: float) -> None:
        took = time.perf_counter() - started
        ACK_SECONDS.observe(took)
        self.recent_acks.append(took)

    async def _keep(self, fields: dict[str, Any], raw: str, started: float) -> web.Response:
        """On the disk until the database takes it; else 503: WeChat pushes it again (three
        times within about 15 s), and nothing was stored, so a later try is stored once."""
        if self.spool is not None:
            try:
                kept = await self.spool.keep(fields, raw)
            except OSError as exc:  # a full or failing disk: as if there were no spool
                logger.error("wechat spool: push not kept on disk", extra={"error": str(exc)[:200]})
                kept = False
            if kept:
                self._acked(started)
                return web.Response(text="success")
        REJECTED.labels("database_unavailable").inc()
        return web.Response(status=503, text="database unavailable")

    async def replay_kept(self, every_s: float = 1.0) -> None:
        """The spool's pushes to the store, oldest first: at the start (what a kill left on the
        disk) and every ``every_s`` while any wait; the database still away is tried again."""
        if self.spool is None:
            return
        while True:
            if self.spool.pending:
                try:
                    if await self.spool.replay(self._store_kept):
                        DATABASE.answered("wechat spool")
                except Exception as exc:
                    if unavailable(exc):
                        DATABASE.failed("wechat spool", exc)
                    else:
                        log_failure(logger, "wechat spool not handed on", exc, "wechat spool")
            await asyncio.sleep(every_s)

    async def _store_kept(self, fields: dict[str, Any], raw: str) -> None:
        try:
            msg = normalise(fields)
        except BadMessage as exc:  # read and checked before it was kept: never expected
            logger.warning("wechat spool: a kept push no longer reads (%s); skipped", exc)
            return
        await self.service.receive_wechat(msg, raw)

    async def _read(self, request: web.Request) -> tuple[dict[str, Any], str]:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise Refused(400, "oversized", f"body larger than {limit} bytes")
        # read(n) may stop at a TCP chunk boundary, so gather chunks until the end or the limit.
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(16 * 1024):
            size += len(chunk)
            if size > limit:
                raise Refused(400, "oversized", f"body larger than {limit} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        timestamp, nonce = self._check_signed(request)
        encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
        text = self._screen(body)
        if self.settings.mode == "safe" and not encrypted:
            raise Refused(400, "not_encrypted", "safe mode accepts encrypted pushes only")
        if encrypted and self.settings.mode != "plain":
            outer = self._parse(text)
            text = self._decrypt(outer, request.query.get("msg_signature", ""), timestamp, nonce)
        try:
            message = parse_message(text)
        except (ExpatError, KeyError, AttributeError, TypeError, ValueError):
            raise Refused(400, "malformed", "not a WeChat message") from None
        data = getattr(message, "_data", None)
        if not isinstance(data, dict):
            raise Refused(400, "malformed", "not a WeChat message")
        # The signature covers the query's timestamp and nonce, never the body; and whether the body
        # is checked at all (msg_signature) is said by encrypt_type, which is not signed either: a
        # replayer adds it in plain mode (the body is still read as plain XML) or drops it in
        # compatible mode. So every push that gets this far books its signed pair with its body,
        # whatever the query claims: the same pair again with another body is a replay.
        if self.nonces.replayed(int(timestamp), nonce, hashlib.sha256(body).digest(), self.clock()):
            raise Refused(403, "replay", "this signed query came before with another body")
        return data, text

    def _screen(self, body: bytes) -> str:
        try:
            return screen_xml(body, self.settings.max_body_bytes)
        except XmlRejected as exc:
            raise Refused(400, exc.kind, exc.reason) from None

    @staticmethod
    def _parse(text: str) -> dict[str, Any]:
        try:
            doc = xmltodict.parse(text, disable_entities=True)
        except ExpatError as exc:
            raise Refused(400, "malformed", f"XML error: {exc}") from None
        root = doc.get("xml") if isinstance(doc, dict) else None
        if not isinstance(root, dict):
            raise Refused(400, "malformed", "root element must be <xml>")
        return root

    def _decrypt(self, outer: dict[str, Any], msg_signature: str, timestamp: str, nonce: str) -> str:
        if self.crypto is None:
            raise Refused(400, "decrypt", "encrypted push but no EncodingAESKey configured")
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt or not msg_signature:
            raise Refused(400, "decrypt", "Encrypt and msg_signature are required")
        try:
            inner = self.crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except InvalidSignatureException:
            raise Refused(403, "signature", "bad msg_signature") from None
        except InvalidAppIdException:
            raise Refused(400, "decrypt", "message is for another AppID") from None
        except Exception:
            # Bad base64, padding, length or bytes all mean the same to the sender: cannot decrypt.
            raise Refused(400, "decrypt", "cannot decrypt") from None
        return self._screen(inner.encode("utf-8"))
