"""Persist a batch of inbound WeChat messages and their conversations in one transaction.

Called by the service's single writer (group commit). The statements per batch are fixed:
look up taken keys and open conversations, insert new conversations, update the others,
insert the messages, read their ids. 随手拍 bundles are detected here, against storage,
so the rule holds across restarts and processes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.core.conversation import next_state
from channels.core.inbound import InboundMessage
from channels.core.snap import SnapItem, find_bundle
from channels.models import ChannelConversation, ChannelMessage
from channels.sink import ConversationRef, MessageRef

Stored = tuple[ConversationRef | None, MessageRef, dict[str, Any] | None, bool]


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def timestamp(value: dt.datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def conversation_ref(conv: ChannelConversation, new: bool = False) -> ConversationRef:
    menu = conv.flags.get("menu")
    return ConversationRef(
        id=conv.id,
        channel=conv.channel,
        citizen=conv.citizen,
        state=conv.state,
        seat=conv.seat,
        new=new,
        skills=(f"menu:{menu}",) if menu else (),
        flags=dict(conv.flags),
    )


async def store_batch(
    s: AsyncSession,
    batch: list[tuple[InboundMessage, str]],
    now: dt.datetime,
    bundle_window: float,
    check_taken: bool = True,
) -> list[Stored | None]:
    """Store a batch in one transaction with a fixed number of round trips, whatever its size.

    Inserts go through Core ``executemany``: the ORM would insert row by row on SQLite to
    read back each primary key, and every row would cost a trip to the database thread.
    """
    keys = [msg.dedup_key for msg, _ in batch]
    taken: set[str | None] = set()
    if check_taken:
        found_keys = await s.execute(select(ChannelMessage.dedup_key).where(ChannelMessage.dedup_key.in_(keys)))
        taken.update(found_keys.scalars())
    openids = sorted({msg.openid for msg, _ in batch})
    convs: dict[str, ChannelConversation | None] = {
        c.citizen: c for c in (await s.execute(_open_query(openids))).scalars()
    }
    plan: list[tuple[InboundMessage, str, ChannelConversation | None, bool, bool] | None] = []
    fresh: dict[str, ChannelConversation] = {}
    for msg, raw in batch:
        if msg.dedup_key in taken:
            plan.append(None)
            continue
        taken.add(msg.dedup_key)
        conv, new, reopened = _conversation_for(msg, now, convs)
        if new and conv is not None:
            fresh[msg.openid] = conv
        plan.append((msg, raw, conv, new, reopened))
    if fresh:
        cols = ("channel", "citizen", "state", "seat", "created_at", "updated_at", "last_citizen_at", "flags")
        # executemany with RETURNING is sent as multi-row INSERTs; rows are matched by citizen, not by order.
        returned = await s.execute(
            insert(ChannelConversation).returning(ChannelConversation.id, ChannelConversation.citizen),
            [{**{c: getattr(v, c) for c in cols}, "draft": {}, "workorder_id": ""} for v in fresh.values()],
        )
        for conv_id, citizen in returned:
            fresh[citizen].id = conv_id
    await s.flush()  # state changes of conversations that already existed
    values = [
        {
            "conversation_id": conv.id if conv else None,
            "channel": "wechat",
            "citizen": msg.openid,
            "direction": "in",
            "dedup_key": msg.dedup_key,
            "kind": msg.kind,
            "supported": msg.supported,
            "status": "received" if msg.supported else "unsupported",
            "body": msg.summary(),
            "raw": raw,
            "at": utc(msg.create_time),
            "stored_at": now,
        }
        for msg, raw, conv, _, _ in filter(None, plan)
    ]
    ids: dict[str | None, int] = {}
    if values:
        found = await s.execute(insert(ChannelMessage).returning(ChannelMessage.dedup_key, ChannelMessage.id), values)
        ids = {k: i for k, i in found}
    out: list[Stored | None] = []
    for item in plan:
        if item is None:
            out.append(None)
            continue
        msg, _, conv, new, reopened = item
        ref = MessageRef(
            ids[msg.dedup_key],
            "in",
            msg.kind,
            msg.supported,
            msg.asks_seat,
            msg.summary(),
            utc(msg.create_time),
        )
        draft = None
        if conv is not None and msg.kind in ("image", "location") and not conv.flags.get("snap"):
            draft = await _snap(s, conv, bundle_window)
        out.append((conversation_ref(conv, new) if conv else None, ref, draft, reopened))
    return out


def _open_query(openids: list[str]) -> Select[ChannelConversation]:
    return (
        select(ChannelConversation)
        .where(
            ChannelConversation.channel == "wechat",
            ChannelConversation.citizen.in_(openids),
            ChannelConversation.state != "closed",
        )
        .order_by(ChannelConversation.id)
    )


def _conversation_for(
    msg: InboundMessage,
    now: dt.datetime,
    convs: dict[str, ChannelConversation | None],
) -> tuple[ChannelConversation | None, bool, bool]:
    """The citizen's open conversation (opened if the message asks for a seat), new?, reopened?"""
    conv = convs.get(msg.openid)
    if not msg.asks_seat:
        # Events (subscribe, menu click) join an open conversation but never open one.
        if conv is not None and msg.kind == "event:click":
            conv.flags = {**conv.flags, "menu": msg.fields.get("EventKey", "")[:64]}
        return conv, False, False
    new = reopened = False
    if conv is None:
        conv = ChannelConversation(
            channel="wechat", citizen=msg.openid, state="queued", seat="", created_at=now, updated_at=now
        )
        conv.flags = {}
        conv.draft = {}
        convs[msg.openid] = conv  # inserted with the batch
        new = True
    else:
        reopened = conv.state == "window_closed"
        conv.state = next_state(conv.state, "citizen_message")
        if reopened:
            conv.flags = {k: v for k, v in conv.flags.items() if k != "window_closed"}
    if conv.flags.get("quota_exhausted"):
        # A new message from the citizen gives the account a fresh quota of replies.
        conv.flags = {k: v for k, v in conv.flags.items() if k != "quota_exhausted"}
        reopened = True
    conv.last_citizen_at = utc(msg.create_time)
    conv.updated_at = now
    return conv, new, reopened


async def _snap(s: AsyncSession, conv: ChannelConversation, window: float) -> dict[str, Any] | None:
    rows = (
        await s.execute(
            select(ChannelMessage)
            .where(ChannelMessage.conversation_id == conv.id, ChannelMessage.direction == "in")
            .order_by(ChannelMessage.id)
        )
    ).scalars()
    items: list[SnapItem] = []
    texts: list[str] = []
    for r in rows:
        if r.kind == "image":
            items.append(SnapItem("photo", timestamp(r.at), r.id, dict(r.body)))
        elif r.kind == "location":
            items.append(SnapItem("location", timestamp(r.at), r.id, dict(r.body)))
        elif r.kind == "text":
            texts.append(str(r.body.get("text", "")))
    bundle = find_bundle(items, window)
    if bundle is None:
        return None
    draft = bundle.draft("\n".join(texts)[:2000])
    conv.draft = draft
    conv.flags = {**conv.flags, "snap": True}
    # Explicit, because a conversation opened in this batch is not an ORM-tracked object.
    await s.execute(
        update(ChannelConversation).where(ChannelConversation.id == conv.id).values(draft=draft, flags=conv.flags)
    )
    return draft
