"""Persist a batch of inbound WeChat messages and their conversations in one transaction.

Called by the service's single writer (group commit), through ``hotline.storage.Transactions``
(in the database's own thread on SQLite): plain synchronous Core on statements built once. The
statements per batch are fixed: look up taken keys (on a retry), the open conversations, insert
the new ones, update the changed ones, insert the messages and read their ids. 随手拍 bundles
are detected here, against storage, so the rule holds across restarts and processes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from channels.core.conversation import next_state
from channels.core.inbound import InboundMessage
from channels.core.snap import SnapItem, find_bundle
from channels.models import ChannelConversation, ChannelMessage
from channels.sink import ConversationRef, MessageRef
from hotline import outbox

Stored = tuple[ConversationRef | None, MessageRef, dict[str, Any] | None, bool]
SNAP_ORDER = "snap_workorder"  # outbox kind: the 随手拍 work order of a conversation (key: its contact id)
CONV = cast(Table, ChannelConversation.__table__)
MSG = cast(Table, ChannelMessage.__table__)
_TAKEN = select(MSG.c.dedup_key).where(MSG.c.dedup_key.in_(bindparam("keys", expanding=True)))
_OPEN = (
    select(
        CONV.c.id, CONV.c.citizen, CONV.c.state, CONV.c.seat, CONV.c.flags, CONV.c.last_citizen_at, CONV.c.updated_at
    )
    .where(
        CONV.c.channel == "wechat",
        CONV.c.citizen.in_(bindparam("openids", expanding=True)),
        CONV.c.state != "closed",
    )
    .order_by(CONV.c.id)
)
_NEW_CONV = insert(CONV).returning(CONV.c.id, sort_by_parameter_order=True)
_CHANGE = (
    update(CONV)
    .where(CONV.c.id == bindparam("conv_id"))
    .values(
        state=bindparam("state"),
        flags=bindparam("flags"),
        last_citizen_at=bindparam("last_citizen_at"),
        updated_at=bindparam("updated_at"),
    )
)
# Most messages change only the times: the state a seat may be changing meanwhile is left alone.
_TOUCH = (
    update(CONV)
    .where(CONV.c.id == bindparam("conv_id"))
    .values(last_citizen_at=bindparam("last_citizen_at"), updated_at=bindparam("updated_at"))
)
_NEW_MSG = insert(MSG).returning(MSG.c.id, sort_by_parameter_order=True)
_CONV_IN = (
    select(MSG.c.id, MSG.c.kind, MSG.c.at, MSG.c.body)
    .where(MSG.c.conversation_id == bindparam("conv_id"), MSG.c.direction == "in")
    .order_by(MSG.c.id)
)
_DRAFT = (
    update(CONV).where(CONV.c.id == bindparam("conv_id")).values(draft=bindparam("draft"), flags=bindparam("flags"))
)


@dataclass
class OpenConversation:
    """A citizen's conversation as this batch reads and changes it."""

    id: int
    citizen: str
    state: str
    seat: str
    flags: dict[str, Any]
    last_citizen_at: dt.datetime | None
    updated_at: dt.datetime
    channel: str = "wechat"
    new: bool = False
    changed: bool = False  # state or flags: the whole row is written
    wrote: bool = False  # a message asking for a seat: its times are written


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def timestamp(value: dt.datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def conversation_ref(conv: OpenConversation, new: bool = False) -> ConversationRef:
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


def store_batch(
    conn: Connection,
    batch: list[tuple[InboundMessage, str]],
    now: dt.datetime,
    bundle_window: float,
    check_taken: bool = True,
) -> list[Stored | None]:
    """Store a batch in one transaction with a fixed number of statements, whatever its size;
    None for a message whose key is stored already (a retry)."""
    taken: set[str | None] = set()
    if check_taken:
        taken.update(conn.execute(_TAKEN, {"keys": [msg.dedup_key for msg, _ in batch]}).scalars())
    convs: dict[str, OpenConversation] = {}
    openids = sorted({msg.openid for msg, _ in batch})
    for row in conn.execute(_OPEN, {"openids": openids}):
        convs[row.citizen] = OpenConversation(
            row.id, row.citizen, row.state, row.seat, dict(row.flags or {}), row.last_citizen_at, row.updated_at
        )
    plan: list[tuple[InboundMessage, str, OpenConversation | None, bool, bool] | None] = []
    fresh: list[OpenConversation] = []
    for msg, raw in batch:
        if msg.dedup_key in taken:
            plan.append(None)
            continue
        taken.add(msg.dedup_key)
        conv, new, reopened = _conversation_for(msg, now, convs)
        if new and conv is not None:
            fresh.append(conv)
        plan.append((msg, raw, conv, new, reopened))
    if fresh:
        rows = [
            {
                "channel": "wechat",
                "citizen": c.citizen,
                "state": c.state,
                "seat": "",
                "created_at": now,
                "updated_at": now,
                "last_citizen_at": c.last_citizen_at,
                "flags": c.flags,
                "draft": {},
                "workorder_id": "",
            }
            for c in fresh
        ]
        for conv, new_id in zip(fresh, conn.execute(_NEW_CONV, rows).scalars(), strict=True):
            conv.id = new_id
    changed = [c for c in convs.values() if c.changed and not c.new]
    if changed:
        params = [
            {
                "conv_id": c.id,
                "state": c.state,
                "flags": c.flags,
                "last_citizen_at": c.last_citizen_at,
                "updated_at": c.updated_at,
            }
            for c in changed
        ]
        conn.execute(_CHANGE, params)
    touched = [c for c in convs.values() if c.wrote and not c.changed and not c.new]
    if touched:
        times = [{"conv_id": c.id, "last_citizen_at": c.last_citizen_at, "updated_at": c.updated_at} for c in touched]
        conn.execute(_TOUCH, times)
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
    ids = iter(conn.execute(_NEW_MSG, values).scalars().all() if values else [])
    out: list[Stored | None] = []
    for item in plan:
        if item is None:
            out.append(None)
            continue
        msg, _, conv, new, reopened = item
        ref = MessageRef(next(ids), "in", msg.kind, msg.supported, msg.asks_seat, msg.summary(), utc(msg.create_time))
        draft = None
        if conv is not None and msg.kind in ("image", "location") and not conv.flags.get("snap"):
            draft = _snap(conn, conv, bundle_window)
            if draft is not None:
                # Its work order follows this commit, whatever happens to the process meanwhile.
                outbox.add(conn, SNAP_ORDER, f"wechat-{conv.id}", {"conversation": conv.id}, now)
        out.append((conversation_ref(conv, new) if conv else None, ref, draft, reopened))
    return out


def _conversation_for(
    msg: InboundMessage,
    now: dt.datetime,
    convs: dict[str, OpenConversation],
) -> tuple[OpenConversation | None, bool, bool]:
    """The citizen's open conversation (opened if the message asks for a seat), new?, reopened?"""
    conv = convs.get(msg.openid)
    if not msg.asks_seat:
        # Events (subscribe, menu click) join an open conversation but never open one.
        if conv is not None and msg.kind == "event:click":
            conv.flags = {**conv.flags, "menu": msg.fields.get("EventKey", "")[:64]}
            conv.changed = True
        return conv, False, False
    new = reopened = False
    if conv is None:
        conv = OpenConversation(0, msg.openid, "queued", "", {}, None, now, new=True)
        convs[msg.openid] = conv  # inserted with the batch
        new = True
    else:
        reopened = conv.state == "window_closed"
        state = next_state(conv.state, "citizen_message")
        conv.changed = conv.changed or state != conv.state
        conv.state = state
        if reopened:
            conv.flags = {k: v for k, v in conv.flags.items() if k != "window_closed"}
    if conv.flags.get("quota_exhausted"):
        # A new message from the citizen gives the account a fresh quota of replies.
        conv.flags = {k: v for k, v in conv.flags.items() if k != "quota_exhausted"}
        conv.changed = reopened = True
    conv.last_citizen_at = utc(msg.create_time)
    conv.updated_at = now
    conv.wrote = True
    return conv, new, reopened


def _snap(conn: Connection, conv: OpenConversation, window: float) -> dict[str, Any] | None:
    items: list[SnapItem] = []
    texts: list[str] = []
    for r in conn.execute(_CONV_IN, {"conv_id": conv.id}):
        body = dict(r.body or {})
        if r.kind == "image":
            items.append(SnapItem("photo", timestamp(r.at), r.id, body))
        elif r.kind == "location":
            items.append(SnapItem("location", timestamp(r.at), r.id, body))
        elif r.kind == "text":
            texts.append(str(body.get("text", "")))
    bundle = find_bundle(items, window)
    if bundle is None:
        return None
    draft = bundle.draft("\n".join(texts)[:2000])
    conv.flags = {**conv.flags, "snap": True}
    conn.execute(_DRAFT, {"conv_id": conv.id, "draft": draft, "flags": conv.flags})
    return draft
