"""Wires supervision into the engine's app: the 督办 and letter services, the API and the pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hotline import auth
from hotline.context import AppContext
from supervision.http import LETTERS, SERVICE, add_routes
from supervision.kpi import page_section
from supervision.letters import LetterService
from supervision.openapi import OPENAPI as OPENAPI
from supervision.orders import WorkOrderPort
from supervision.pages import add_pages
from supervision.services import SupervisionService
from supervision.settings import load_supervision_settings


def install(app: web.Application, ctx: AppContext) -> None:
    settings = load_supervision_settings(ctx.settings)
    # The work orders may be installed after us or not at all: looked up at each use.
    orders = WorkOrderPort(lambda: ctx.deps.workorders)
    app[SERVICE] = service = SupervisionService(ctx.sessions, settings, orders)
    ctx.deps.supervision = service  # the work orders ask it whether a reply needs the unit's leader
    ctx.deps.kpi_sections.append(page_section(service))  # the closure measure on the KPI page
    app[LETTERS] = letters = LetterService(ctx.sessions, settings, orders, ctx.settings.secret_key)
    auth.install(app, ctx)  # no-op when the app already did it
    add_routes(app)
    add_pages(app)

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        yield
        letters.close()  # the PDF thread

    app.cleanup_ctx.append(lifetime)
