"""What each Socket.IO event must carry; anything else gets an error ack naming the field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ContactId = Field(min_length=1, max_length=64)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class Empty(In):
    pass


class Login(In):
    phone: Literal["webrtc", "desk", "external"] = "webrtc"
    ready: bool = False
    # what the seat takes: calls and chats, calls only (话务座席), chats only (网络座席, no phone)
    media: Literal["all", "voice", "chat"] = "all"


class NotReady(In):
    reason: str = Field(min_length=1, max_length=32)


class OnContact(In):
    contact_id: str = ContactId


class Mute(OnContact):
    on: bool


class Dtmf(OnContact):
    digits: str = Field(pattern=r"^[0-9*#A-D]{1,32}$")


class Transfer(OnContact):
    target: str = Field(pattern=r"^(seat:[A-Za-z0-9_.@-]{1,64}|queue:[A-Za-z0-9_-]{1,64}|number:[0-9+]{3,20})$")
    attended: bool = False


class Emergency(OnContact):
    service: Literal["police", "fire", "ambulance", "traffic"]


class ThreeParty(OnContact):
    number: str = Field(pattern=r"^[0-9+]{3,20}$")


class ChatSend(OnContact):
    text: str = Field(min_length=1, max_length=2000)
    # the console's own id for this reply: sent again under it, the reply is not sent twice
    cid: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{8,40}$")


class ChatImage(OnContact):
    type: Literal["image/jpeg", "image/png", "image/gif"]
    name: str = Field("", max_length=100)
    data: bytes = Field(min_length=1, max_length=2 * 1024 * 1024)


class ChatRead(OnContact):
    up_to: int = Field(ge=1, le=2**62)


class WrapUp(OnContact):
    disposition: str = Field(min_length=1, max_length=64)
    notes: str = Field("", max_length=20000)


class CreateWorkOrder(OnContact):
    content: str = Field(min_length=1, max_length=20000)
    title: str = Field("", max_length=200)
    order_type: Literal["consult", "help", "suggestion", "complaint", "report"] | None = None
    category: str | None = Field(None, max_length=120)
    address: str = Field("", max_length=200)
    citizen_name: str = Field("", max_length=64)
    confidential: bool = False
    # the console's own id for this form's submission: sent again under it (an acknowledgement lost
    # to a reconnection, a restart), the first order's id comes back and no second order is opened
    cid: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{8,64}$")


class KbSuggestOrder(In):
    """The work order being written, for knowledge suggestions (searched cut to 200 characters)."""

    title: str = Field("", max_length=200)
    content: str = Field("", max_length=20000)


# ---- supervisor ---------------------------------------------------------------------------------
SeatId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")


class OnSeat(In):
    seat_id: str = SeatId


class ForceNotReady(OnSeat):
    reason: str = Field("班长置忙", min_length=1, max_length=32)


class MoveSeat(OnSeat):
    groups: list[str] = Field(max_length=20)
    skills: dict[str, int] | None = None


class Snoop(OnSeat):
    mode: Literal["listen", "whisper", "barge"]
    endpoint: str | None = Field(None, min_length=1, max_length=80)


class StopSnoop(In):
    snoop_id: str = Field(min_length=1, max_length=128)


class Watch(In):
    queues: list[str] = Field(max_length=50)


_MESSAGES = {
    "missing": "缺少此字段",
    "extra_forbidden": "不允许的字段",
    "string_type": "须为文本",
    "bool_type": "须为 true 或 false",
    "int_type": "须为整数",
    "list_type": "须为列表",
    "dict_type": "须为对象",
    "literal_error": "取值不在允许范围内",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "string_pattern_mismatch": "格式不正确",
    "too_long": "条目过多",
}


def parse(model: type[In], data: Any) -> In:
    """The validated event; raises ValueError with one Chinese line naming the first bad field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("请求数据须为 JSON 对象")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "请求"
        text = _MESSAGES.get(err["type"], err["msg"])
        raise ValueError(f"字段 {field}：{text}") from None
