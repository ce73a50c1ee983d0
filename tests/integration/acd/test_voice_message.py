"""A voice message left in the IVR becomes a work order in 受理 with the recording attached."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from acd.voice.ivr import IvrRunner
from acd.voice.voicemail import voice_message_to_work_order
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.storage import make_engine, make_sessionmaker
from ivr.service import IvrService
from ivr.settings import IvrSettings
from tests.integration.acd.voice_harness import voice_stack
from tests.integration.asterisk import asterisk_settings

pytestmark = pytest.mark.integration
FLOW = Path(__file__).with_name("flows") / "voicemail.toml"


async def test_voice_message_is_recorded_and_attached_to_a_new_work_order(sqlite_url, tmp_path):
    from workorders import plugin as workorders_plugin

    settings = asterisk_settings()
    await upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions)
    workorders_plugin.install(web.Application(), ctx)
    orders: list[int] = []

    async def on_message(call, name):
        orders.append(await voice_message_to_work_order(ctx, call, name))

    ivr = IvrRunner(
        IvrService(
            IvrSettings(
                flow=FLOW,
                prompts_dir=settings.data_dir / "prompts",
                override_dir=settings.data_dir / "prompts-override",
            )
        ),
        sounds_dir=settings.asterisk.sounds_dir,
        on_voice_message=on_message,
    )
    try:
        async with voice_stack(settings, sessions, ivr=ivr.run) as s:
            # The citizen speaks (sipp sends RTP from its echo of the prompt) and then waits.
            caller = await s.call("13800000081", hold_ms=12000)
            assert await caller.wait(30) in (0, 1)  # the IVR may hang up first after its thanks
            rec = await s.record()
        assert orders and orders[0] is not None, rec
        order = await ctx.deps.workorders.get(orders[0])
        attachments = await ctx.deps.workorders.attachments(orders[0])
        assert order.state == "intake"
        assert [a.content_type for a in attachments] == ["audio/wav"]
        assert any(o.get("event") == "voice_message" for o in rec["offers"])
        assert rec["ivr"]["outcome"].startswith("voicemail") or "voicemail" in str(rec["ivr"]["path"])
    finally:
        await engine.dispose()
