"""Wires seat scheduling into the engine: the service on the running ACD, the API and the page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from acd.voice.api import SeatDevice
from hotline import auth
from hotline.context import AppContext
from hotline.dialplans import dial_policy
from scheduling.core.actions import CloudSeat
from scheduling.http import OPENAPI as _DOC
from scheduling.http import SERVICE, add_routes
from scheduling.pages import add_pages
from scheduling.services import SchedulingService

logger = logging.getLogger(__name__)

OPENAPI = _DOC


def install(app: web.Application, ctx: AppContext) -> None:
    bus = ctx.deps.bus
    acd = ctx.deps.acd
    if acd is None:  # the ACD plugin installs first
        logger.warning("scheduling not installed: the ACD service is missing")
        return

    def cloud_device(seat: CloudSeat) -> None:
        voice = ctx.deps.voice_service
        if voice is None:
            logger.warning("no voice service: cloud seat %s cannot be dialled", seat.seat_id)
            return
        voice.set_device(SeatDevice(seat.seat_id, kind="cloud", number=seat.number, browser=seat.number is None))

    service = SchedulingService(acd, bus, ctx.sessions, cloud_device=cloud_device)
    service.compute = ctx.compute
    service.compute_timeout_s = ctx.settings.security.computation_timeout_s
    service.dial_policy = dial_policy(ctx.settings)
    ctx.deps.scheduling = service
    app[SERVICE] = service
    auth.install(app, ctx)  # no-op when the app already did it
    add_routes(app)
    add_pages(app)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(lifecycle)
