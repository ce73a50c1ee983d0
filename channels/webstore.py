"""Chat messages stored a batch at a time: a web visitor's messages and any seat's replies.

``store`` is one transaction with a fixed number of statements whatever the batch holds (read the
conversations concerned, insert the new ones, update the changed ones, insert the messages), in
plain synchronous Core: ``hotline.storage.Transactions`` runs it in the database's own thread on
SQLite and through ``run_sync`` elsewhere. Rules come from the conversation table
(``core/conversation.py``); a seat's message to a conversation that is closed or missing is
refused alone, never the batch. The statements themselves are ``channels/websql.py``'s: Core on
PostgreSQL, the driver's own connection on SQLite.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection

from channels.core.conversation import next_state
from channels.sink import ConversationRef, MessageRef
from channels.websql import Statements, statements
from hotline import outbox

LEFT_MESSAGE_ORDER = "web_message_order"  # outbox kind: the work order of a message left on the website


@dataclass(frozen=True)
class CitizenMessage:
    """A web visitor's message (text, image, leave_message) to their open conversation.
    ``sent_as``: the page's own id for it, the same when the page sends it again."""

    visitor: str
    phone: str
    kind: str
    body: dict[str, Any]
    sent_as: str | None = None

    @property
    def key(self) -> str | None:
        return f"web:{self.visitor[:48]}:{self.sent_as}" if self.sent_as else None


@dataclass(frozen=True)
class SeatMessage:
    """A seat's message to a conversation of any channel (``sent_as``: the console's id for it)."""

    conversation_id: int
    seat: str
    kind: str
    body: dict[str, Any]
    sent_as: str | None = None

    @property
    def key(self) -> str | None:
        return f"seat:{self.seat[:48]}:{self.sent_as}" if self.sent_as else None


@dataclass(frozen=True)
class StoredReply:
    """A seat's message as stored: ``sent`` for web chat (pushed next), ``sending`` or
    ``held_window`` for WeChat (its API comes next, or the citizen's next message)."""

    message_id: int
    channel: str
    citizen: str
    status: str
    at: dt.datetime
    repeat: bool = False  # sent again under the same id: stored the first time, not pushed again


@dataclass(frozen=True)
class Refused:
    """Why a seat's message was not stored (shown to the seat, Chinese)."""

    reason: str


@dataclass
class _Conv:
    id: int
    channel: str
    citizen: str
    state: str
    seat: str
    flags: dict[str, Any]
    last_citizen_at: dt.datetime | None = None
    new: bool = False
    changed: bool = False  # state, seat or flags: the whole row is written
    wrote: bool = False  # the citizen wrote in this batch: at least the times are written
    refs: int = field(default=0)  # messages of this batch that named it as new already


StoredIn = tuple[ConversationRef, MessageRef]


def store(
    conn: Connection, citizens: list[CitizenMessage], seats: list[SeatMessage], now: dt.datetime
) -> tuple[list[StoredIn], list[StoredReply | Refused]]:
    """Store both kinds in one transaction; results in the order of the given lists.

    A message sent again under the same sender's id (a page or console whose acknowledgement was
    lost to a restart or a cut network sends it again) is not stored twice: its sender hears of
    the first one, marked ``repeat``, and nobody is told of it again."""
    sql = statements(conn)
    keys = [k for k in (*(m.key for m in citizens), *(m.key for m in seats)) if k]
    if not keys:
        return _store(conn, sql, citizens, seats, now)
    found = {row.dedup_key: row for row in sql.by_keys(keys)}
    first: dict[str, int] = {}  # key -> index of its first message in this batch
    new_in = [i for i, m in enumerate(citizens) if _is_new(m.key, i, found, first)]
    first_out: dict[str, int] = {}
    new_out = [i for i, m in enumerate(seats) if _is_new(m.key, i, found, first_out)]
    stored_in, stored_out = _store(conn, sql, [citizens[i] for i in new_in], [seats[i] for i in new_out], now)
    done_in = dict(zip(new_in, stored_in, strict=True))
    done_out = dict(zip(new_out, stored_out, strict=True))
    convs = {r.conversation_id for r in found.values() if r.conversation_id is not None}
    current = {row.id: row for row in sql.conversations((), sorted(convs))} if convs else {}
    out_in: list[StoredIn] = []
    for i, m in enumerate(citizens):
        if i in done_in:
            out_in.append(done_in[i])
        elif m.key in found:
            row = found[m.key]
            c = current[cast(int, row.conversation_id)]  # a chat message always has one
            conv = _conversation_ref(_Conv(c.id, c.channel, c.citizen, c.state, c.seat, dict(c.flags or {})), False)
            msg = MessageRef(row.id, "in", row.kind, True, row.kind != "leave_message", dict(row.body), row.at, True)
            out_in.append((conv, msg))
        else:  # twice in this very batch
            conv, msg = done_in[first[str(m.key)]]
            out_in.append((conv, _repeat(msg)))
    out_out: list[StoredReply | Refused] = []
    for i, s in enumerate(seats):
        if i in done_out:
            out_out.append(done_out[i])
        elif s.key in found:
            row = found[s.key]
            c = current[cast(int, row.conversation_id)]  # a chat message always has one
            out_out.append(StoredReply(row.id, c.channel, c.citizen, row.status, row.at, repeat=True))
        else:
            again = done_out[first_out[str(s.key)]]
            out_out.append(again if isinstance(again, Refused) else _repeat_reply(again))
    return out_in, out_out


def _is_new(key: str | None, index: int, found: dict[str, Any], first: dict[str, int]) -> bool:
    if key is None:
        return True
    if key in found or key in first:
        return False
    first[key] = index
    return True


def _repeat(msg: MessageRef) -> MessageRef:
    return MessageRef(msg.id, msg.direction, msg.kind, msg.supported, msg.asks_seat, msg.body, msg.at, True)


def _repeat_reply(reply: StoredReply) -> StoredReply:
    return StoredReply(reply.message_id, reply.channel, reply.citizen, reply.status, reply.at, repeat=True)


def _store(
    conn: Connection, sql: Statements, citizens: list[CitizenMessage], seats: list[SeatMessage], now: dt.datetime
) -> tuple[list[StoredIn], list[StoredReply | Refused]]:
    visitors = sorted({m.visitor for m in citizens})
    ids = sorted({m.conversation_id for m in seats})
    by_id: dict[int, _Conv] = {}
    open_web: dict[str, _Conv] = {}
    for row in sql.conversations(visitors, ids):
        conv = _Conv(row.id, row.channel, row.citizen, row.state, row.seat, dict(row.flags or {}), row.last_citizen_at)
        by_id[conv.id] = conv
        if conv.channel == "webchat" and conv.state != "closed":
            open_web[conv.citizen] = conv  # the newest open one, as ids grow
    # Citizens' messages: into the open conversation, or a new one.
    placed: list[_Conv] = []
    fresh: list[_Conv] = []
    for m in citizens:
        found = open_web.get(m.visitor)
        if found is None:
            conv = _Conv(0, "webchat", m.visitor, "queued", "", {}, new=True)
            fresh.append(conv)
            if m.kind != "leave_message":
                open_web[m.visitor] = conv
        else:
            conv = found
            state = next_state(conv.state, "citizen_message")
            conv.changed = conv.changed or state != conv.state
            conv.state = state
        if m.phone and conv.flags.get("phone") != m.phone:
            conv.flags = {**conv.flags, "phone": m.phone}
            conv.changed = True
        if m.kind == "leave_message":
            # A message left while nobody is on duty: its own, already-closed conversation.
            conv.state = "closed"
            conv.flags = {**conv.flags, "left_message": True}
            conv.changed = True
        conv.last_citizen_at = now
        conv.wrote = True
        placed.append(conv)
    # Seats' messages: refused alone when the conversation is gone or over.
    replies: list[tuple[SeatMessage, _Conv] | Refused] = []
    for s in seats:
        target = by_id.get(s.conversation_id)
        if target is None:
            replies.append(Refused(f"会话 {s.conversation_id} 不存在"))
        elif target.state == "closed":
            replies.append(Refused("会话已结束，不能再回复"))
        else:
            if target.state == "queued":
                # Writing to a waiting citizen means the seat has taken the conversation.
                target.state = next_state(target.state, "seat_assigned")
                target.seat = s.seat[:64]
                target.changed = True
            replies.append((s, target))
    if fresh:
        rows = [
            {
                "channel": c.channel,
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
        for conv, new_id in zip(fresh, sql.insert_conversations(rows), strict=True):
            conv.id = new_id
    changed = [c for c in by_id.values() if c.changed]
    if changed:
        sql.change_conversations(
            [
                {
                    "conv_id": c.id,
                    "state": c.state,
                    "seat": c.seat,
                    "updated_at": now,
                    "last_citizen_at": c.last_citizen_at,
                    "flags": c.flags,
                }
                for c in changed
            ],
        )
    touched = [c for c in by_id.values() if c.wrote and not c.changed]
    if touched:
        sql.touch_conversations([{"conv_id": c.id, "updated_at": now, "last_citizen_at": now} for c in touched])
    messages = [_citizen_row(m, conv, now) for m, conv in zip(citizens, placed, strict=True)]
    messages += [_seat_row(r[0], r[1], now) for r in replies if not isinstance(r, Refused)]
    new_ids = sql.insert_messages(messages)
    stored_in: list[tuple[ConversationRef, MessageRef]] = []
    for m, conv, message_id in zip(citizens, placed, new_ids, strict=False):
        first = conv.new and conv.refs == 0
        conv.refs += 1
        ref = MessageRef(message_id, "in", m.kind, True, m.kind != "leave_message", dict(m.body), now)
        stored_in.append((_conversation_ref(conv, first), ref))
        if m.kind == "leave_message":
            # Its work order follows this commit, whatever happens to the process meanwhile.
            outbox.add(
                conn, LEFT_MESSAGE_ORDER, f"webchat-{conv.id}", {"conversation": conv.id, "message": message_id}, now
            )
    out_ids = iter(new_ids[len(citizens) :])
    stored_out: list[StoredReply | Refused] = []
    for r in replies:
        if isinstance(r, Refused):
            stored_out.append(r)
        else:
            s, conv = r
            stored_out.append(StoredReply(next(out_ids), conv.channel, conv.citizen, _reply_status(conv), now))
    return stored_in, stored_out


def _reply_status(conv: _Conv) -> str:
    if conv.channel == "webchat":
        return "sent"  # a visitor's page is reached over its socket: stored as sent, pushed right after
    return "held_window" if conv.state == "window_closed" else "sending"


def _citizen_row(m: CitizenMessage, conv: _Conv, now: dt.datetime) -> dict[str, Any]:
    return {
        "conversation_id": conv.id,
        "channel": "webchat",
        "citizen": m.visitor,
        "direction": "in",
        "dedup_key": m.key,
        "kind": m.kind,
        "supported": True,
        "status": "received",
        "body": m.body,
        "raw": "",
        "at": now,
        "stored_at": now,
    }


def _seat_row(s: SeatMessage, conv: _Conv, now: dt.datetime) -> dict[str, Any]:
    return {
        "conversation_id": conv.id,
        "channel": conv.channel,
        "citizen": conv.citizen,
        "direction": "out",
        "dedup_key": s.key,
        "kind": s.kind,
        "supported": True,
        "status": _reply_status(conv),
        "body": {**s.body, "seat": s.seat[:64]},
        "raw": "",
        "at": now,
        "stored_at": now,
    }


def _conversation_ref(conv: _Conv, new: bool) -> ConversationRef:
    menu = conv.flags.get("menu")
    # The console and the repeat-caller rule know a visitor who gave a phone by that number.
    citizen = conv.flags.get("phone") or conv.citizen
    skills = (f"menu:{menu}",) if menu else ()
    return ConversationRef(conv.id, conv.channel, citizen, conv.state, conv.seat, new, skills, dict(conv.flags))
