"""督办 adapters: open, act (through the pure lifecycle), the ledger and the closure measure.
The rules are in ``supervision/core``; this module only loads, stores and reads."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, cast, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.auth import UNIT_RE
from supervision.core import lifecycle
from supervision.core.lifecycle import Forbidden, InvalidInput
from supervision.core.measure import Closure, ClosureOptions, closure
from supervision.core.model import Actor, FollowUp, Level, Result, State, Supervision
from supervision.core.timing import DaysLeft, days_left, deadline
from supervision.models import SvFollowUp, SvSupervision
from supervision.orders import Orders
from supervision.settings import SupervisionSettings
from workorders.core.calendar import YearNotCovered

logger = logging.getLogger(__name__)
MAX_ORDERS = 50  # orders in one matter
MAX_ID = 2**31 - 1  # the largest id an integer column holds on PostgreSQL
# Open until closed (销号) or cancelled (撤销), the lifecycle's two ends (core/lifecycle.TRANSITIONS).
LIVE_STATES = tuple(s.value for s in State if s not in (State.CLOSED, State.CANCELLED))


def order_ids(value: object) -> list[int]:
    """A JSON list of order numbers, each an integer a row may have, without repeats."""
    if not isinstance(value, list) or len(value) > MAX_ORDERS:
        raise InvalidInput(f"order_ids 须为至多 {MAX_ORDERS} 个工单号的列表")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID for i in value):
        raise InvalidInput(f"order_ids 须为 1 到 {MAX_ID} 的整数")
    return list(dict.fromkeys(value))


def _open_on_query(dialect: str, order_id: int) -> Select[int]:
    """The one query behind ``open_on``: the live supervisions, found through the state index,
    whose order list (a JSON array) holds the order: jsonb containment on PostgreSQL, json_each on
    SQLite."""
    if dialect == "postgresql":
        names = cast(SvSupervision.order_ids, JSONB).contains([order_id])
    else:
        ids = func.json_each(SvSupervision.order_ids).table_valued("value")
        names = select(ids.c.value).where(ids.c.value == order_id).exists()
    return select(SvSupervision.id).where(SvSupervision.state.in_(LIVE_STATES), names).limit(1)


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """Someone changed the supervision since it was read (HTTP 409)."""


def utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _opt(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else utc(moment)


def supervision_of(row: SvSupervision) -> Supervision:
    return Supervision(
        id=row.id,
        unit=row.unit,
        level=Level(row.level),
        order_ids=tuple(row.order_ids),
        matter=row.matter,
        instructions=row.instructions,
        opened_by=row.opened_by,
        opened_at=utc(row.opened_at),
        deadline=utc(row.deadline),
        provisional=row.provisional,
        state=State(row.state),
        version=row.version,
        closed_at=_opt(row.closed_at),
        closed_by=row.closed_by,
        result=Result(row.result) if row.result else None,
        reason=row.reason,
    )


@dataclass(frozen=True)
class LedgerRow:
    supervision: Supervision
    orders: list[dict[str, Any]]  # id and title of each order
    left: DaysLeft
    last: FollowUp | None


class SupervisionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: SupervisionSettings,
        orders: Orders,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.orders = orders
        self.clock = clock

    # ---- one supervision ----------------------------------------------------------------------
    async def open(self, actor: Actor, body: Mapping[str, Any]) -> Supervision:
        if not actor.supervises:
            raise Forbidden("只有督办人员可以发起督办")
        ids = order_ids(body.get("order_ids"))
        if not ids:
            raise InvalidInput("order_ids 不能为空")
        try:
            level = Level(str(body.get("level", "")))
        except ValueError:
            raise InvalidInput("level 须为 general（一般）、key（重点）或 joint（双督办）") from None
        days = body.get("working_days")
        if not isinstance(days, int | float) or isinstance(days, bool):
            raise InvalidInput("working_days 须为数字（工作日）")
        instructions = lifecycle.text_field(body, "instructions", required=True)
        matter = lifecycle.text_field(body, "matter", required=len(ids) > 1)[:200]
        units = set()
        for order_id in ids:
            facts = await self.orders.order(order_id)
            if facts is None:
                raise InvalidInput(f"工单 {order_id} 不存在")
            if facts.unit:
                units.add(facts.unit)
        unit = body.get("unit") or (units.pop() if len(units) == 1 else None)
        if not isinstance(unit, str) or not unit:
            raise InvalidInput("无法从工单确定被督办单位：请给出 unit（工单的承办单位不唯一或尚未派单）")
        if not UNIT_RE.match(unit):
            raise InvalidInput(f"unit {unit[:40]!r} 不是单位代码")
        names = await self.orders.unit_names()
        if names and unit not in names:
            raise InvalidInput(f"单位 {unit} 不在派单目录中")
        now = utc(self.clock())
        try:
            due = deadline(self.orders.calendar(), now, float(days))
        except YearNotCovered as exc:
            raise InvalidInput(str(exc)) from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        row = SvSupervision(
            version=1,
            state=State.OPEN.value,
            level=level.value,
            unit=unit,
            order_ids=ids,
            matter=matter,
            instructions=instructions,
            opened_by=actor.username,
            opened_at=now,
            deadline=utc(due.at),
            provisional=due.provisional,
            closed_by="",
            reason="",
        )
        async with self.sessions() as s, s.begin():
            # One open supervision per order: a second would count the same matter twice in the
            # measure; a supervisor raising the level (提级) cancels the first and opens anew.
            q = select(SvSupervision.id, SvSupervision.order_ids).where(
                SvSupervision.state == State.OPEN.value, SvSupervision.unit == unit
            )
            for other, their_ids in (await s.execute(q)).all():
                both = sorted(set(their_ids) & set(ids))
                if both:
                    raise Conflict(f"工单 {both[0]} 已在督办中（督办 {other}）：请先跟进、销号或撤销该督办")
            s.add(row)
            await s.flush()
            s.add(
                SvFollowUp(
                    supervision_id=row.id,
                    at=now,
                    actor=actor.username,
                    role=actor.role,
                    action="open",
                    text=instructions,
                )
            )
        logger.info("supervision opened", extra={"supervision": row.id, "unit": unit, "level": level.value})
        return supervision_of(row)

    async def get(self, sup_id: int, actor: Actor) -> tuple[Supervision, list[FollowUp]]:
        async with self.sessions() as s:
            row = await s.get(SvSupervision, sup_id)
            if row is None:
                raise NotFound(f"督办 {sup_id} 不存在")
            if not lifecycle.may_see(actor, row.unit):
                raise Forbidden(f"无权查看督办 {sup_id}")
            q = select(SvFollowUp).where(SvFollowUp.supervision_id == sup_id).order_by(SvFollowUp.id)
            notes = [_follow_up(f) for f in (await s.execute(q)).scalars()]
        return supervision_of(row), notes

    async def act(self, sup_id: int, action: str, actor: Actor, data: Mapping[str, Any]) -> Supervision:
        now = utc(self.clock())
        async with self.sessions() as s, s.begin():
            row = await s.get(SvSupervision, sup_id)
            if row is None:
                raise NotFound(f"督办 {sup_id} 不存在")
            current = supervision_of(row)
            version = data.get("version")
            if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
                raise InvalidInput("version 须为整数")
            if version is not None and version != current.version:
                raise Conflict(f"督办 {sup_id} 已被修改（版本 {current.version}），请刷新后重试")
            decision = lifecycle.decide(current, action, actor, now, data)
            new = decision.supervision
            # A compare-and-set on the version: two supervisors closing at once, one wins.
            done = await s.execute(
                update(SvSupervision)
                .where(SvSupervision.id == sup_id, SvSupervision.version == current.version)
                .values(
                    version=new.version,
                    state=new.state.value,
                    closed_at=new.closed_at,
                    closed_by=new.closed_by,
                    result=new.result.value if new.result else None,
                    reason=new.reason,
                )
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"督办 {sup_id} 已被他人修改，请刷新后重试")
            text = decision.follow_up or new.reason
            s.add(
                SvFollowUp(
                    supervision_id=sup_id, at=now, actor=actor.username, role=actor.role, action=action, text=text
                )
            )
        logger.info("supervision %s", action, extra={"supervision": sup_id, "actor": actor.username})
        return new

    # ---- for the other features (supervision.api) ---------------------------------------------
    async def open_on(self, order_id: int) -> bool:
        """Whether a supervision neither closed nor cancelled names the order, on any unit: the
        work orders ask it at each reply (a supervised order's reply waits for the leader)."""
        async with self.sessions() as s:
            q = _open_on_query(s.get_bind().dialect.name, order_id)
            return (await s.execute(q)).first() is not None

    # ---- the ledger (台账) ----------------------------------------------------------------------
    async def ledger(
        self,
        actor: Actor,
        state: State = State.OPEN,
        unit: str | None = None,
        level: Level | None = None,
        overdue_only: bool = False,
        closed_from: dt.datetime | None = None,
        closed_to: dt.datetime | None = None,
        limit: int = 500,
    ) -> list[LedgerRow]:
        """Open supervisions by deadline (most urgent first), or those closed in a period; a unit's
        account sees its own unit's only, whatever it asks."""
        if not actor.supervises:
            if actor.role != "unit" or not actor.unit:
                raise Forbidden("无权查看督办台账")
            unit = actor.unit
        q = select(SvSupervision).where(SvSupervision.state == state.value)
        if unit:
            q = q.where(SvSupervision.unit == unit)
        if level is not None:
            q = q.where(SvSupervision.level == level.value)
        if state is not State.OPEN:
            if closed_from is not None:
                q = q.where(SvSupervision.closed_at >= closed_from)
            if closed_to is not None:
                q = q.where(SvSupervision.closed_at < closed_to)
            q = q.order_by(SvSupervision.closed_at.desc())
        else:
            q = q.order_by(SvSupervision.deadline, SvSupervision.id)
            if overdue_only:
                q = q.where(SvSupervision.deadline < utc(self.clock()))
        async with self.sessions() as s:
            sups = [supervision_of(r) for r in (await s.execute(q.limit(limit))).scalars()]
            last: dict[int, FollowUp] = {}
            if sups:
                fq = (
                    select(SvFollowUp)
                    .where(SvFollowUp.supervision_id.in_([x.id for x in sups]), SvFollowUp.action == "follow_up")
                    .order_by(SvFollowUp.id)
                )
                for f in (await s.execute(fq)).scalars():
                    last[f.supervision_id] = _follow_up(f)
        now = utc(self.clock())
        cal = self.orders.calendar()
        out = []
        titles: dict[int, str] = {}  # a matter's orders are often on several rows
        for sup in sups:
            orders = []
            for order_id in sup.order_ids[:5]:
                if order_id not in titles:
                    facts = await self.orders.order(order_id)
                    titles[order_id] = facts.title if facts else ""
                orders.append({"id": order_id, "title": titles[order_id]})
            end = sup.closed_at if sup.closed_at is not None else now
            out.append(LedgerRow(sup, orders, days_left(cal, end, sup.deadline), last.get(sup.id)))
        return out

    async def closure(self, start: dt.datetime, end: dt.datetime, options: ClosureOptions) -> Closure:
        start, end = utc(start), utc(end)
        q = select(SvSupervision).where(SvSupervision.deadline >= start, SvSupervision.deadline < end)
        async with self.sessions() as s:
            sups = [supervision_of(r) for r in (await s.execute(q)).scalars()]
        return closure(sups, start, end, utc(self.clock()), options)


def _follow_up(row: SvFollowUp) -> FollowUp:
    return FollowUp(row.supervision_id, utc(row.at), row.actor, row.role, row.text, row.action)
