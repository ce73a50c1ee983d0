"""Wires work orders into the engine's app: the service, the API, the pages, a background watch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hotline import auth
from hotline.context import AppContext
from hotline.dbhealth import log_failure
from workorders.approval import open_supervision
from workorders.core import deadlines as dl
from workorders.core.model import order_from_dict
from workorders.http import NOTICES, SERVICE, add_routes
from workorders.models import WoOrder
from workorders.notice_senders import build_senders
from workorders.notices import OUTBOX_KIND, Notices
from workorders.openapi import OPENAPI as _DOC
from workorders.pages import add_pages
from workorders.services import WorkOrderService
from workorders.settings import load_workorder_settings

logger = logging.getLogger(__name__)

# The login routes are installed with the plugin until the app installs them itself, so their
# description travels with it too (merging twice is harmless).
OPENAPI: dict[str, Any] = {
    "paths": {**auth.OPENAPI["paths"], **_DOC["paths"]},
    "components": {
        "schemas": {**auth.OPENAPI["components"]["schemas"], **_DOC["components"]["schemas"]},
        "securitySchemes": auth.OPENAPI["components"]["securitySchemes"],
    },
}
WATCH_SECONDS = 60.0
WAITING = {
    "dispatched": "sign_by",
    "return_requested": "return_by",
    "handling": "reply_by",
    "extension_requested": "reply_by",
    "leader_review": "reply_by",
}


def install(app: web.Application, ctx: AppContext) -> None:
    service = WorkOrderService(ctx.sessions, load_workorder_settings(ctx.settings), ctx.settings.data_dir)
    ctx.deps.workorders = service
    # Supervision may be installed after us or not at all: looked up at each reply.
    service.supervised = lambda order_id, unit: open_supervision(ctx.deps, order_id, unit)
    app[SERVICE] = service
    notices = Notices(
        ctx.sessions,
        service.settings,
        ctx.outbox,
        build_senders(service.settings),
        ctx.deps.bus,
        lambda: service.clock(),
    )
    app[NOTICES] = notices
    if OUTBOX_KIND not in ctx.outbox.handlers:
        # Registered at start, so deliveries an earlier run left waiting are carried out too.
        ctx.outbox.register(OUTBOX_KIND, notices.deliver)
    auth.install(app, ctx)  # no-op when the app already did it
    add_routes(app)
    add_pages(app, ctx.deps.kpi_sections)
    app.cleanup_ctx.append(_watch)


async def scan(service: WorkOrderService) -> dict[str, list[int]]:
    """Orders whose current deadline is in warning or overdue, and those with provisional deadlines."""
    now = service.clock()
    cal, limits = service.cal(), service.settings.limits()
    out: dict[str, list[int]] = {"warning": [], "overdue": [], "provisional": []}
    async with service.sessions() as s:
        rows = (await s.execute(select(WoOrder).where(WoOrder.state.in_(list(WAITING))))).scalars().all()
    for row in rows:
        order = order_from_dict(row.core)
        if order.deadlines is None:
            continue
        if order.deadlines.provisional:
            out["provisional"].append(row.id)
        due = getattr(order.deadlines, WAITING[row.state])
        state = dl.status(cal, order.deadlines.dispatched_at, due, now, limits)
        if state != "ok":
            out[state].append(row.id)
    return out


async def watch_round(service: WorkOrderService, notices: Notices) -> dict[str, list[int]]:
    """One round: the calendar refreshed, the deadline warnings and escalations carried out."""
    await service.refresh_calendar()
    result = await notices.round(service.cal(), service.clock())
    found = await scan(service)
    if found["overdue"] or found["warning"] or result.warned or result.escalated:
        logger.info(
            "work orders near or past due",
            extra={**found, "warned": result.warned, "escalated": result.escalated, "pending": result.pending},
        )
    return found


async def _watch(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    notices = app[NOTICES]

    async def loop() -> None:
        while True:
            try:
                found = await watch_round(service, notices)
                if found["provisional"]:
                    logger.warning(
                        "orders with provisional deadlines: load the missing calendar year (hotline calendar load FILE)",
                        extra={"orders": found["provisional"]},
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database may be briefly away (said once per outage); the next round tries again.
                log_failure(logger, "work-order watch round failed", exc, "work-order watch")
            await asyncio.sleep(WATCH_SECONDS)

    task = asyncio.create_task(loop(), name="workorders-watch")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
