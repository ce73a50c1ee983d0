"""The seat's page with its socket on a web gateway (hotline/relay.py), behind a real HAProxy that
sends the pages and the API to the engine and ``/socket.io/`` to the gateway: the engine is killed
(kill -9) and started again; the page's socket is never cut (no 连接中断), the gateway connects it on
the new engine and tells the page to read again, and the page signs the seat in again by itself,
ready as before, without a reload."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import expect

from bench._faults import PrivateRedis
from bench._haproxy import configuration, running, until_checked
from tests.security.engine import PASSWORD, free_port, running_engine

SECRET = "browser-relay-secret-0123456789"


async def test_the_console_on_a_gateway_keeps_its_socket_and_signs_in_again_when_the_engine_changes(
    browser: Any, tmp_path: Path
) -> None:
    (tmp_path / "redis").mkdir()
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    common = {
        "REDIS_URL": redis.url,
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        "HOTLINE_CLUSTER__RELAY_SECRET": SECRET,
        "HOTLINE_SECRET_KEY": "browser-gateway-secret-0123456789abcdef",
    }
    (tmp_path / "engine").mkdir()
    (tmp_path / "gateway").mkdir()
    try:
        async with (
            running_engine(tmp_path / "engine", common, [("1001", "seat", None)]) as engine,
            contextlib.AsyncExitStack() as stack,
        ):
            gw_env = {
                **common,
                "HOTLINE_CLUSTER__ROLE": "gateway",
                "HOTLINE_CLUSTER__NODE": "gw",
                "HOTLINE_CLUSTER__ENGINES": json.dumps([engine.base]),
            }
            async with running_engine(tmp_path / "gateway", gw_env) as gateway:
                listen, stats = free_port(), f"127.0.0.1:{free_port()}"
                config = configuration(
                    *("--listen", f"127.0.0.1:{listen}", "--stats", stats),
                    *("--engine", f"engine={engine.base[7:]}", "--gateway", f"gw={gateway.base[7:]}"),
                )
                stack.enter_context(running(tmp_path, config))
                async with aiohttp.ClientSession() as http:
                    await until_checked(http, stats, {"engine"})
                    await until_checked(http, stats, {"gw"}, backend="gateways")
                base = f"http://127.0.0.1:{listen}"
                page = await (await browser.new_context()).new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                conn_texts: list[str] = []
                await page.expose_function("noteConn", lambda text: conn_texts.append(text))
                await page.goto(base + "/console/")
                await page.fill("#login-user", "1001")
                await page.fill("#login-pass", PASSWORD)
                await page.click("#login-submit")
                await expect(page.locator("#state-badge")).to_have_text("未签入")
                await expect(page.locator("#conn")).to_have_text("已连接")
                # Every text the connection badge shows from now on.
                await page.evaluate(
                    """() => new MutationObserver(() => window.noteConn(document.getElementById('conn').textContent))
                        .observe(document.getElementById('conn'), {childList: true, characterData: true, subtree: true})"""
                )
                await page.select_option("#media-kind", "chat")
                await page.click("#btn-login")
                await page.click("#btn-ready")
                await expect(page.locator("#state-badge")).to_have_text("空闲")
                await page.evaluate("document.getElementById('toast').replaceChildren()")

                engine.kill9()
                await engine.restart()
                # The new engine has the seat signed out; the page, told by its gateway, signs in again.
                await expect(page.locator("#toast")).to_contain_text("已自动重新签入", timeout=20_000)
                await expect(page.locator("#state-badge")).to_have_text("空闲", timeout=20_000)
                await expect(page.locator("#conn")).to_have_text("已连接")
                assert "连接中断，正在恢复…" not in conn_texts, conn_texts  # the socket was never cut
                async with aiohttp.ClientSession() as http:
                    assert await gateway.metric(http, "hotline_relay_replayed_total") == 1
                assert errors == []
    finally:
        redis.stop()
