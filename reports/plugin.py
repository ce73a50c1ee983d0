"""Wires the reports into the engine's app: the service, the API and page, and three rounds in the
background: the schedule (daily and monthly reports), the daily data quality run and the spike watch."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from hotline import auth
from hotline.context import AppContext
from hotline.dbhealth import log_failure
from reports.http import SERVICE, add_routes
from reports.openapi import OPENAPI as OPENAPI
from reports.services import ReportService
from reports.settings import load_report_settings
from workorders.core.calendar import WorkCalendar

logger = logging.getLogger(__name__)
SCHEDULE_EVERY_S = 60.0


def install(app: web.Application, ctx: AppContext) -> None:
    deps = ctx.deps
    settings = load_report_settings(ctx.settings)

    def calendar() -> WorkCalendar:
        return deps.workorders.cal() if deps.workorders is not None else WorkCalendar()

    def tz() -> dt.tzinfo:
        return deps.workorders.settings.tz if deps.workorders is not None else settings.tz

    async def publish(event: str, data: dict[str, Any]) -> None:
        await deps.bus.to_supervisors(event, data)  # the supervisors' boards show the spike

    service = ReportService(ctx.sessions, settings, tz=tz, calendar=calendar, publish=publish)
    app[SERVICE] = service
    auth.install(app, ctx)
    add_routes(app)
    app.cleanup_ctx.append(_lifetime)


def warm() -> None:
    """A hot standby loads the segmenter's dictionary before it may take over."""
    from reports.phrases import phrases

    phrases("预热")


async def _every(name: str, seconds: float, work: Callable[[], Awaitable[Any]]) -> None:
    while True:
        try:
            done = await work()
            if done:
                logger.info(f"{name} round", extra={"done": done if isinstance(done, list) else str(done)})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next round tries again; an outage is said once, not traced
            log_failure(logger, f"{name} round failed", exc, name)
        await asyncio.sleep(seconds)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    tasks = [asyncio.create_task(_every("reports spike", service.settings.spike_every_s, service.spike_round))]
    if service.settings.schedule:
        tasks.append(asyncio.create_task(_every("reports schedule", SCHEDULE_EVERY_S, service.scheduled)))
        tasks.append(asyncio.create_task(_every("reports quality", SCHEDULE_EVERY_S, service.quality_round)))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
