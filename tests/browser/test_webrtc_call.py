"""The whole path in a real browser: a seat logs in to the console, its page registers a WebRTC
soft-phone (JsSIP) to the sandbox Asterisk, a sipp citizen dials 12345, the offer appears, the
seat answers in the page and audio flows both ways, then hangs up and is in wrap-up."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from acd.ari.client import AriClient
from hotline import sandbox
from hotline.auth import create_account
from hotline.commands.run import serve
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker
from tests.integration.acd.voice_harness import next_port, start_sipp
from tests.integration.asterisk import SIPP_DIR, asterisk_settings

pytestmark = pytest.mark.browser
MINIMAL_FLOW = Path(__file__).resolve().parents[2] / "ivr" / "flows" / "minimal.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real engine (voice on) against the sandbox, on its own port and SQLite file."""
    box = asterisk_settings()
    monkeypatch.setenv("HOTLINE_IVR__FLOW", str(MINIMAL_FLOW))  # greeting, then a seat: no menu
    db = f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}"
    asterisk = {
        **box.asterisk.model_dump(),
        "voice": True,
        "external": True,
        "config_dir": str(sandbox.paths(box).root / "etc/asterisk"),
    }
    settings = load_settings(data_dir=tmp_path, database_url=db, http={"port": free_port()}, asterisk=asterisk)
    await upgrade(db)
    engine = make_engine(db)
    await create_account(make_sessionmaker(engine), "3001", "seat", "password123")
    await engine.dispose()
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, ready, stop))
    await asyncio.wait_for(ready.wait(), 30)
    a = settings.asterisk
    ari = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
    try:
        yield f"http://127.0.0.1:{settings.http.port}", ari
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
        await ari.close()


def has_endpoint(name: str) -> bool:
    """Whether the seats' PJSIP configuration the engine wrote holds the endpoint (ARI keeps
    listing an endpoint once removed, offline)."""
    path = sandbox.paths(asterisk_settings()).root / "etc/asterisk/pjsip_seats.conf"
    return path.exists() and f"[{name}]" in path.read_text()


async def until(page: Any, expression: str, timeout: float) -> None:
    """Poll a page expression (the console's CSP forbids the eval that wait_for_function uses)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(f"() => Boolean({expression})"):
        if asyncio.get_running_loop().time() > deadline:
            state = await page.evaluate("() => JSON.stringify(window.__phone && window.__phone.stats)")
            raise AssertionError(f"not true within {timeout} s: {expression} (phone: {state})")
        await asyncio.sleep(0.2)


async def test_seat_answers_a_sipp_call_in_the_page_and_audio_flows_both_ways(live_engine, browser) -> None:
    base, ari = live_engine
    page = await (await browser.new_context()).new_page()
    await page.goto(base + "/console/")
    await page.fill("#login-user", "3001")
    await page.fill("#login-pass", "password123")
    await page.click("#login-submit")
    # A seat's SIP endpoint exists only while it is signed in: its password is per sign-in.
    assert not has_endpoint("seat3001")
    await page.select_option("#phone-kind", "webrtc")
    await page.click("#btn-login")
    await until(page, "window.__phone && window.__phone.registered === true", 20)
    await page.click("#btn-ready")
    await expect(page.locator("#state-badge")).to_have_text("空闲")

    # The citizen echoes back every RTP packet it gets: what the page receives came through the call.
    caller = await start_sipp(
        str(SIPP_DIR / "caller.xml"),
        f"127.0.0.1:{asterisk_settings().asterisk.sip_port}",
        next_port(),
        "-s",
        "12345",
        "-key",
        "caller",
        "13800000071",
        "-rtp_echo",
        timeout=90,
    )
    try:
        await expect(page.locator("#offer-card")).to_be_visible(timeout=30000)
        await expect(page.locator("#offer-caller")).to_contain_text("13800000071")
        await page.click("#btn-accept")
        await until(page, "window.__phone.stats.connectionState === 'connected'", 30)
        await until(page, "window.__phone.stats.packetsSent > 100 && window.__phone.stats.packetsReceived > 100", 30)
        await expect(page.locator("#state-badge")).to_have_text("服务中")
        # Asterisk agrees: the seat's leg receives the browser's audio.
        seat_leg = next(c for c in await ari.channels() if c["name"].startswith("PJSIP/seat3001"))
        assert (await ari.rtp_statistics(seat_leg["id"]))["rxcount"] > 50
        await page.click("#btn-hangup")
        # The seat is out of the call (the citizen now hears the satisfaction survey).
        await expect(page.locator("#state-badge")).to_have_text("话后处理", timeout=15000)
        await until(page, "window.__phone.session === null", 15)
        assert has_endpoint("seat3001")
        await page.click("#btn-logout")
        for _ in range(50):
            if not has_endpoint("seat3001"):
                break
            await asyncio.sleep(0.1)
        assert not has_endpoint("seat3001"), "the signed-out seat's endpoint is still there"
    finally:
        await caller.kill()
