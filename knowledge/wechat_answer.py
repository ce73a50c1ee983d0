"""WeChat's automatic answers: a citizen's text that a published entry answers with high confidence
is answered at once, before any seat is asked for.

Registered as the channels' pre-routing hook (``ChannelService.before_queue``) when the app
starts. Channels asks it only while the conversation is not queued for a seat, sends the text it
returns through the same delivery as seats' replies, and queues the conversation (with the earlier
exchange in its history) at the first message it does not answer: 转人工, or anything that does not
match again with high confidence. The real-time response clock starts at that hand-over.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.core.refs import ConversationRef, MessageRef
from hotline.context import AppContext
from knowledge.core import autoanswer
from knowledge.core.model import State
from knowledge.services import KnowledgeService, NotFound

logger = logging.getLogger(__name__)

PUBLISHED_CHECK_S = 60.0


class WeChatAnswerSettings(BaseSettings):
    """``HOTLINE_KB_WECHAT__<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_KB_WECHAT__", extra="forbid")

    enabled: bool | None = Field(
        default=None,
        description="None (default): on while the knowledge base has published entries (both databases "
        "rank with the same BM25; precision measured in docs/knowledge.md)",
    )
    threshold: float = Field(
        default=0.3, ge=0.0, le=1.0, description="the top hit's lead over the second (1 - second/first) to answer"
    )
    max_bytes: int = Field(default=autoanswer.WECHAT_TEXT_BYTES, ge=200, le=autoanswer.WECHAT_TEXT_BYTES)


class WeChatAnswerer:
    """The ``BeforeQueue`` hook: the reply's text, or None to let the message go to a seat."""

    def __init__(self, service: KnowledgeService, settings: WeChatAnswerSettings) -> None:
        self.service = service
        self.settings = settings
        self._published: tuple[float, bool] = (float("-inf"), False)

    async def enabled(self) -> bool:
        if self.settings.enabled is not None:
            return self.settings.enabled
        checked_at, any_published = self._published
        now = time.monotonic()
        if now - checked_at >= PUBLISHED_CHECK_S:
            any_published = bool(await self.service.list(State.PUBLISHED.value, limit=1))
            self._published = (now, any_published)
        return any_published

    async def answer(self, text: str) -> str | None:
        """The reply to a citizen's ``text``, or None when no published entry answers it confidently."""
        if not text.strip() or autoanswer.asks_for_person(text) or not await self.enabled():
            return None
        found = await self.service.search(text, None, "public", 2)
        if autoanswer.confidence(found.hits) < self.settings.threshold:
            return None
        try:
            entry = await self.service.get(found.hits[0].id)
        except NotFound:
            return None  # withdrawn meanwhile
        if entry.state is not State.PUBLISHED or entry.expired_on(self.service.today()):
            return None
        seg = self.service.seg
        own = seg.tokens(" ".join([entry.content.question, *entry.content.keywords]))
        if not autoanswer.shares_a_word(seg.tokens(found.query), own, seg.synonyms):
            return None
        return autoanswer.reply_text(entry.content.question, entry.content.answer, self.settings.max_bytes)

    async def __call__(self, conversation: ConversationRef, message: MessageRef) -> str | None:
        if message.kind != "text":
            return None
        reply = await self.answer(str(message.body.get("text", "")))
        if reply is not None:
            logger.info("wechat message answered from the knowledge base", extra={"conversation": conversation.id})
        return reply


ANSWERER = web.AppKey("knowledge_wechat_answerer", WeChatAnswerer)


def install(app: web.Application, ctx: AppContext, service: KnowledgeService, **overrides: Any) -> None:
    answerer = WeChatAnswerer(service, WeChatAnswerSettings(**overrides))
    app[ANSWERER] = answerer

    async def register(_app: web.Application) -> None:
        # Channels install after the knowledge base: their service exists once the app starts.
        channels = ctx.deps.channels
        if channels is None:
            logger.info("no channels service: WeChat answers from the knowledge base are off")
            return
        channels.before_queue = answerer

    app.on_startup.append(register)
