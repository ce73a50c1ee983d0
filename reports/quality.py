"""Data quality runs (数据质检): read a day's orders (read-only), check them with the pure core
(``reports/core/quality.py``) and store the findings (``rp_quality_runs``, ``rp_quality_findings``).

A day's run is made once and kept, like a report: the schedule runs yesterday's after the daily
report's time, and a supervisor may run a day again (``replace``). The orders checked are those
created on the day or changed on it (a reply given, an order closed); the duplicate test
compares them with every order created up to ``duplicate_days`` before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import String, column, delete, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reports.core import quality
from reports.core.quality import KIND_LABELS, KINDS, QOrder, QualityRules
from reports.models import RpQualityFinding, RpQualityRun
from reports.source import TS, WO_ORDERS, utc
from workorders.core.model import order_from_dict

KEYWORDS = Path(__file__).with_name("quality_keywords.toml")
# The work orders' table with the columns the checks read (read, never written): those
# reports/source.py names and the text, the caller's number and the last change.
WO_QUALITY = table(
    "wo_orders",
    *(column(c.name, c.type) for c in WO_ORDERS.c),
    column("updated_at", TS),
    column("content", String),
    column("citizen_phone", String),
)


def load_rules(path: Path = KEYWORDS) -> QualityRules:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    reply: Mapping[str, list[str]] = data.get("reply", {})
    return QualityRules(
        keywords={str(k): tuple(v) for k, v in data.get("categories", {}).items()},
        resolution_words=tuple(reply.get("resolution", ())),
        contact_words=tuple(reply.get("contact", ())),
        **data.get("thresholds", {}),
    )


def _qorder(r: Any) -> QOrder | None:
    if not r.core:
        return None
    o = order_from_dict(r.core)
    created = utc(r.created_at)
    assert created is not None
    return QOrder(
        id=r.id,
        created_at=created,
        state=o.state.value,
        title=r.title or "",
        content=r.content or "",
        category=r.category or "",
        address=r.address or "",
        phone=r.citizen_phone or "",
        lead_unit=r.lead_unit,
        order_type=o.order_type.value if o.order_type else None,
        dispatched=bool(o.assignments),
        reply=o.reply,
        merged_into=o.merged_into,
    )


async def orders_for(s: AsyncSession, start: dt.datetime, end: dt.datetime, days: int) -> tuple[list[QOrder], set[int]]:
    """The orders to check (created or changed in ``[start, end)``) and those of the duplicate
    window before them; returns all of them and the ids to check."""
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    q = WO_QUALITY.c
    earliest = start - dt.timedelta(days=days)
    stmt = (
        select(q.id, q.created_at, q.updated_at, q.category, q.address, q.title, q.content, q.citizen_phone)
        .add_columns(q.lead_unit, q.core)
        .where(
            or_(
                (q.created_at >= earliest) & (q.created_at < end),
                (q.updated_at >= start) & (q.updated_at < end),
            )
        )
        .order_by(q.id)
    )
    rows, checked = [], set()
    for r in (await s.execute(stmt)).all():
        qo = _qorder(r)
        if qo is None:
            continue
        rows.append(qo)
        changed = utc(r.updated_at)  # a reply given or an order closed on the day
        if start <= qo.created_at < end or (changed is not None and start <= changed < end):
            checked.add(qo.id)
    return rows, checked


def run_json(run: RpQualityRun | None, findings: list[RpQualityFinding], day: str) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for f in findings:
        by_kind.setdefault(f.kind, []).append(
            {"order_id": f.order_id, "kind": f.kind, "reason": f.reason, "evidence": f.evidence}
        )
    summary = dict(run.summary) if run is not None else {}
    generated = utc(run.generated_at) if run is not None else None
    return {
        "date": day,
        "generated_at": generated.isoformat() if generated else None,
        "generated_by": run.generated_by if run is not None else None,
        "options": summary.get("options", {}),
        "checked": summary.get("checked", 0),
        "counts": {k: len(v) for k, v in by_kind.items()},
        "labels": dict(KIND_LABELS),
        "findings": by_kind,
    }


class QualityChecks:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tz: Callable[[], dt.tzinfo],
        clock: Callable[[], dt.datetime],
        rules: QualityRules | None = None,
    ) -> None:
        self.sessions = sessions
        self.tz = tz
        self.clock = clock
        self.rules = rules or load_rules()

    async def stored(self, day: dt.date) -> dict[str, Any] | None:
        key = day.isoformat()
        async with self.sessions() as s:
            run = (await s.execute(select(RpQualityRun).where(RpQualityRun.day == key))).scalar_one_or_none()
            if run is None:
                return None
            found = (
                (
                    await s.execute(
                        select(RpQualityFinding)
                        .where(RpQualityFinding.day == key)
                        .order_by(RpQualityFinding.kind, RpQualityFinding.order_id, RpQualityFinding.id)
                    )
                )
                .scalars()
                .all()
            )
            return run_json(run, list(found), key)

    async def latest(self) -> dict[str, Any] | None:
        """The most recent day's stored run (the page shows it)."""
        async with self.sessions() as s:
            day = (await s.execute(select(RpQualityRun.day).order_by(RpQualityRun.day.desc()).limit(1))).scalar()
        return await self.stored(dt.date.fromisoformat(day)) if day else None

    async def run(self, day: dt.date, *, replace: bool = False, by: str = "schedule") -> dict[str, Any]:
        """The day's findings: stored ones, else (or with ``replace``) checked now and stored."""
        if not replace and (kept := await self.stored(day)) is not None:
            return kept
        tz = self.tz()
        start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        async with self.sessions() as s:
            rows, checked = await orders_for(s, start, end, self.rules.duplicate_days)
        rules = self.rules
        findings = await asyncio.to_thread(quality.check, rows, rules, checked)
        key = day.isoformat()
        summary = {"options": rules.options(), "checked": len(checked), "counts": quality.summary(findings)}
        try:
            async with self.sessions() as s, s.begin():
                run = (await s.execute(select(RpQualityRun).where(RpQualityRun.day == key))).scalar_one_or_none()
                if run is not None and not replace:
                    return await self._after(day)  # made meanwhile by another round: the first stands
                await s.execute(delete(RpQualityFinding).where(RpQualityFinding.day == key))
                if run is None:
                    s.add(RpQualityRun(day=key, generated_at=self.clock(), generated_by=by, summary=summary))
                else:
                    run.generated_at, run.generated_by, run.summary = self.clock(), by, summary
                for f in findings:
                    s.add(
                        RpQualityFinding(
                            day=key, order_id=f.order_id, kind=f.kind, reason=f.reason[:400], evidence=dict(f.evidence)
                        )
                    )
        except IntegrityError:  # another engine stored the day first
            pass
        return await self._after(day)

    async def _after(self, day: dt.date) -> dict[str, Any]:
        kept = await self.stored(day)
        assert kept is not None
        return kept
