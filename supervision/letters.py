"""提醒函 adapters: numbering (gap-free per year), writing by hand or from rules (with a cap and a
confirmation), delivery to the unit's account, acknowledgement and answer, HTML and PDF."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline import offload
from hotline.auth import UNIT_RE
from supervision.api import EXTRA_RULES
from supervision.core import lifecycle
from supervision.core.letter import LetterPage, letter_html, letter_number
from supervision.core.lifecycle import Forbidden, InvalidInput
from supervision.core.model import Actor, LetterState
from supervision.core.rules import Draft, LowSatisfaction, Overdue, Returned, Rule
from supervision.core.timing import deadline
from supervision.models import SvLetter, SvLetterSeq
from supervision.orders import Orders
from supervision.services import NotFound, order_ids, utc
from supervision.settings import SupervisionSettings
from workorders.core.calendar import YearNotCovered

logger = logging.getLogger(__name__)
MAX_LIST = 500


class ConfirmationNeeded(Exception):
    """A rule run over the cap: nothing was written; send the token back to go ahead (HTTP 409)."""

    def __init__(self, count: int, token: str, cap: int) -> None:
        super().__init__(f"本次规则将生成 {count} 份提醒函，超过上限 {cap}：请确认后再发")
        self.count, self.token, self.cap = count, token, cap


class LetterService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: SupervisionSettings,
        orders: Orders,
        secret: str,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        rules: Sequence[Rule] = (),
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.orders = orders
        self.secret = secret.encode()
        self.clock = clock
        self._rules = list(rules)

    def rules(self) -> dict[str, Rule]:
        s = self.settings
        built: list[Rule] = [Overdue(), Returned(s.returned_times), LowSatisfaction(s.unsatisfied_at_least)]
        return {r.name: r for r in [*built, *EXTRA_RULES.values(), *self._rules]}

    # ---- writing --------------------------------------------------------------------------------
    async def create(self, actor: Actor, body: Mapping[str, Any]) -> SvLetter:
        """A letter written by hand to one unit."""
        if not actor.supervises:
            raise Forbidden("只有督办人员可以发提醒函")
        unit = body.get("unit")
        if not isinstance(unit, str) or not UNIT_RE.match(unit.strip()):
            raise InvalidInput("unit 须为单位代码")
        ids = order_ids(body.get("order_ids", []))
        draft = Draft(
            key="",
            rule="",
            unit=unit.strip(),
            facts=lifecycle.text_field(body, "facts", required=True),
            request=lifecycle.text_field(body, "request", required=True),
            order_ids=tuple(ids),
        )
        days = body.get("working_days", self.settings.letter_working_days)
        if not isinstance(days, int | float) or isinstance(days, bool):
            raise InvalidInput("working_days 须为数字（工作日）")
        names = await self.orders.unit_names()
        if names and draft.unit not in names:
            raise InvalidInput(f"单位 {draft.unit} 不在派单目录中")
        letter = await self._write(draft, actor, float(days), names)
        assert letter is not None  # a hand letter has no key to collide on
        return letter

    async def run_rules(self, actor: Actor, names: Sequence[str], token: str | None = None) -> list[SvLetter]:
        """Draft letters with the named rules and write those whose matter has no letter yet; more
        than the cap are written only with the token a first call answered for exactly these."""
        if not actor.supervises:
            raise Forbidden("只有督办人员可以按规则生成提醒函")
        known = self.rules()
        unknown = [n for n in names if n not in known]
        if not names or unknown:
            raise InvalidInput(f"rules 须为 {', '.join(sorted(known))} 中的一个或多个")
        now = utc(self.clock())
        orders = await self.orders.recent()
        drafts: dict[str, Draft] = {}
        for name in dict.fromkeys(names):
            for d in known[name].drafts(orders, now):
                drafts.setdefault(d.key, d)
        async with self.sessions() as s:
            taken = set()
            keys = list(drafts)
            for i in range(0, len(keys), 500):
                q = select(SvLetter.key).where(SvLetter.key.in_(keys[i : i + 500]))
                taken |= set((await s.execute(q)).scalars())
        todo = [d for k, d in sorted(drafts.items()) if k not in taken]
        if len(todo) > self.settings.letters_cap:
            expected = self._token([d.key for d in todo])
            if token is None or not hmac.compare_digest(token, expected):
                raise ConfirmationNeeded(len(todo), expected, self.settings.letters_cap)
        unit_names = await self.orders.unit_names()
        written = []
        for d in todo:
            letter = await self._write(d, actor, self.settings.letter_working_days, unit_names)
            if letter is not None:
                written.append(letter)
        logger.info("letter rules run", extra={"rules": list(names), "drafts": len(drafts), "written": len(written)})
        return written

    def _token(self, keys: Sequence[str]) -> str:
        return hmac.new(self.secret, "\n".join(["letters", *keys]).encode(), hashlib.sha256).hexdigest()[:32]

    async def _write(self, d: Draft, actor: Actor, days: float, names: Mapping[str, str]) -> SvLetter | None:
        now = utc(self.clock())
        cal = self.orders.calendar()
        try:
            due = deadline(cal, now, days)
        except YearNotCovered as exc:
            raise InvalidInput(str(exc)) from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        year = now.astimezone(cal.tz).year
        try:
            async with self.sessions() as s, s.begin():
                # The year's counter row is locked until this commit: a rollback (a key taken by a
                # concurrent run) gives the number back, so numbers stay gap-free and unique.
                seq = await _next_seq(s, year)
                row = SvLetter(
                    year=year,
                    seq=seq,
                    number=letter_number(self.settings.letter_prefix, year, seq),
                    key=d.key or None,
                    rule=d.rule,
                    unit=d.unit,
                    unit_name=names.get(d.unit, d.unit),
                    facts=d.facts,
                    request=d.request,
                    order_ids=list(d.order_ids),
                    deadline=utc(due.at),
                    issued_at=now,
                    created_by=actor.username,
                    state=LetterState.SENT.value,
                    acknowledged_by="",
                    answer="",
                )
                s.add(row)
        except IntegrityError:
            if d.key:
                logger.info("letter already written for %s", d.key)
                return None
            raise
        logger.info("letter written", extra={"letter": row.number, "unit": d.unit, "rule": d.rule})
        return row

    # ---- reading and the unit's steps -----------------------------------------------------------
    async def list_for(
        self, actor: Actor, unit: str | None = None, state: str | None = None, overdue: bool = False
    ) -> list[SvLetter]:
        """A unit's letters (unread first, then newest), or for supervisors any unit's."""
        if not actor.supervises:
            if actor.role != "unit" or not actor.unit:
                raise Forbidden("无权查看提醒函")
            unit = actor.unit
        unread = case((SvLetter.state == LetterState.SENT.value, 0), else_=1)
        q = select(SvLetter).order_by(unread, SvLetter.issued_at.desc(), SvLetter.id.desc()).limit(MAX_LIST)
        if unit:
            q = q.where(SvLetter.unit == unit)
        if state:
            q = q.where(SvLetter.state == state)
        if overdue:
            q = q.where(SvLetter.state != LetterState.ANSWERED.value, SvLetter.deadline < utc(self.clock()))
        async with self.sessions() as s:
            return list((await s.execute(q)).scalars())

    async def get(self, letter_id: int, actor: Actor) -> SvLetter:
        """The letter; the addressee unit opening it marks it read."""
        async with self.sessions() as s, s.begin():
            row = await s.get(SvLetter, letter_id)
            if row is None:
                raise NotFound(f"提醒函 {letter_id} 不存在")
            if not lifecycle.may_see(actor, row.unit):
                raise Forbidden(f"无权查看提醒函 {letter_id}")
            if actor.role == "unit" and row.state == LetterState.SENT.value:
                row.state = lifecycle.letter_step(LetterState.SENT, "read", actor, row.unit).value
                row.read_at = utc(self.clock())
        return row

    async def step(self, letter_id: int, action: str, actor: Actor, data: Mapping[str, Any]) -> SvLetter:
        if action not in ("acknowledge", "answer"):
            raise InvalidInput(f"未知操作 {action}")
        now = utc(self.clock())
        async with self.sessions() as s, s.begin():
            q = select(SvLetter).where(SvLetter.id == letter_id).with_for_update()
            row = (await s.execute(q)).scalar_one_or_none()
            if row is None:
                raise NotFound(f"提醒函 {letter_id} 不存在")
            target = lifecycle.letter_step(LetterState(row.state), action, actor, row.unit)
            if action == "acknowledge":
                row.acknowledged_at, row.acknowledged_by = now, actor.username
                row.read_at = row.read_at or now
            else:
                row.answer = lifecycle.text_field(data, "answer", required=True)
                row.answered_at = now
            row.state = target.value
        logger.info("letter %s", action, extra={"letter": row.number, "actor": actor.username})
        return row

    def page(self, row: SvLetter) -> LetterPage:
        tz = self.orders.calendar().tz
        return LetterPage(
            number=row.number,
            unit_name=row.unit_name,
            facts=row.facts,
            request=row.request,
            deadline=utc(row.deadline).astimezone(tz).date(),
            issued_on=utc(row.issued_at).astimezone(tz).date(),
            hotline_name=self.settings.hotline_name,
        )

    def html(self, row: SvLetter) -> str:
        return letter_html(self.page(row))

    async def pdf(self, row: SvLetter) -> bytes:
        """The letter as a PDF, for a request: drawn on the process's one PDF thread, the reports'
        too (Pango and fontconfig never from two threads at once); a full lane is a 503."""
        return await offload.pdf("supervision", render_pdf, self.html(row))

    def close(self) -> None:
        offload.PDF.close()  # its thread; a later PDF starts a new one


def render_pdf(page: str) -> bytes:
    import weasyprint  # slow to import (Pango, fonts): only when a PDF is asked for

    return weasyprint.HTML(string=page).write_pdf()  # type: ignore[no-any-return]


async def _next_seq(s: AsyncSession, year: int) -> int:
    dialect = s.get_bind().dialect.name
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        ins(SvLetterSeq)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=[SvLetterSeq.year], set_={"last": SvLetterSeq.last + 1})
        .returning(SvLetterSeq.last)
    )
    return int((await s.execute(stmt)).scalar_one())
