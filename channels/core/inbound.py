"""What a WeChat push means to the hotline: one normalised, typed inbound message.

Input is the flat field dict of a parsed push (tag -> text) and the clock value the caller
read; output is a frozen ``InboundMessage``. No parsing and no I/O happen here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Kinds a seat can act on; everything else is stored and shown as unsupported (不支持的消息类型).
SUPPORTED_MESSAGES = frozenset({"text", "image", "voice", "location", "link"})
SUPPORTED_EVENTS = frozenset({"subscribe", "unsubscribe", "click"})
MAX_OPENID = 64
MAX_FIELD = 8192


class BadMessage(ValueError):
    """A push that cannot be a WeChat message (missing sender, bad CreateTime...)."""


class StaleTimestamp(ValueError):
    """The signed timestamp lies outside the accepted window: a replay or a wrong clock."""


@dataclass(frozen=True)
class InboundMessage:
    kind: str  # text, image, voice, location, link, event:<name>, or the raw MsgType when unknown
    openid: str
    account: str
    create_time: int
    msg_id: int | None
    supported: bool
    asks_seat: bool
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        """WeChat retries a push up to three times; the same key means the same message."""
        if self.msg_id is not None:
            return f"msg:{self.msg_id}"
        return f"evt:{self.openid}:{self.create_time}"

    @property
    def is_event(self) -> bool:
        return self.kind.startswith("event:")

    def summary(self) -> dict[str, Any]:
        """The part a seat reads: content by kind, flat and JSON-safe."""
        f = self.fields
        if self.kind == "text":
            return {"text": f.get("Content", "")}
        if self.kind == "image":
            return {"media_id": f.get("MediaId", ""), "pic_url": f.get("PicUrl", "")}
        if self.kind == "voice":
            return {
                "media_id": f.get("MediaId", ""),
                "format": f.get("Format", ""),
                "recognition": f.get("Recognition", ""),
            }
        if self.kind == "location":
            return {
                "latitude": _float(f.get("Location_X", "")),
                "longitude": _float(f.get("Location_Y", "")),
                "scale": f.get("Scale", ""),
                "label": f.get("Label", ""),
            }
        if self.kind == "link":
            return {"title": f.get("Title", ""), "description": f.get("Description", ""), "url": f.get("Url", "")}
        if self.kind == "event:click":
            return {"event_key": f.get("EventKey", "")}
        return {}


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def check_timestamp(timestamp: str, now: float, window: int) -> int:
    """Return the signed timestamp as int when it lies within ``window`` seconds of ``now``."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise StaleTimestamp("timestamp is not a number")
    value = int(timestamp)
    if abs(value - now) > window:
        raise StaleTimestamp(f"timestamp {value} is {value - now:+.0f} s from now (window ±{window} s)")
    return value


class NonceBook:
    """The signed (timestamp, nonce) pairs seen within the timestamp window, with a digest of the
    body each came with. In plain and compatible modes WeChat's signature covers the query only,
    not the body: a captured query string could carry any body. The same pair again with the
    same body is WeChat's own retry (stored once by the message id); with another body, a replay.
    At most ``max_entries`` pairs are kept, the oldest forgotten first."""

    def __init__(self, window: int, max_entries: int = 100_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[int, str], tuple[float, bytes]] = OrderedDict()

    def replayed(self, timestamp: int, nonce: str, digest: bytes, now: float) -> bool:
        while self._seen:
            first = next(iter(self._seen.values()))
            if first[0] >= now and len(self._seen) < self.max_entries:
                break
            self._seen.popitem(last=False)
        key = (timestamp, nonce)
        known = self._seen.get(key)
        if known is not None:
            return known[1] != digest
        self._seen[key] = (timestamp + self.window, digest)
        return False

    def __len__(self) -> int:
        return len(self._seen)


def normalise(raw: Mapping[str, Any]) -> InboundMessage:
    """Turn parsed push fields into an InboundMessage; raise BadMessage on a push nobody sent."""
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if len(value) > MAX_FIELD:
                raise BadMessage(f"field {key} longer than {MAX_FIELD} characters")
            fields[key] = value
        elif value is None:
            fields[key] = ""
        # Nested structures (SendPicsInfo, ScanCodeInfo) belong to event kinds we do not act on.
    openid = fields.get("FromUserName", "")
    if not openid or len(openid) > MAX_OPENID:
        raise BadMessage("FromUserName missing or too long")
    msg_type = fields.get("MsgType", "").strip().lower()
    if not msg_type or len(msg_type) > 32:
        raise BadMessage("MsgType missing")
    create = fields.get("CreateTime", "")
    if not create.isdigit() or len(create) > 12:
        raise BadMessage("CreateTime missing or not a number")
    msg_id: int | None = None
    raw_id = fields.get("MsgId", "") or fields.get("MsgID", "")
    if raw_id:
        if not raw_id.isdigit() or len(raw_id) > 20:
            raise BadMessage("MsgId is not a number")
        msg_id = int(raw_id)
    if msg_type == "event":
        event = fields.get("Event", "").strip().lower()
        if not event:
            raise BadMessage("event push without Event")
        kind = f"event:{event[:32]}"
        supported = event in SUPPORTED_EVENTS
    else:
        kind = msg_type
        supported = msg_type in SUPPORTED_MESSAGES
    # A citizen who writes (or sends something we cannot show) wants a person; subscribing does not.
    asks_seat = not kind.startswith("event:")
    return InboundMessage(
        kind=kind,
        openid=openid,
        account=fields.get("ToUserName", ""),
        create_time=int(create),
        msg_id=msg_id,
        supported=supported,
        asks_seat=asks_seat,
        fields=fields,
    )
