"""Tables of the internet channels: conversations, every message in and out, stored media."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.storage import Base


class ChannelConversation(Base):
    """One citizen's chat with the hotline; becomes one ACD contact (channel wechat / webchat)."""

    __tablename__ = "channel_conversations"
    __table_args__ = (Index("ix_channel_conversations_open", "channel", "citizen", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    citizen: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    seat: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    last_citizen_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    workorder_id: Mapped[str] = mapped_column(String(64), default="")


class ChannelMessage(Base):
    """A message as it arrived (stored before WeChat is answered) or as a seat sent it."""

    __tablename__ = "channel_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Empty for pushes outside any conversation (a subscribe event from a citizen who never wrote).
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("channel_conversations.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    citizen: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(3))
    dedup_key: Mapped[str | None] = mapped_column(String(96), unique=True, default=None)
    kind: Mapped[str] = mapped_column(String(40))
    supported: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(24))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raw: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime]
    stored_at: Mapped[dt.datetime]


class ChannelMedia(Base):
    """A picture or voice file fetched from WeChat (media/get) and kept under data_dir."""

    __tablename__ = "channel_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("channel_messages.id"), unique=True)
    media_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(String(255), default="")
    fetched_at: Mapped[dt.datetime]
