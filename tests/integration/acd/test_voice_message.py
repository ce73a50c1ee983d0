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


def _wav() -> bytes:
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 800)
    return out.getvalue()


async def _restarted(db_url: str, data_dir: Path) -> AppContext:
    """A new engine's context on the same database and folders: what a start after a kill has."""
    from acd.voice import voicemail
    from hotline.settings import load_settings
    from workorders import plugin as workorders_plugin

    settings = load_settings().model_copy(update={"data_dir": data_dir})
    engine = make_engine(db_url)
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    workorders_plugin.install(web.Application(), ctx)
    voicemail.install(ctx)
    return ctx


async def test_a_voice_message_a_kill_cut_off_is_filed_at_the_next_start_with_its_recording_once(sqlite_url, tmp_path):
    """Killed after the recording's outbox row and before the order (first call), or after the
    order and before its attachment (second call): the next start opens the one, completes the
    other, and neither twice."""
    from acd.voice import voicemail
    from hotline.layout import paths
    from workorders.models import WoOrder

    await upgrade(sqlite_url)
    ctx = await _restarted(sqlite_url, tmp_path)
    spool = paths(ctx.settings).root / "var/spool/asterisk/recording"
    spool.mkdir(parents=True)
    wav = _wav()
    for name in ("vm-1", "vm-2"):
        (spool / f"{name}.wav").write_bytes(wav)
    try:
        # The first engine: both rows written, the second call's order stored without its file.
        await voicemail._add(ctx, {"contact_id": "voice-a", "caller": "13800000091", "recording": "vm-1"})
        await voicemail._add(ctx, {"contact_id": "voice-b", "caller": "13800000092", "recording": "vm-2"})
        half = await ctx.deps.workorders.create_from_contact(
            channel="voice_message", content="市民语音留言（见附件录音）", contact_id="voice-b", created_by="system"
        )
    finally:
        await ctx.engine.dispose()

    ctx = await _restarted(sqlite_url, tmp_path)
    try:
        assert await ctx.outbox.carry_out() == 2
        assert await ctx.outbox.carry_out() == 0
        orders = ctx.deps.workorders
        first = await orders.order_for_contact("voice-a")
        assert first is not None and await orders.order_for_contact("voice-b") == half
        for order_id in (first, half):
            atts = await orders.attachments(order_id)
            assert [a.content_type for a in atts] == ["audio/wav"]
            assert orders.attachment_path(atts[0]).read_bytes() == wav
        async with ctx.sessions() as s:
            from sqlalchemy import func, select

            assert await s.scalar(select(func.count()).select_from(WoOrder)) == 2
            row = await s.get(WoOrder, first)
        assert (row.channel, row.citizen_phone, row.state) == ("voice_message", "13800000091", "intake")
    finally:
        await ctx.engine.dispose()
