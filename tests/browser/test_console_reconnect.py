"""The seat's page across an engine that changes under it (``kill -9`` and a start again on the
same port: what a failover to the hot standby looks like from the page, behind HAProxy): the page
reconnects by itself and signs the seat in again as it was — ready, or not ready with its reason —
without a reload; a seat that had signed out stays out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.security.engine import PASSWORD, running_engine

ENV = {"HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}


async def login(page: Any, base: str, user: str) -> None:
    await page.goto(base + "/console/")
    await page.fill("#login-user", user)
    await page.fill("#login-pass", PASSWORD)
    await page.click("#login-submit")


async def test_the_console_signs_the_seat_in_again_after_the_engine_changed_under_it(
    browser: Any, tmp_path: Path
) -> None:
    accounts: list[tuple[str, str, str | None]] = [("1001", "seat", None), ("1002", "seat", None)]
    async with running_engine(tmp_path, ENV, accounts) as engine:
        pages = []
        for user in ("1001", "1002"):
            page = await (await browser.new_context()).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            await login(page, engine.base, user)
            await expect(page.locator("#state-badge")).to_have_text("未签入")
            await page.select_option("#media-kind", "chat")
            await page.click("#btn-login")
            await expect(page.locator("#state-badge")).to_have_text("示忙（login）")
            pages.append((page, errors))
        ready, gone = pages[0][0], pages[1][0]
        await ready.click("#btn-ready")
        await expect(ready.locator("#state-badge")).to_have_text("空闲")
        await gone.click("#btn-logout")
        await expect(gone.locator("#state-badge")).to_have_text("未签入")

        await ready.evaluate("document.getElementById('toast').replaceChildren()")
        engine.kill9()
        await expect(ready.locator("#conn")).to_have_text("连接中断，正在恢复…")
        await engine.restart()
        # The page was never reloaded: it reconnected and signed in again, ready as before.
        await expect(ready.locator("#conn")).to_have_text("已连接", timeout=20_000)
        await expect(ready.locator("#state-badge")).to_have_text("空闲", timeout=20_000)
        await expect(ready.locator("#toast")).to_contain_text("已自动重新签入")
        await expect(gone.locator("#conn")).to_have_text("已连接", timeout=20_000)
        await expect(gone.locator("#state-badge")).to_have_text("未签入")

        # Not ready with a reason: the same again after the next change.
        reason = await ready.locator("#reason option").first.get_attribute("value")
        assert reason
        await ready.select_option("#reason", reason)
        await ready.click("#btn-not-ready")
        await expect(ready.locator("#state-badge")).to_have_text(f"示忙（{reason}）")
        await ready.evaluate("document.getElementById('toast').replaceChildren()")
        engine.kill9()
        await expect(ready.locator("#conn")).to_have_text("连接中断，正在恢复…")
        await engine.restart()
        await expect(ready.locator("#conn")).to_have_text("已连接", timeout=20_000)
        await expect(ready.locator("#toast")).to_contain_text("已自动重新签入")
        await expect(ready.locator("#state-badge")).to_have_text(f"示忙（{reason}）", timeout=20_000)
        await expect(ready.locator("#btn-login")).to_be_disabled()
        for _, errors in pages:
            assert errors == []
