"""Settings of the internet channels (WeChat official account, web chat).

Read from ``HOTLINE_WECHAT__...`` and ``HOTLINE_CHAT__...`` environment variables until the
lead folds these models into ``hotline.settings.Settings`` (then ``load_channel_settings``
goes away and the plugin reads ``settings.wechat`` / ``settings.chat``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hotline.settings import SettingsError


class WeChatSettings(BaseModel):
    """One WeChat official account (公众号) and its server configuration (服务器配置)."""

    token: str = Field("", description="Token entered in the account's server configuration")
    app_id: str = Field("", description="AppID (开发者ID)")
    app_secret: str = Field("", description="AppSecret (开发者密码)")
    encoding_aes_key: str = Field("", description="EncodingAESKey: 43 characters, needed for compatible/safe modes")
    mode: Literal["plain", "compatible", "safe"] = Field(
        "plain", description="message encryption mode (消息加解密方式)"
    )
    api_base_url: str = Field("", description="base URL of WeChat's API; empty: outbound messages not configured")
    timestamp_window: int = Field(300, ge=5, le=86400, description="accept webhook timestamps within ± this many s")
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=1024 * 1024, description="larger webhook bodies get 400")
    dedup_ttl: int = Field(600, ge=30, description="seconds a MsgId is remembered; WeChat retries within 15 s")
    bundle_window: int = Field(
        600, ge=10, description="随手拍: a photo and a location within this many s make one case"
    )
    media_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="largest media file stored")
    media_types: tuple[str, ...] = Field(
        ("image/jpeg", "image/png", "image/gif", "audio/amr", "audio/speex", "audio/mpeg", "video/mp4"),
        description="content types accepted from media/get",
    )
    request_timeout: float = Field(5.0, gt=0, le=60)
    store_wait: float = Field(
        4.0,
        gt=0,
        le=4.8,
        description="s a push waits for its commit before it is kept on disk instead (WeChat waits 5 s per try)",
    )
    outage_spool_bytes: int = Field(
        64 * 1024 * 1024,
        ge=0,
        description="pushes kept on disk while the database is away, at most this many bytes (0: none: "
        "answered 503, and WeChat tries again for about 15 s)",
    )
    commit_window: float = Field(
        0.02,
        ge=0,
        le=0.5,
        description="s the first push of a transaction waits for others while pushes come faster than one per window",
    )

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        if not value:
            return value
        if len(value) != 43:
            raise ValueError("must be 43 characters (the EncodingAESKey shown by the account's settings)")
        try:
            key = base64.b64decode(value + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 text (letters, digits, + and /)") from None
        if len(key) != 32:
            raise ValueError("must decode to a 32-byte AES key")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _mode_needs_key(self) -> WeChatSettings:
        if self.mode != "plain" and not self.encoding_aes_key:
            raise ValueError(f"mode {self.mode} needs encoding_aes_key")
        if self.mode != "plain" and not self.app_id:
            raise ValueError(f"mode {self.mode} needs app_id (it is checked inside every encrypted message)")
        return self

    @property
    def webhook_enabled(self) -> bool:
        return bool(self.token)

    @property
    def api_enabled(self) -> bool:
        return bool(self.api_base_url and self.app_id and self.app_secret)


class ChatSettings(BaseModel):
    """Response-time rules for internet seats (互联网座席实时响应)."""

    realtime_threshold: float = Field(60.0, gt=0, description="T of the real-time response rate, seconds")
    flag_after: float = Field(60.0, gt=0, description="flag a conversation whose citizen waited this long, s")
    reassign_after: float = Field(120.0, gt=0, description="offer it to another seat after this long, s")
    commit_window: float = Field(
        0.010,
        ge=0,
        le=0.1,
        description="s a web visitor's message or a seat's reply waits for others to share its transaction "
        "(10 ms: about 5 messages per transaction at 400/s, 0.78 ms of engine CPU per message against 0.92 at "
        "5 ms, delivery p99 26 ms against 20)",
    )
    storage_hold: float = Field(
        6.0,
        gt=0,
        le=9.0,
        description="s a chat message waits for a database that does not answer before its sender is told to "
        "send it again (under the widget's 10 s)",
    )
    storage_backlog: int = Field(
        2000, ge=10, le=100_000, description="chat messages held at most while the database does not answer"
    )

    @model_validator(mode="after")
    def _order(self) -> ChatSettings:
        if self.reassign_after <= self.flag_after:
            raise ValueError("reassign_after must be greater than flag_after")
        return self


class WebChatSettings(BaseModel):
    """The chat box on the government website (网页在线咨询): page /chat/, Socket.IO /visitor."""

    enabled: bool = Field(True, description="serve /chat/ and the /visitor namespace")
    queue: str = Field("internet", description="ACD queue the conversations wait in")
    max_text: int = Field(1000, ge=10, le=5000, description="longest message a visitor may send, characters")
    image_max_bytes: int = Field(2 * 1024 * 1024, ge=1024, le=20 * 1024 * 1024, description="largest picture")
    flood_rate: float = Field(1.0, gt=0, description="messages per second a visitor may keep sending")
    flood_burst: int = Field(5, ge=1, description="messages a visitor may send at once")
    position_every: float = Field(3.0, gt=0, description="seconds between queue-position updates to waiting visitors")
    rating_window: float = Field(86400.0, gt=0, description="seconds after a chat ends during which it may be rated")


class ChannelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_nested_delimiter="__", extra="ignore")

    wechat: WeChatSettings = WeChatSettings.model_validate({})
    chat: ChatSettings = ChatSettings.model_validate({})
    webchat: WebChatSettings = WebChatSettings.model_validate({})


def load_channel_settings() -> ChannelSettings:
    """Read the channel settings; a wrong value becomes one SettingsError line naming the variable."""
    try:
        return ChannelSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        env = "HOTLINE_" + "__".join(p.upper() for p in loc)
        raise SettingsError(f"setting {'.'.join(loc)} [{env}]: {err['msg']}") from None
