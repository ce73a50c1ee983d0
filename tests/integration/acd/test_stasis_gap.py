"""A call to 12345 while no engine holds the Stasis application (the second of a takeover, a
restart) is not hung up: the dialplan rings and asks again until an engine is there."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import pytest

from tests.integration.acd.voice_harness import next_port, start_sipp

pytestmark = pytest.mark.integration


async def test_a_call_arriving_while_no_engine_holds_the_application_waits_for_one(settings):
    a = settings.asterisk
    auth = "Basic " + base64.b64encode(f"{a.ari_user}:{a.ari_password}".encode()).decode()
    base = f"http://{a.host}:{a.http_port}/ari"
    async with aiohttp.ClientSession(headers={"Authorization": auth}) as http:
        # No engine here: an earlier test's engine may have left the application registered but
        # inactive (no websocket), and Stasis() fails for it as for an unknown one.
        caller = await start_sipp(
            "caller_hangup.xml",
            f"127.0.0.1:{a.sip_port}",
            next_port(),
            *("-s", "12345", "-key", "caller", "13800000091", "-d", "1000"),
        )
        try:
            await asyncio.sleep(2.5)  # five tries of Stasis() have failed by now
            assert caller.proc.returncode is None, "the caller was hung up with no engine there"

            # The engine comes (its events websocket subscribes the application): the caller
            # enters it at the next try, and is answered.
            ws_url = f"ws://{a.host}:{a.http_port}/ari/events?app={a.app_name}&subscribeAll=false"
            async with http.ws_connect(ws_url) as ws:
                started = None
                async with asyncio.timeout(5):
                    async for msg in ws:
                        event = json.loads(msg.data)
                        if event.get("type") == "StasisStart":
                            started = event
                            break
                assert started is not None and started["channel"]["caller"]["number"] == "13800000091"
                assert started["args"] == ["inbound"]
                channel = started["channel"]["id"]
                async with http.post(f"{base}/channels/{channel}/answer") as r:
                    assert r.status == 204, await r.text()
                assert await caller.wait(20) == 0, caller.out  # answered, then hung up by the citizen
        finally:
            await caller.kill()
