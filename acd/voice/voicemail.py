"""After hours or in overload the IVR lets the citizen leave a voice message: it becomes a new
work order (受理) with the recording attached, linked to the call."""

from __future__ import annotations

import asyncio
import logging

from acd.voice.core import events as ev
from acd.voice.core.call import Call
from acd.voice.core.machine import step
from hotline.clock import engine_time
from hotline.context import AppContext

logger = logging.getLogger(__name__)


async def voice_message_to_work_order(ctx: AppContext, call: Call, name: str) -> int | None:
    workorders = ctx.deps.workorders
    if workorders is None:
        logger.warning("voice message kept in Asterisk only: no work-order service", extra={"recording": name})
        return None
    if ctx.settings.asterisk.external:
        logger.warning("voice message left on the external Asterisk", extra={"recording": name})
        return None
    from hotline.layout import paths

    path = paths(ctx.settings).root / "var/spool/asterisk/recording" / f"{name}.wav"
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        logger.warning("voice message not readable", extra={"recording": name, "cause": str(exc)})
        return None
    order: int = await workorders.create_from_contact(
        channel="voice_message",
        content="市民语音留言（见附件录音）",
        caller=call.caller,
        contact_id=call.contact_id,
        created_by="system",
        attachments=[(f"{name}.wav", "audio/wav", data)],
    )
    step(call, ev.VoiceMessageFiled(engine_time(), order, name))
    return order
