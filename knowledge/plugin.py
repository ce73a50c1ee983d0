"""Wires the knowledge base into the engine's app: the service, the API, a daily expiry watch."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from hotline import auth
from hotline.context import AppContext
from hotline.dbhealth import log_failure
from knowledge.http import SERVICE, add_routes
from knowledge.openapi import OPENAPI as _DOC
from knowledge.segment import segmenter
from knowledge.services import KnowledgeService
from knowledge.settings import load_knowledge_settings
from workorders.core.calendar import WorkCalendar

logger = logging.getLogger(__name__)

EXPIRE_EVERY_S = 3600.0
# The knowledge base's further parts, each a module with ``install(app, ctx, service)`` and
# optionally ``OPENAPI`` (its paths): hotline queries and corrections, the public page and WeChat's
# answers. A part that is missing is skipped.
PARTS = ("requests", "public", "wechat_answer")


def _parts() -> list[Any]:
    return [
        importlib.import_module(f"knowledge.{name}")
        for name in PARTS
        if importlib.util.find_spec(f"knowledge.{name}") is not None
    ]


def _openapi() -> dict[str, Any]:
    doc = {**_DOC, "paths": dict(_DOC.get("paths", {}))}
    components = {key: dict(value) for key, value in _DOC.get("components", {}).items()}
    for part in _parts():
        extra = getattr(part, "OPENAPI", {})
        doc["paths"].update(extra.get("paths", {}))
        for key, value in extra.get("components", {}).items():
            components.setdefault(key, {}).update(value)
    doc["components"] = components
    return doc


OPENAPI: dict[str, Any] = _openapi()


def install(app: web.Application, ctx: AppContext) -> None:
    deps = ctx.deps

    def calendar() -> WorkCalendar:
        # The work orders' calendar (package years, loaded notices, overrides) when they run;
        # otherwise an empty one, on which the one-day rule is answered as provisional.
        return deps.workorders.cal() if deps.workorders is not None else WorkCalendar()

    service = KnowledgeService(ctx.engine, load_knowledge_settings(ctx.settings), calendar)
    app[SERVICE] = service
    deps.knowledge = service  # the consoles' search and suggestions, the channels' answers
    auth.install(app, ctx)  # no-op when the app already did it
    add_routes(app, service.settings.public_searches_per_minute, ctx.settings.security.trusted_proxies)
    for part in _parts():
        part.install(app, ctx, service)
    app.cleanup_ctx.append(_lifetime)


def warm() -> None:
    """A hot standby loads the segmenter's dictionary (≈ 0.6 s) before it may take over."""
    segmenter()


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    await service.start()

    async def expire() -> None:
        while True:
            try:
                done = await service.expire_due()
                if done:
                    logger.info("knowledge entries expired", extra={"count": done})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round tries again; an outage is said once, not traced
                log_failure(logger, "knowledge expiry round failed", exc, "knowledge expiry")
            await asyncio.sleep(EXPIRE_EVERY_S)

    task = asyncio.create_task(expire(), name="knowledge-expire")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await service.close()
