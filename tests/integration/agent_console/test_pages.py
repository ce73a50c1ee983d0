"""The pages, their security headers and the OpenAPI entries, served by the console plugin."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.integration.agent_console.harness import start_engine, stop_engine


async def test_pages_are_served_with_a_strict_policy_next_to_the_sockets(tmp_path: Path) -> None:
    engine = await start_engine(tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            for path, title in (("/console/", "座席工作台"), ("/supervisor/", "班长监控")):
                resp = await http.get(engine.base + path)
                text = await resp.text()
                assert resp.status == 200 and title in text
                assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
                assert "<script>" not in text  # no inline script: everything from /console/static
            resp = await http.get(engine.base + "/console", allow_redirects=False)
            assert resp.status == 302 and resp.headers["Location"] == "/console/"
            resp = await http.get(engine.base + "/console/static/console.js")
            assert resp.status == 200 and "textContent" in await resp.text()
            resp = await http.get(engine.base + "/console/vendor.js")
            assert resp.status in (200, 503) and resp.content_type == "application/javascript"
        from agent_console.plugin import OPENAPI

        assert "/console/" in OPENAPI["paths"] and "/supervisor/" in OPENAPI["paths"]
        seat = await engine.client("/agent", await engine.account("1001"))
        assert (await seat.call("login"))["ok"]
    finally:
        await stop_engine(engine)
