"""Wires the ACD service into the engine: the bus, the core with its queues, the timer task."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from acd.core import QueueConfigured
from acd.queues import load_queues
from acd.service import AcdService
from hotline.bus import Bus
from hotline.context import AppContext

OPENAPI: dict[str, object] = {}


def install(app: web.Application, ctx: AppContext) -> None:
    bus = ctx.services.setdefault("bus", Bus())
    service = AcdService(bus)
    ctx.services["acd"] = service

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        for queue in load_queues():
            await service.feed(QueueConfigured(now=service.now(), queue=queue))
        service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(lifecycle)
