"""The database side of the knowledge base's requests: seats' questions to units, corrections,
emergency Q&A lists and the use of entries. The rules are the pure core's
(``knowledge.core.requests``); this module reads, asks the core and writes what it decided, and
publishes the emergency lists on the bus for the consoles."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hotline.auth import Account
from hotline.bus import Bus
from knowledge.core import requests as rq
from knowledge.core.lifecycle import Forbidden
from knowledge.core.model import Actor, Entry
from knowledge.core.sanitize import sanitize_html
from knowledge.index import utc
from knowledge.models import KbEntry, KbVersion
from knowledge.requests_models import KbEmergency, KbFlag, KbQuery, KbUsage
from knowledge.services import Conflict, KnowledgeService, NotFound

logger = logging.getLogger(__name__)

Q = KbQuery.__table__
F = KbFlag.__table__
EM = KbEmergency.__table__
U = KbUsage.__table__
E = KbEntry.__table__
V = KbVersion.__table__
ACC = Account.__table__

# What the consoles listen to (agent_console builds the pinned panel against this contract):
# {"action": "published" | "withdrawn", "list": {"id", "title", "items": [{"question", "answer"}],
# "unit", "published_at"}}.
EMERGENCY_TOPIC = "kb.emergency"
EMERGENCY_MAX_ITEMS = 200
EMERGENCY_TITLE_CHARS = 200
EMERGENCY_QUESTION_CHARS = 500
EMERGENCY_ANSWER_CHARS = 5000
NOTE_CHARS = 2000


class BadInput(ValueError):
    """Input refused at the edge (400); the message is for the user, in Chinese."""


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def query_of(r: Mapping[str, Any]) -> rq.Query:
    return rq.Query(
        id=r["id"],
        question=r["question"],
        unit=r["unit"],
        asked_by=r["asked_by"],
        asked_at=utc(r["asked_at"]),  # type: ignore[arg-type]
        due_at=utc(r["due_at"]),  # type: ignore[arg-type]
        provisional=bool(r["provisional"]),
        state=rq.QueryState(r["state"]),
        entry_id=r["entry_id"],
        contact_id=r["contact_id"],
        answer=r["answer"],
        answered_by=r["answered_by"],
        answered_at=utc(r["answered_at"]),
        late=bool(r["late"]),
    )


def flag_of(r: Mapping[str, Any]) -> rq.Flag:
    return rq.Flag(
        id=r["id"],
        entry_id=r["entry_id"],
        unit=r["unit"],
        reason=r["reason"],
        raised_by=r["raised_by"],
        raised_at=utc(r["raised_at"]),  # type: ignore[arg-type]
        due_at=utc(r["due_at"]),  # type: ignore[arg-type]
        provisional=bool(r["provisional"]),
        state=rq.FlagState(r["state"]),
        note=r["note"],
        resolved_by=r["resolved_by"],
        resolved_at=utc(r["resolved_at"]),
        late=bool(r["late"]),
    )


def _query_row(q: rq.Query) -> dict[str, Any]:
    return {
        "id": q.id,
        "question": q.question,
        "unit": q.unit,
        "entry_id": q.entry_id,
        "contact_id": q.contact_id,
        "state": q.state.value,
        "asked_by": q.asked_by,
        "asked_at": _utc(q.asked_at),
        "due_at": _utc(q.due_at),
        "provisional": q.provisional,
        "answer": q.answer,
        "answered_by": q.answered_by,
        "answered_at": _utc(q.answered_at) if q.answered_at else None,
        "late": q.late,
    }


def _flag_row(f: rq.Flag) -> dict[str, Any]:
    return {
        "id": f.id,
        "entry_id": f.entry_id,
        "unit": f.unit,
        "reason": f.reason,
        "state": f.state.value,
        "raised_by": f.raised_by,
        "raised_at": _utc(f.raised_at),
        "due_at": _utc(f.due_at),
        "provisional": f.provisional,
        "note": f.note,
        "resolved_by": f.resolved_by,
        "resolved_at": _utc(f.resolved_at) if f.resolved_at else None,
        "late": f.late,
    }


def emergency_json(r: Mapping[str, Any]) -> dict[str, Any]:
    """The list object of the consoles' contract."""
    at = utc(r["published_at"])
    return {
        "id": r["id"],
        "title": r["title"],
        "items": [{"question": i["question"], "answer": i["answer"]} for i in r["items"]],
        "unit": r["unit"],
        "published_at": at.isoformat() if at else None,
    }


def emergency_items(value: Any) -> list[dict[str, str]]:
    """1–200 ``{question, answer}``; answers sanitised (the same subset of HTML as entries)."""
    if not isinstance(value, list) or not 1 <= len(value) <= EMERGENCY_MAX_ITEMS:
        raise BadInput(f"items 须为 1 到 {EMERGENCY_MAX_ITEMS} 项的列表")
    out = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, Mapping):
            raise BadInput(f"items 第 {i} 项须为对象 {{question, answer}}")
        question, answer = item.get("question"), item.get("answer")
        if not isinstance(question, str) or not question.strip() or len(question.strip()) > EMERGENCY_QUESTION_CHARS:
            raise BadInput(f"items 第 {i} 项的 question 须为 1 到 {EMERGENCY_QUESTION_CHARS} 字")
        if not isinstance(answer, str) or len(answer) > EMERGENCY_ANSWER_CHARS * 2:
            raise BadInput(f"items 第 {i} 项的 answer 须为不超过 {EMERGENCY_ANSWER_CHARS} 字的文本")
        safe = sanitize_html(answer)
        if not safe.strip() or len(safe) > EMERGENCY_ANSWER_CHARS:
            raise BadInput(f"items 第 {i} 项的 answer 不能为空，且不超过 {EMERGENCY_ANSWER_CHARS} 字")
        out.append({"question": question.strip(), "answer": safe})
    return out


@dataclass
class RequestService:
    kb: KnowledgeService
    bus: Bus
    # The dispatch directory's unit codes when the work orders run (None: no directory).
    directory: Callable[[], Awaitable[Iterable[str]]] | None = None

    def _ctx(self, days: float) -> rq.Context:
        return rq.Context(self.kb.clock(), self.kb.calendar(), days)

    # ---- units ---------------------------------------------------------------------------------
    async def known_units(self) -> set[str]:
        """Units one may address: the dispatch directory, units with accounts, entries' owners."""
        units: set[str] = set(await self.directory()) if self.directory is not None else set()
        async with self.kb.engine.connect() as conn:
            units |= set((await conn.execute(select(ACC.c.unit_id).where(ACC.c.unit_id.is_not(None)))).scalars())
            units |= set((await conn.execute(select(E.c.unit).distinct())).scalars())
        return units

    async def check_unit(self, unit: str) -> None:
        if unit not in await self.known_units():
            raise BadInput(f"未知单位 {unit}")

    # ---- questions to units --------------------------------------------------------------------
    async def ask(
        self, question: str, unit: str, actor: Actor, entry_id: str | None = None, contact_id: str | None = None
    ) -> rq.Query:
        await self.check_unit(unit)
        if entry_id is not None:
            await self.kb.get(entry_id)  # NotFound: 404
        query = rq.decide_query(
            None,
            rq.Ask(_new_id("KQ"), question, unit, entry_id, contact_id),
            actor,
            self._ctx(self.kb.settings.query_working_days),
        )
        await self.kb.tx.run(lambda conn: conn.execute(insert(Q).values(**_query_row(query))))
        logger.info("kb query asked", extra={"query": query.id, "unit": unit, "actor": actor.username})
        return query

    async def get_query(self, query_id: str) -> rq.Query:
        async with self.kb.engine.connect() as conn:
            row = (await conn.execute(select(Q).where(Q.c.id == query_id))).mappings().first()
        if row is None:
            raise NotFound(f"求助 {query_id} 不存在")
        return query_of(row)

    async def list_queries(self, unit: str | None, state: str | None, limit: int = 200) -> list[rq.Query]:
        now = _utc(self.kb.clock())
        stmt = select(Q).order_by(Q.c.asked_at.desc(), Q.c.id).limit(limit)
        if unit:
            stmt = stmt.where(Q.c.unit == unit)
        if state == "answered":
            stmt = stmt.where(Q.c.state == rq.QueryState.ANSWERED.value)
        elif state == "open":
            stmt = stmt.where(Q.c.state == rq.QueryState.OPEN.value, Q.c.due_at >= now)
        elif state == "overdue":
            stmt = stmt.where(Q.c.state == rq.QueryState.OPEN.value, Q.c.due_at < now)
        async with self.kb.engine.connect() as conn:
            return [query_of(r) for r in (await conn.execute(stmt)).mappings()]

    async def answer(
        self, query_id: str, text: str, actor: Actor, entry_fields: Mapping[str, Any] | None = None
    ) -> tuple[rq.Query, Entry | None]:
        """Records the unit's answer; with ``entry_fields`` also creates a draft entry of the unit
        from the question and the answer (through KnowledgeService: versions, index, rules)."""
        old = await self.get_query(query_id)
        new = rq.decide_query(old, rq.Answer(text), actor, self._ctx(self.kb.settings.query_working_days))
        if entry_fields is not None:
            from knowledge.core.validate import content_from

            fields = {"question": old.question, "answer": text, "category": "待分类", **entry_fields, "unit": old.unit}
            content_from(fields)  # an entry that cannot be made is refused before the answer is stored

        def write(conn: Connection) -> None:
            res = conn.execute(
                update(Q).where(Q.c.id == query_id, Q.c.state == old.state.value).values(**_query_row(new))
            )
            if res.rowcount != 1:
                raise Conflict(f"求助 {query_id} 已被答复")

        await self.kb.tx.run(write)
        entry = None
        if entry_fields is not None:
            entry = await self.kb.create(fields, Actor(actor.username, actor.role, old.unit))
            await self.kb.tx.run(
                lambda conn: conn.execute(update(Q).where(Q.c.id == query_id).values(made_entry=entry.id))
            )
        logger.info(
            "kb query answered",
            extra={"query": query_id, "unit": old.unit, "late": new.late, "entry": entry.id if entry else None},
        )
        return new, entry

    # ---- corrections ---------------------------------------------------------------------------
    async def flag(self, entry_id: str, reason: str, actor: Actor) -> rq.Flag:
        entry = await self.kb.get(entry_id)
        if await self.open_flags([entry_id]):
            raise Conflict(f"条目 {entry_id} 已有待处理的纠错")
        flag = rq.decide_flag(
            None,
            rq.Raise(_new_id("KF"), entry_id, entry.content.unit, reason),
            actor,
            self._ctx(self.kb.settings.correction_working_days),
        )
        await self.kb.tx.run(lambda conn: conn.execute(insert(F).values(**_flag_row(flag))))
        logger.info("kb entry flagged", extra={"flag": flag.id, "entry": entry_id, "unit": flag.unit})
        return flag

    async def get_flag(self, flag_id: str) -> rq.Flag:
        async with self.kb.engine.connect() as conn:
            row = (await conn.execute(select(F).where(F.c.id == flag_id))).mappings().first()
        if row is None:
            raise NotFound(f"纠错 {flag_id} 不存在")
        return flag_of(row)

    async def list_flags(
        self, entry_id: str | None, unit: str | None, state: str | None, limit: int = 200
    ) -> list[rq.Flag]:
        stmt = select(F).order_by(F.c.raised_at.desc(), F.c.id).limit(limit)
        if entry_id:
            stmt = stmt.where(F.c.entry_id == entry_id)
        if unit:
            stmt = stmt.where(F.c.unit == unit)
        if state:
            stmt = stmt.where(F.c.state == state)
        async with self.kb.engine.connect() as conn:
            return [flag_of(r) for r in (await conn.execute(stmt)).mappings()]

    async def open_flag_rows(self, entry_ids: Iterable[str]) -> dict[str, rq.Flag]:
        ids = list(dict.fromkeys(entry_ids))
        if not ids:
            return {}
        stmt = select(F).where(F.c.entry_id.in_(ids), F.c.state == rq.FlagState.OPEN.value)
        async with self.kb.engine.connect() as conn:
            return {(f := flag_of(r)).entry_id: f for r in (await conn.execute(stmt)).mappings()}

    async def open_flags(self, entry_ids: Iterable[str]) -> dict[str, str]:
        """``{entry id: reason}`` of the entries with an open flag (seats see a warning)."""
        return {k: f.reason for k, f in (await self.open_flag_rows(entry_ids)).items()}

    async def _last_edit(self, entry_id: str) -> dt.datetime | None:
        stmt = (
            select(func.max(V.c.at))
            .join(E, E.c.pk == V.c.entry_pk)
            .where(E.c.id == entry_id, V.c.action.in_(["edit", "import"]))
        )
        async with self.kb.engine.connect() as conn:
            return utc((await conn.execute(stmt)).scalar_one_or_none())

    async def resolve(self, flag_id: str, note: str, dismiss: bool, actor: Actor) -> rq.Flag:
        old = await self.get_flag(flag_id)
        ctx = self._ctx(self.kb.settings.correction_working_days)
        event: rq.FlagEvent = rq.Dismiss(note) if dismiss else rq.Resolve(note, await self._last_edit(old.entry_id))
        new = rq.decide_flag(old, event, actor, ctx)

        def write(conn: Connection) -> None:
            res = conn.execute(
                update(F).where(F.c.id == flag_id, F.c.state == old.state.value).values(**_flag_row(new))
            )
            if res.rowcount != 1:
                raise Conflict(f"纠错 {flag_id} 已处理")

        await self.kb.tx.run(write)
        logger.info("kb flag closed", extra={"flag": flag_id, "state": new.state.value, "late": new.late})
        return new

    # ---- emergency lists -----------------------------------------------------------------------
    async def publish_emergency(self, title: str, items: list[dict[str, str]], actor: Actor) -> dict[str, Any]:
        row = {
            "id": _new_id("EM"),
            "title": title,
            "items": items,
            "unit": actor.unit or "",
            "state": "published",
            "created_by": actor.username,
            "published_at": _utc(self.kb.clock()),
            "withdrawn_by": "",
            "withdrawn_at": None,
        }
        await self.kb.tx.run(lambda conn: conn.execute(insert(EM).values(**row)))
        out = emergency_json(row)
        logger.info("kb emergency list published", extra={"list": row["id"], "items": len(items)})
        await self.bus.publish(EMERGENCY_TOPIC, {"action": "published", "list": out})
        return out

    async def withdraw_emergency(self, list_id: str, actor: Actor) -> dict[str, Any]:
        async with self.kb.engine.connect() as conn:
            row = (await conn.execute(select(EM).where(EM.c.id == list_id))).mappings().first()
        if row is None:
            raise NotFound(f"答疑清单 {list_id} 不存在")
        if actor.role == "unit" and row["unit"] != actor.unit:
            raise Forbidden(f"答疑清单属于单位 {row['unit'] or '热线'}")
        if row["state"] != "published":
            raise Conflict(f"答疑清单 {list_id} 已撤回")
        values = {"state": "withdrawn", "withdrawn_by": actor.username, "withdrawn_at": _utc(self.kb.clock())}

        def write(conn: Connection) -> None:
            res = conn.execute(update(EM).where(EM.c.id == list_id, EM.c.state == "published").values(**values))
            if res.rowcount != 1:
                raise Conflict(f"答疑清单 {list_id} 已撤回")

        await self.kb.tx.run(write)
        out = emergency_json(row)
        logger.info("kb emergency list withdrawn", extra={"list": list_id, "actor": actor.username})
        await self.bus.publish(EMERGENCY_TOPIC, {"action": "withdrawn", "list": out})
        return out

    async def active_emergency(self) -> list[dict[str, Any]]:
        stmt = select(EM).where(EM.c.state == "published").order_by(EM.c.published_at.desc(), EM.c.id)
        async with self.kb.engine.connect() as conn:
            return [emergency_json(r) for r in (await conn.execute(stmt)).mappings()]

    # ---- use of entries ------------------------------------------------------------------------
    async def used(self, entry_id: str) -> None:
        await self.kb.get(entry_id)  # NotFound: 404
        day = self.kb.today()

        def write(conn: Connection) -> None:
            ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(U)
            stmt = ins.values(entry_id=entry_id, day=day, count=1)
            conn.execute(stmt.on_conflict_do_update(index_elements=["entry_id", "day"], set_={"count": U.c.count + 1}))

        await self.kb.tx.run(write)

    async def usage(self, entry_id: str) -> dict[str, int]:
        async with self.kb.engine.connect() as conn:
            rows = (await conn.execute(select(U.c.day, U.c.count).where(U.c.entry_id == entry_id))).all()
        return {d.isoformat(): int(n) for d, n in rows}
