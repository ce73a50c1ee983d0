"""The knowledge service: the database side of the pure core (entries, versions, import, export)
and the search. Later features (the console's suggestions, the public /kb/ page, WeChat's
automatic answers) call :meth:`KnowledgeService.search` with their audience.

Every change reads the entry, asks the core to decide and writes the new row, its version record
and its index row in one transaction (``hotline.storage.Transactions``: a thread of its own on
SQLite); an UPDATE names the version it read, so of two concurrent changes one wins and the other
gets :class:`Conflict`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.storage import Transactions
from knowledge import metrics
from knowledge.core import lifecycle as lc
from knowledge.core.model import SYSTEM, Actor, Entry, State
from knowledge.core.query import Hit, Ranking, cut, expand, rank
from knowledge.core.validate import InvalidEntry, check_id, content_from
from knowledge.exchange import Line, Refused, digest, parse_lines, to_line
from knowledge.index import (
    SqliteSearcher,
    columns,
    entry_of,
    index_texts,
    sync_search,
    utc,
    write_index,
    write_index_many,
)
from knowledge.models import KbEntry, KbVersion
from knowledge.segment import Segmenter, segmenter
from knowledge.settings import KnowledgeSettings
from workorders.core.calendar import WorkCalendar

logger = logging.getLogger(__name__)

E = KbEntry.__table__
V = KbVersion.__table__
ACTIONS: dict[str, Callable[[Mapping[str, Any]], lc.Event]] = {
    "submit": lambda b: lc.Submit(),
    "review": lambda b: lc.Review(),
    "reject": lambda b: lc.Reject(str(b.get("reason") or "")[:2000]),
    "publish": lambda b: lc.Publish(),
    "withdraw": lambda b: lc.Withdraw(str(b.get("reason") or "")[:2000]),
    "expire": lambda b: lc.Expire(),
}
IMPORT_BATCH = 500


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """Someone else changed the entry first (or the id is taken); reload and try again."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[Refused] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.refused)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": [{"line": r.number, "reason": r.reason} for r in self.refused],
        }


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    query: str  # what was searched (cut to the limit)
    cut: bool
    terms: tuple[str, ...]
    ms: float


@dataclass
class KnowledgeService:
    engine: AsyncEngine
    settings: KnowledgeSettings
    calendar: Callable[[], WorkCalendar] = WorkCalendar
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # set by the requests part (corrections): {entry id: reason} of open flags, for the consoles
    open_flags: Callable[[list[str]], Awaitable[dict[str, str]]] | None = None
    _tx: Transactions | None = None
    _searcher: SqliteSearcher | None = None
    _seg: Segmenter | None = None

    # ---- lifetime ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Loads the segmenter (jieba's dictionary, half a second) off the event loop."""
        self._seg = await asyncio.to_thread(segmenter)
        self._tx = Transactions(self.engine)
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._searcher = SqliteSearcher(str(url.database), self.settings.search_threads)

    async def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        if self._tx is not None:
            await asyncio.to_thread(self._tx.close)

    @property
    def seg(self) -> Segmenter:
        if self._seg is None:
            self._seg = segmenter()
        return self._seg

    @property
    def tx(self) -> Transactions:
        if self._tx is None:
            self._tx = Transactions(self.engine)
        return self._tx

    def today(self) -> dt.date:
        return self.clock().astimezone(self.calendar().tz).date()

    def _ctx(self) -> lc.Context:
        return lc.Context(self.clock(), self.calendar(), self.settings.submit_working_days_ahead)

    # ---- reading -------------------------------------------------------------------------------
    async def get(self, entry_id: str) -> Entry:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(E).where(E.c.id == entry_id))).mappings().first()
        if row is None:
            raise NotFound(f"条目 {entry_id} 不存在")
        return entry_of(row)

    async def history(self, entry_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(V).join(E, E.c.pk == V.c.entry_pk).where(E.c.id == entry_id).order_by(V.c.version, V.c.id)
                )
            ).mappings()
            return [
                {
                    "version": r["version"],
                    "at": at.isoformat() if (at := utc(r["at"])) else None,
                    "actor": r["actor"],
                    "role": r["role"],
                    "action": r["action"],
                    "from": r["from_state"],
                    "to": r["to_state"],
                    "reason": r["reason"],
                    "fields": r["fields"],
                    "data": r["data"],
                }
                for r in rows
            ]

    async def list(self, state: str | None = None, unit: str | None = None, limit: int = 200) -> list[Entry]:
        stmt = select(E).order_by(E.c.updated_at.desc(), E.c.pk.desc()).limit(limit)
        if state:
            stmt = stmt.where(E.c.state == state)
        if unit:
            stmt = stmt.where(E.c.unit == unit)
        async with self.engine.connect() as conn:
            return [entry_of(r) for r in (await conn.execute(stmt)).mappings()]

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(E))).scalar_one())

    async def late_counts(self) -> dict[str, dict[str, int]]:
        """Per unit: entries submitted with an effective date, and those submitted late."""
        stmt = (
            select(E.c.unit, func.count(), func.sum(case((E.c.late.is_(True), 1), else_=0)))
            .where(E.c.submit_by.is_not(None))
            .group_by(E.c.unit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {u: {"with_effective_date": int(n), "late": int(late or 0)} for u, n, late in rows}

    # ---- changing ------------------------------------------------------------------------------
    async def create(self, fields: Mapping[str, Any], actor: Actor) -> Entry:
        entry_id = check_id(fields["id"]) if fields.get("id") else f"KB-{uuid.uuid4().hex[:12]}"
        content = content_from(fields)
        return await self._change(entry_id, lambda _e: lc.Create(entry_id, content), actor, None, creating=True)

    async def edit(self, entry_id: str, fields: Mapping[str, Any], actor: Actor, version: int | None) -> Entry:
        def event(entry: Entry | None) -> lc.Event:
            assert entry is not None
            return lc.Edit(content_from(fields, base=entry.content))

        return await self._change(entry_id, event, actor, version)

    async def act(
        self, entry_id: str, action: str, body: Mapping[str, Any], actor: Actor, version: int | None
    ) -> Entry:
        make = ACTIONS[action]
        return await self._change(entry_id, lambda _e: make(body), actor, version)

    async def _change(
        self,
        entry_id: str,
        make_event: Callable[[Entry | None], lc.Event],
        actor: Actor,
        version: int | None,
        creating: bool = False,
    ) -> Entry:
        ctx = self._ctx()
        seg = self.seg

        def run(conn: Connection) -> lc.Decision:
            row = conn.execute(select(E).where(E.c.id == entry_id)).mappings().first()
            if row is None and not creating:
                raise NotFound(f"条目 {entry_id} 不存在")
            if row is not None and creating:
                raise Conflict(f"条目 {entry_id} 已存在")
            if row is not None and version is not None and row["version"] != version:
                raise Conflict(f"条目 {entry_id} 已被修改（当前版本 {row['version']}），请刷新后重试")
            old = entry_of(row) if row is not None else None
            decision = lc.decide(old, make_event(old), actor, ctx)
            _write(conn, seg, row["pk"] if row is not None else None, old, decision)
            return decision

        try:
            decision = await self.tx.run(run)
        except IntegrityError:
            raise Conflict(f"条目 {entry_id} 已存在") from None
        self._carry_out(decision)
        return decision.entry

    def _carry_out(self, decision: lc.Decision) -> None:
        ch = decision.change
        logger.info(
            "knowledge entry changed",
            extra={"entry": decision.entry.id, "action": ch.action, "actor": ch.actor, "to": ch.to_state},
        )
        for cmd in decision.commands:
            if isinstance(cmd, lc.LateSubmission):
                metrics.LATE.labels(cmd.unit).inc()
                logger.warning(
                    "knowledge entry submitted late",
                    extra={"entry": cmd.entry_id, "unit": cmd.unit, "submit_by": cmd.deadline.isoformat()},
                )

    async def expire_due(self) -> int:
        """Published entries whose validity has ended become ``expired`` (the system's event)."""
        today = self.today()
        async with self.engine.connect() as conn:
            ids = (
                await conn.execute(select(E.c.id).where(E.c.state == State.PUBLISHED.value, E.c.valid_to < today))
            ).scalars()
            due = list(ids)
        system = Actor("system", SYSTEM)
        done = 0
        for entry_id in due:
            try:
                await self._change(entry_id, lambda _e: lc.Expire(), system, None)
                done += 1
            except (Conflict, lc.IllegalEvent, NotFound):
                continue
        return done

    # ---- exchange ------------------------------------------------------------------------------
    async def import_lines(
        self, lines: Iterable[str], actor: Actor, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Idempotent by id: an equal line changes nothing, a changed one makes a new version, a
        bad one is refused with its line number (the good ones are imported)."""
        report = ImportReport()
        batch: list[Line] = []
        seg = self.seg
        for item in parse_lines(lines):
            if isinstance(item, Refused):
                report.refused.append(item)
                continue
            batch.append(item)
            if len(batch) >= IMPORT_BATCH:
                await self._import_batch(batch, actor, seg, report)
                if progress:
                    progress(report.lines)
                batch = []
        if batch:
            await self._import_batch(batch, actor, seg, report)
        if progress:
            progress(report.lines)
        for outcome in ("created", "updated", "unchanged"):
            metrics.IMPORTED.labels(outcome).inc(getattr(report, outcome))
        metrics.IMPORTED.labels("refused").inc(len(report.refused))
        # Prefixed: "created" would overwrite the log record's own attribute (a KeyError at INFO).
        figures = {f"entries_{k}": v for k, v in report.as_dict().items() if k != "refused"}
        logger.info("knowledge import", extra={**figures, "entries_refused": len(report.refused)})
        return report

    async def _import_batch(self, batch: list[Line], actor: Actor, seg: Segmenter, report: ImportReport) -> None:
        ctx = self._ctx()

        def run(conn: Connection) -> ImportReport:
            part = ImportReport()
            ids = list({ln.id for ln in batch})
            known: dict[str, tuple[int, Entry, str]] = {
                r["id"]: (r["pk"], entry_of(r), r["digest"])
                for r in conn.execute(select(E).where(E.c.id.in_(ids))).mappings()
            }
            pending: list[tuple[lc.Decision, str]] = []  # new entries, inserted together

            def flush() -> None:
                if not pending:
                    return
                rows = [{**columns(d.entry), "digest": dg, "created_by": actor.username} for d, dg in pending]
                got = conn.execute(insert(E).returning(E.c.pk, E.c.id, sort_by_parameter_order=True), rows).all()
                versions, index = [], []
                for (pk, _id), (d, dg) in zip(got, pending, strict=True):
                    versions.append(_version_row(pk, d.change))
                    q, t = index_texts(seg, d.entry.content)
                    index.append({"pk": pk, "q": q, "t": t})
                    known[d.entry.id] = (pk, d.entry, dg)
                conn.execute(insert(V), versions)
                write_index_many(conn, index)
                pending.clear()

            for ln in batch:
                if any(d.entry.id == ln.id for d, _ in pending):
                    flush()  # the same id twice in a batch: the second sees the first
                cur = known.get(ln.id)
                try:
                    content = content_from(ln.data, base=cur[1].content if cur else None)
                except InvalidEntry as exc:
                    part.refused.append(Refused(ln.number, str(exc)))
                    continue
                dg = digest(content)
                if cur is not None and cur[2] == dg:
                    part.unchanged += 1
                    continue
                try:
                    decision = lc.decide(cur[1] if cur else None, lc.Import(ln.id, content), actor, ctx)
                except (lc.IllegalEvent, lc.Forbidden) as exc:
                    part.refused.append(Refused(ln.number, str(exc)))
                    continue
                if cur is None:
                    pending.append((decision, dg))
                    part.created += 1
                else:
                    _write(conn, seg, cur[0], cur[1], decision, dg)
                    known[ln.id] = (cur[0], decision.entry, dg)
                    part.updated += 1
            flush()
            return part

        part = await self.tx.run(run)
        report.created += part.created
        report.updated += part.updated
        report.unchanged += part.unchanged
        report.refused.extend(part.refused)

    async def export_lines(self, states: Sequence[str] = ("published", "expired")) -> AsyncIterator[str]:
        """Every entry the knowledge base holds for searchers, ordered by id, one line each."""
        last = ""
        while True:
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(E).where(E.c.state.in_(list(states)), E.c.id > last).order_by(E.c.id).limit(1000)
                    )
                ).mappings()
                entries = [entry_of(r) for r in rows]
            if not entries:
                return
            for entry in entries:
                yield to_line(entry.id, entry.content)
            last = entries[-1].id

    # ---- search --------------------------------------------------------------------------------
    async def search(
        self, query: str, scope: str | None = None, audience: str = "seat", limit: int | None = None
    ) -> SearchResult:
        """Ranked entries for ``query``. ``audience`` "public" (citizens) never gets an expired
        entry; "seat" gets it marked ``expired``. The caller's ``scope`` ranks higher."""
        if audience not in ("seat", "public"):
            raise ValueError("audience: seat or public")
        s = self.settings
        n = min(limit or s.results_default, s.results_max)
        started = time.perf_counter()
        text = cut(query, s.max_query_chars)
        today = self.today()
        seg = self.seg
        ranking = Ranking(scope_boost=s.scope_boost, expired_factor=s.expired_factor)

        def find(conn: Connection | None) -> tuple[list[Hit], tuple[str, ...]]:
            terms = expand(seg.tokens(text), seg.synonyms)
            if not terms:
                return [], ()
            if conn is None:
                assert self._searcher is not None
                found = self._searcher.run(terms, audience, today, s.candidates, s.question_weight)
            else:
                found = sync_search(conn, terms, audience, today, s.candidates, s.question_weight, s.prerank)
            return rank(found, today, audience, scope, n, ranking), terms.flat

        if self._searcher is not None:
            hits, terms = await asyncio.get_running_loop().run_in_executor(self._searcher.pool, find, None)
        else:
            async with self.engine.connect() as conn:
                hits, terms = await conn.run_sync(find)
        took = time.perf_counter() - started
        metrics.SEARCH_SECONDS.labels(audience).observe(took)
        metrics.SEARCHES.labels(audience, "hit" if hits else "miss").inc()
        return SearchResult(hits, text, len(" ".join(query.split())) > len(text), terms, round(took * 1000, 3))


def _version_row(pk: int, ch: lc.Change) -> dict[str, Any]:
    return {
        "entry_pk": pk,
        "version": ch.version,
        "at": ch.at,
        "actor": ch.actor,
        "role": ch.role,
        "action": ch.action,
        "from_state": ch.from_state,
        "to_state": ch.to_state,
        "reason": ch.reason,
        "fields": ch.fields,
        "data": ch.data,
    }


def _write(
    conn: Connection, seg: Segmenter, pk: int | None, old: Entry | None, decision: lc.Decision, dg: str | None = None
) -> int:
    new = decision.entry
    values = {**columns(new), "digest": dg or digest(new.content)}
    if pk is None:
        pk = int(
            conn.execute(insert(E).values(**values, created_by=decision.change.actor).returning(E.c.pk)).scalar_one()
        )
    else:
        assert old is not None
        res = conn.execute(update(E).where(E.c.pk == pk, E.c.version == old.version).values(**values))
        if res.rowcount != 1:
            raise Conflict(f"条目 {new.id} 已被修改，请刷新后重试")
    conn.execute(insert(V).values(**_version_row(pk, decision.change)))
    if any(isinstance(c, lc.Reindex) for c in decision.commands):
        q, t = index_texts(seg, new.content)
        write_index(conn, pk, q, t)
    return pk
