"""The statements of a chat batch (``channels/webstore.py``), on either database.

``webstore.store`` decides what a batch writes; this module only runs it. On PostgreSQL it runs as
SQLAlchemy Core statements built once (``CoreStatements``). On SQLite, where the batch runs in the
database's own thread (``hotline.storage.Transactions``), the same statements go straight to the
``sqlite3`` connection under the transaction SQLAlchemy opened (``SqliteStatements``): Core's
execution path (parameter processing, result wrapping, the insert-many machinery) cost about
two-thirds of a batch's CPU there, 0.5 ms against 0.16 ms for five messages measured alone, and
in a busy engine, where the thread wakes up on cold caches, about 1 ms a batch (40 % of the
engine's CPU per chat message). Values are written as Core writes them (``DateTime`` as
``YYYY-MM-DD HH:MM:SS.ffffff``, the zone dropped; JSON as ``hotline.storage``'s serializer; booleans
as 1/0) and read back as Core reads them, so that every other reader sees the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol, cast

import orjson
from sqlalchemy import Connection, Table, and_, bindparam, insert, or_, select, update

from channels.models import ChannelConversation, ChannelMessage
from hotline.storage import driver_errors

CONV = cast(Table, ChannelConversation.__table__)
MSG = cast(Table, ChannelMessage.__table__)
CONV_COLUMNS = ("id", "channel", "citizen", "state", "seat", "flags", "last_citizen_at")
KEY_COLUMNS = ("id", "conversation_id", "dedup_key", "kind", "body", "at", "status")
NEW_CONV_COLUMNS = (
    "channel",
    "citizen",
    "state",
    "seat",
    "created_at",
    "updated_at",
    "last_citizen_at",
    "flags",
    "draft",
    "workorder_id",
)
MSG_COLUMNS = (
    "conversation_id",
    "channel",
    "citizen",
    "direction",
    "dedup_key",
    "kind",
    "supported",
    "status",
    "body",
    "raw",
    "at",
    "stored_at",
)
CHANGE_COLUMNS = ("state", "seat", "updated_at", "last_citizen_at", "flags")
_JSON = {"flags", "draft", "body"}
_TIMES = {"created_at", "updated_at", "last_citizen_at", "at", "stored_at"}
# SQLite allows 32,766 bound values a statement (a batch holds at most 500 messages of 12 each).
_CHUNK = 1000  # values of an IN list
_MAX_VALUES = 30000  # values of one INSERT


class ConvRow(NamedTuple):
    id: int
    channel: str
    citizen: str
    state: str
    seat: str
    flags: dict[str, Any] | None
    last_citizen_at: dt.datetime | None


class KeyRow(NamedTuple):
    """A stored message found by its sender's id."""

    id: int
    conversation_id: int | None
    dedup_key: str
    kind: str
    body: dict[str, Any]
    at: dt.datetime
    status: str


class Statements(Protocol):
    def by_keys(self, keys: Sequence[str]) -> list[KeyRow]: ...

    def conversations(self, visitors: Sequence[str], ids: Sequence[int]) -> list[ConvRow]:
        """Open web-chat conversations of these visitors and any conversation of these ids, by id."""
        ...

    def insert_conversations(self, rows: Sequence[dict[str, Any]]) -> list[int]: ...

    def change_conversations(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows with ``conv_id`` and every column of ``CHANGE_COLUMNS``."""
        ...

    def touch_conversations(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows with ``conv_id``, ``updated_at`` and ``last_citizen_at``."""
        ...

    def insert_messages(self, rows: Sequence[dict[str, Any]]) -> list[int]: ...


def statements(conn: Connection) -> Statements:
    """The batch's statements for this connection's database."""
    if conn.dialect.name == "sqlite":
        return SqliteStatements(conn)
    return CoreStatements(conn)


# ---- PostgreSQL (and any other database): Core, statements built once ------------------------
_COLUMNS = select(*(CONV.c[name] for name in CONV_COLUMNS))
_OPEN_WEB = and_(
    CONV.c.channel == "webchat",
    CONV.c.citizen.in_(bindparam("visitors", expanding=True)),
    CONV.c.state != "closed",
)
_BY_ID = CONV.c.id.in_(bindparam("ids", expanding=True))
_READ = {
    (True, False): _COLUMNS.where(_OPEN_WEB).order_by(CONV.c.id),
    (False, True): _COLUMNS.where(_BY_ID).order_by(CONV.c.id),
    (True, True): _COLUMNS.where(or_(_OPEN_WEB, _BY_ID)).order_by(CONV.c.id),
}
_NEW_CONV = insert(CONV).returning(CONV.c.id, sort_by_parameter_order=True)
# A citizen's message to an open conversation usually changes only its times.
_TOUCH = (
    update(CONV)
    .where(CONV.c.id == bindparam("conv_id"))
    .values(updated_at=bindparam("updated_at"), last_citizen_at=bindparam("last_citizen_at"))
)
_CHANGE = (
    update(CONV).where(CONV.c.id == bindparam("conv_id")).values(**{name: bindparam(name) for name in CHANGE_COLUMNS})
)
_NEW_MSG = insert(MSG).returning(MSG.c.id, sort_by_parameter_order=True)
_BY_KEY = select(*(MSG.c[name] for name in KEY_COLUMNS)).where(MSG.c.dedup_key.in_(bindparam("keys", expanding=True)))


class CoreStatements:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def by_keys(self, keys: Sequence[str]) -> list[KeyRow]:
        return [KeyRow(*row) for row in self.conn.execute(_BY_KEY, {"keys": list(keys)})]

    def conversations(self, visitors: Sequence[str], ids: Sequence[int]) -> list[ConvRow]:
        if not visitors and not ids:
            return []
        read = _READ[bool(visitors), bool(ids)]
        return [ConvRow(*row) for row in self.conn.execute(read, {"visitors": list(visitors), "ids": list(ids)})]

    def insert_conversations(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        return list(self.conn.execute(_NEW_CONV, list(rows)).scalars()) if rows else []

    def change_conversations(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(_CHANGE, list(rows))

    def touch_conversations(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(_TOUCH, list(rows))

    def insert_messages(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        return list(self.conn.execute(_NEW_MSG, list(rows)).scalars()) if rows else []


# ---- SQLite: the driver's own connection, inside SQLAlchemy's transaction -----------------------
def _value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    if name in _TIMES:
        return cast(dt.datetime, value).strftime("%Y-%m-%d %H:%M:%S.%f")  # the zone dropped, as Core does
    if isinstance(value, bool):
        return int(value)
    return value


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqliteStatements:
    _SELECT_CONV = f"SELECT {', '.join(CONV_COLUMNS)} FROM channel_conversations"
    _OPEN_WEB = "(channel = 'webchat' AND citizen IN ({}) AND state != 'closed')"
    _TOUCH = "UPDATE channel_conversations SET updated_at = ?, last_citizen_at = ? WHERE id = ?"
    _CHANGE = f"UPDATE channel_conversations SET {', '.join(f'{c} = ?' for c in CHANGE_COLUMNS)} WHERE id = ?"

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        self._raw: Any = raw  # sqlite3.Connection, already in the transaction SQLAlchemy began

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with driver_errors(sql):
            return list(self._raw.execute(sql, params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        with driver_errors(sql):
            self._raw.executemany(sql, params)

    def by_keys(self, keys: Sequence[str]) -> list[KeyRow]:
        found = []
        for part in _chunks(keys):
            sql = f"SELECT {', '.join(KEY_COLUMNS)} FROM channel_messages WHERE dedup_key IN ({_marks(len(part))})"
            for r in self.execute(sql, tuple(part)):
                found.append(KeyRow(r[0], r[1], r[2], r[3], _json(r[4]), cast(dt.datetime, _time(r[5])), r[6]))
        return found

    def conversations(self, visitors: Sequence[str], ids: Sequence[int]) -> list[ConvRow]:
        rows: dict[int, ConvRow] = {}
        parts_v, parts_i = list(_chunks(visitors)), list(_chunks(ids))
        for n in range(max(len(parts_v), len(parts_i))):
            v = parts_v[n] if n < len(parts_v) else ()
            i = parts_i[n] if n < len(parts_i) else ()
            where = []
            if v:
                where.append(self._OPEN_WEB.format(_marks(len(v))))
            if i:
                where.append(f"id IN ({_marks(len(i))})")
            sql = f"{self._SELECT_CONV} WHERE {' OR '.join(where)}"
            for r in self.execute(sql, (*v, *i)):
                rows[r[0]] = ConvRow(r[0], r[1], r[2], r[3], r[4], _json(r[5]), _time(r[6]))
        return [rows[k] for k in sorted(rows)]

    def _insert(self, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[int]:
        ids: list[int] = []
        for part in _chunks(rows, _MAX_VALUES // len(columns)):
            values = [_value(c, row.get(c)) for row in part for c in columns]
            one = f"({_marks(len(columns))})"
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {','.join([one] * len(part))} RETURNING id"
            # The rows of one INSERT take ascending ids in the order given (an INTEGER PRIMARY KEY
            # is one more than the largest): sorted, the ids line up with the rows.
            ids += sorted(r[0] for r in self.execute(sql, values))
        return ids

    def insert_conversations(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        return self._insert("channel_conversations", NEW_CONV_COLUMNS, rows)

    def change_conversations(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            params = [(*(_value(c, r[c]) for c in CHANGE_COLUMNS), r["conv_id"]) for r in rows]
            self.executemany(self._CHANGE, params)

    def touch_conversations(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            params = [
                (_value("updated_at", r["updated_at"]), _value("last_citizen_at", r["last_citizen_at"]), r["conv_id"])
                for r in rows
            ]
            self.executemany(self._TOUCH, params)

    def insert_messages(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        return self._insert("channel_messages", MSG_COLUMNS, rows)
