"""Every PDF of the process, a report's or a 提醒函's, is drawn on the one PDF lane: when it is
full, a report and a letter alike are refused at once with a 503, counted and logged."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import REGISTRY

from hotline import offload
from reports.http import respond
from supervision.letters import LetterService
from supervision.models import SvLetter
from supervision.settings import SupervisionSettings
from workorders.core.calendar import WorkCalendar


class NoOrders:
    """Supervision's work-order port: a letter's page needs only the calendar's time zone."""

    def calendar(self) -> WorkCalendar:
        return WorkCalendar()

    async def order(self, order_id: int) -> None:
        return None

    async def recent(self) -> list[Any]:
        return []

    async def unit_names(self) -> dict[str, str]:
        return {}


def letter() -> SvLetter:
    at = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
    return SvLetter(
        number="如皋12345提〔2026〕第1号",
        unit_name="市水务局",
        facts="第7号工单已超期。",
        request="请立即办理。",
        deadline=at + dt.timedelta(days=3),
        issued_at=at,
    )


def refused(edge: str) -> float:
    return REGISTRY.get_sample_value("hotline_refused_total", {"edge": edge, "reason": "pdf_busy"}) or 0.0


class Held:
    """The PDF lane's one thread held and every waiting place taken, until released."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        lane = offload.PDF
        self.tasks = [asyncio.create_task(lane.thread(self.gate.wait, 10)) for _ in range(lane.workers + lane.waiting)]

    async def release(self) -> None:
        self.gate.set()
        await asyncio.gather(*self.tasks)


@pytest.fixture
async def full_lane() -> AsyncIterator[Held]:
    held = Held()
    await asyncio.sleep(0)  # each has taken its place: one running, the others waiting
    try:
        yield held
    finally:
        await held.release()


async def test_the_lane_is_one_thread_with_a_bounded_queue() -> None:
    assert (offload.PDF.workers, offload.PDF.processes) == (1, False)
    assert 4 <= offload.PDF.waiting <= 16  # the letters' test asks 4 at once; more would stall


async def test_a_full_pdf_lane_refuses_a_report_and_a_letter_at_once(
    full_lane: Held, caplog: pytest.LogCaptureFixture
) -> None:
    letters = LetterService(None, SupervisionSettings(), NoOrders(), "secret")  # type: ignore[arg-type]
    request = make_mocked_request("GET", "/api/reports/daily/2026-03-10?format=pdf")
    before = {edge: refused(edge) for edge in ("reports", "supervision")}
    caplog.set_level(logging.WARNING, logger="hotline.guard")
    for edge, asking in (("reports", respond(request, {}, "daily-2026-03-10")), ("supervision", letters.pdf(letter()))):
        with pytest.raises(web.HTTPServiceUnavailable) as err:
            await asyncio.wait_for(asking, 1)  # refused now, never queued behind the others
        assert err.value.headers["Retry-After"] == str(offload.PDF_RETRY_AFTER_S)
        assert err.value.text is not None
        assert json.loads(err.value.text) == {"error": "busy", "detail": "PDF 生成繁忙，请稍后再试"}
        assert refused(edge) == before[edge] + 1
        assert any(getattr(r, "edge", None) == edge and r.getMessage() == "refused" for r in caplog.records)


async def test_the_lane_takes_pdfs_again_once_its_queue_drains(full_lane: Held) -> None:
    with pytest.raises(offload.Busy):
        await offload.PDF.thread(str, "x")
    await full_lane.release()
    assert await asyncio.wait_for(offload.PDF.thread(threading.current_thread), 5) is not threading.current_thread()
