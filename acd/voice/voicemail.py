"""After hours or in overload the IVR lets the citizen leave a voice message: it becomes a new
work order (受理) with the recording attached, linked to the call.

The recording is Asterisk's file; the order follows it through the outbox (``hotline.outbox``):
the row is written as soon as the recording ends, then carried out at once. An engine killed
before the order (or its attachment, a commit of its own) was stored opens or completes it at its
next start; an outage of the database is tried again. Before, a message whose order was not yet
committed at a kill stayed a file nobody would hear."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from acd.voice.core import events as ev
from acd.voice.core.call import Call
from acd.voice.core.machine import step
from hotline import outbox
from hotline.clock import engine_time
from hotline.context import AppContext
from hotline.dbhealth import unavailable

logger = logging.getLogger(__name__)

VOICE_MESSAGE = "voice_message_order"  # outbox kind; key: the call's contact id and the recording


def _recording(ctx: AppContext, name: str) -> Path:
    from hotline.layout import paths

    return paths(ctx.settings).root / "var/spool/asterisk/recording" / f"{name}.wav"


_LATER: set[asyncio.Task[None]] = set()
RETRY_EVERY_S = 5.0
RETRY_FOR_S = 3600.0


async def _add(ctx: AppContext, payload: dict[str, Any]) -> None:
    now = dt.datetime.fromtimestamp(engine_time(), dt.UTC)
    key = f"{payload['contact_id']}:{payload['recording']}"
    async with ctx.engine.begin() as conn:
        await conn.run_sync(outbox.add, VOICE_MESSAGE, key, payload, now)


async def _add_later(ctx: AppContext, payload: dict[str, Any]) -> None:
    """The row of a message recorded while the database was away: tried every few seconds for
    an hour (what an engine's memory can promise; the file stays in Asterisk's spool anyway)."""
    for _ in range(int(RETRY_FOR_S / RETRY_EVERY_S)):
        await asyncio.sleep(RETRY_EVERY_S)
        try:
            await _add(ctx, payload)
        except Exception as exc:
            if not unavailable(exc):
                logger.exception("voice message not filed", extra={"recording": payload["recording"]})
                return
            continue
        ctx.outbox.wake()
        return
    logger.error("voice message not filed: the database stayed away", extra={"recording": payload["recording"]})


def install(ctx: AppContext) -> None:
    """Register the outbox's handler (the ACD plugin does at start, so rows an earlier run left
    are carried out)."""
    if VOICE_MESSAGE not in ctx.outbox.handlers:
        ctx.outbox.register(VOICE_MESSAGE, lambda key, payload: _file(ctx, payload))


async def _file(ctx: AppContext, payload: dict[str, Any]) -> None:
    """The outbox row: the call's order with the recording, once. An order already opened for the
    call gets the recording if it lacks it; a recording gone from the disk is logged and dropped;
    a database failure is raised, and the outbox tries again."""
    workorders = ctx.deps.workorders
    if workorders is None:
        return
    name, contact_id = str(payload["recording"]), str(payload["contact_id"])
    try:
        data = await asyncio.to_thread(_recording(ctx, name).read_bytes)
    except FileNotFoundError:
        logger.warning("voice message gone from the disk; no work order", extra={"recording": name})
        return
    files = [(f"{name}.wav", "audio/wav", data)]
    try:
        found = await workorders.order_for_contact(contact_id)
        if found is not None:
            await workorders.attach_missing(found, files)
            return
        await workorders.create_from_contact(
            channel="voice_message",
            content="市民语音留言（见附件录音）",
            caller=str(payload.get("caller", "")),
            contact_id=contact_id,
            created_by="system",
            attachments=files,
        )
    except Exception as exc:
        if unavailable(exc):
            raise
        # Refused input (a recording past the attachment limit, say): trying again changes nothing.
        logger.warning("voice message: work order not opened", extra={"recording": name, "cause": str(exc)})


async def voice_message_to_work_order(ctx: AppContext, call: Call, name: str) -> int | None:
    """The recording ``name`` of ``call`` as a work order: its outbox row, then carried out now;
    the order's id (None without the work-order service, or while it cannot be stored yet)."""
    if ctx.deps.workorders is None:
        logger.warning("voice message kept in Asterisk only: no work-order service", extra={"recording": name})
        return None
    if ctx.settings.asterisk.external:
        logger.warning("voice message left on the external Asterisk", extra={"recording": name})
        return None
    install(ctx)
    payload = {"contact_id": call.contact_id, "caller": call.caller, "recording": name}
    try:
        await _add(ctx, payload)
    except Exception as exc:
        if not unavailable(exc):
            raise
        # The database is away: the row is written when it is back (the call goes on meanwhile).
        task = asyncio.create_task(_add_later(ctx, payload), name=f"voice-message-{name}")
        _LATER.add(task)
        task.add_done_callback(_LATER.discard)
        return None
    await ctx.outbox.carry_out()
    order = await ctx.deps.workorders.order_for_contact(call.contact_id)
    if order is not None:
        step(call, ev.VoiceMessageFiled(engine_time(), order, name))
    return order
