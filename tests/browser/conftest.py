"""Headless Debian Chromium driven by Playwright (``executable_path``; never ``playwright install``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_server
from tests.integration.agent_console.harness import Engine, start_engine, stop_engine

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
# Flags seen working for WebRTC in headless Chromium on these machines (shared guide, ASTERISK.md).
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
VENDOR = Path(__file__).resolve().parents[2] / "var" / "frontend" / "console-vendor.js"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        need_server(f"Chromium not found at {CHROMIUM} (Debian package chromium)")
    if not VENDOR.exists():
        need_server("console bundle missing: run bash scripts/frontend.sh (make setup does it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = await start_engine(tmp_path)
    try:
        yield e
    finally:
        await stop_engine(e)
