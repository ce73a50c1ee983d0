"""Deadline warnings and escalations carried out: the watch's round, in-app notices, and the senders.

Each round (:meth:`Notices.round`) reads the open orders, asks the pure core
(``workorders/core/warnings.py``) what is due, and carries out at most ``alerts_per_round``
commands, each in one transaction: the alert's row (its unique key: once, even with two engines),
a line in the order's history (``wo_audit``), the in-app notices (站内通知) for the unit and, on an
escalation, for the supervisors, and one delivery per outside sender and phone, written to the
outbox in the same commit. The outbox tries a delivery again with backoff; after
``notice_max_tries`` tries, or at once on an error that another try cannot mend (a wrong number,
an unknown template), the delivery is ``failed`` and listed as such beside its notice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline import outbox
from hotline.bus import Bus
from workorders.core import warnings as wn
from workorders.core.model import Actor, Role, order_from_dict
from workorders.models import WoAlert, WoAudit, WoDelivery, WoNotice, WoOrder, WoUnit
from workorders.notice_senders import PHONE, Message, Sender, SendError
from workorders.settings import WorkOrderSettings

logger = logging.getLogger(__name__)

OUTBOX_KIND = "wo_notice"  # outbox kind; key: "wo_notice:<delivery id>"
SUPERVISORS = "supervisors"  # audience (and the key of the supervisors' phones in settings)
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.DISPATCHER, Role.ADMIN})
ALERTS = Counter("hotline_workorder_alerts_total", "deadline warnings and escalations", ["kind", "deadline"])
DELIVERIES = Counter("hotline_workorder_notices_total", "notices by channel and outcome", ["channel", "outcome"])
PENDING = Gauge("hotline_workorder_alerts_pending", "alerts due but left for the next round by the cap")
OPEN_STATES = ("dispatched", "return_requested", "handling", "extension_requested", "leader_review")


# ---- the rounds and the notices -----------------------------------------------------------------
@dataclass(frozen=True)
class RoundResult:
    warned: int
    escalated: int
    pending: int


def _local(settings: WorkOrderSettings, moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")


def message_of(settings: WorkOrderSettings, cmd: wn.Command, unit_name: str) -> Message:
    what = wn.DEADLINE_LABELS[cmd.deadline]
    due = _local(settings, cmd.due)
    if cmd.kind is wn.AlertKind.WARN:
        title = f"【预警】工单 {cmd.order} {what}期限将至"
        body = f"工单 {cmd.order} 的{what}期限为 {due}，请{unit_name}及时办理。"
    else:
        title = f"【超期】工单 {cmd.order} {what}已超期"
        body = f"工单 {cmd.order}（{unit_name}）的{what}期限 {due} 已过，已升级至督办。"
    return Message(cmd.order, cmd.kind.value, what, due, title, body)


@dataclass
class Notices:
    sessions: async_sessionmaker[AsyncSession]
    settings: WorkOrderSettings
    box: outbox.Outbox
    senders: dict[str, Sender]
    bus: Bus | None = None
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def policy(self) -> wn.Policy:
        s = self.settings
        return wn.Policy(
            share=s.warning_share,
            min_lead_minutes=s.warning_min_lead_minutes,
            respond_clock_hours=s.respond_clock_hours,
            kinds=frozenset(s.alert_deadlines),
        )

    async def round(self, cal: Any, now: dt.datetime) -> RoundResult:
        """One watch round: what is due now, capped; the rest waits for the next round."""
        async with self.sessions() as s:
            rows = (await s.execute(select(WoOrder).where(WoOrder.state.in_(OPEN_STATES)))).scalars().all()
            units = {u.code: u for u in (await s.execute(select(WoUnit))).scalars()}
            q = select(WoAlert.key).join(WoOrder, WoOrder.id == WoAlert.order_id).where(WoOrder.state.in_(OPEN_STATES))
            sent = frozenset(_key(k) for k in (await s.execute(q)).scalars())
        views = []
        for row in rows:
            order = order_from_dict(row.core)
            if order.deadlines is None:
                continue
            unit = units.get(order.lead_unit or "")
            kinds = frozenset(str(f.get("kind", "")) for f in order.feedback)
            views.append(
                wn.OrderView(row.id, row.state, order.lead_unit, unit.tier if unit else 3, order.deadlines, kinds)
            )
        plan = wn.plan(cal, self.policy(), views, now, sent, self.settings.alerts_per_round)
        PENDING.set(plan.pending)
        if plan.pending:
            logger.warning(
                "deadline alerts left for the next round",
                extra={"pending": plan.pending, "cap": self.settings.alerts_per_round},
            )
        done = {wn.AlertKind.WARN: 0, wn.AlertKind.ESCALATE: 0}
        states = {row.id: row.state for row in rows}
        for cmd in plan.commands:
            unit = units.get(cmd.unit or "")
            if await self._carry_out(cmd, states[cmd.order], unit.name if unit else (cmd.unit or ""), now):
                done[cmd.kind] += 1
        if plan.commands:
            self.box.wake()
        return RoundResult(done[wn.AlertKind.WARN], done[wn.AlertKind.ESCALATE], plan.pending)

    async def _carry_out(self, cmd: wn.Command, state: str, unit_name: str, now: dt.datetime) -> bool:
        msg = message_of(self.settings, cmd, unit_name)
        # Columns hold UTC (SQLite drops the offset of an aware value and gives naive ones back).
        now, due = now.astimezone(dt.UTC), cmd.due.astimezone(dt.UTC)
        audiences: list[tuple[str, str | None]] = [("unit", cmd.unit)] if cmd.unit else []
        if cmd.kind is wn.AlertKind.ESCALATE:
            audiences.append((SUPERVISORS, None))
        action = "deadline_warning" if cmd.kind is wn.AlertKind.WARN else "deadline_escalation"
        try:
            async with self.sessions() as s, s.begin():
                s.add(
                    WoAlert(
                        key="|".join(str(p) for p in cmd.key),
                        order_id=cmd.order,
                        deadline=cmd.deadline.value,
                        kind=cmd.kind.value,
                        due=due,
                        unit=cmd.unit,
                        at=now,
                    )
                )
                data = {"deadline": cmd.deadline.value, "due": cmd.due.isoformat(), "unit": cmd.unit}
                s.add(WoAudit(order_id=cmd.order, at=now, actor="system", role="system", action=action,
                              from_state=state, to_state=state, reason=msg.title, data=data))  # fmt: skip
                await s.flush()
                deliveries: list[WoDelivery] = []
                for audience, unit in audiences:
                    notice = WoNotice(order_id=cmd.order, audience=audience, unit=unit, kind=cmd.kind.value,
                                      deadline=cmd.deadline.value, due=due, title=msg.title, body=msg.body,
                                      created_at=now, read_by="")  # fmt: skip
                    s.add(notice)
                    await s.flush()
                    for channel in self.senders:
                        for target in self._targets(channel, unit or SUPERVISORS):
                            d = WoDelivery(notice_id=notice.id, channel=channel, target=target, state="waiting",
                                           tries=0, last_error="", created_at=now)  # fmt: skip
                            s.add(d)
                            deliveries.append(d)
                await s.flush()
                conn = await s.connection()
                for d in deliveries:
                    await conn.run_sync(outbox.add, OUTBOX_KIND, f"{OUTBOX_KIND}:{d.id}", {"delivery": d.id}, now)
        except IntegrityError:
            # Another engine (or an earlier, cut-short round) carried it out first.
            return False
        ALERTS.labels(cmd.kind.value, cmd.deadline.value).inc()
        logger.info(
            "deadline alert",
            extra={"order": cmd.order, "kind": cmd.kind.value, "deadline": cmd.deadline.value,
                   "due": cmd.due.isoformat(), "unit": cmd.unit, "deliveries": len(deliveries)},
        )  # fmt: skip
        if cmd.kind is wn.AlertKind.ESCALATE and self.bus is not None:
            await self.bus.to_supervisors(
                "workorder_escalated",
                {"order": cmd.order, "deadline": cmd.deadline.value, "due": cmd.due.isoformat(),
                 "unit": cmd.unit, "title": msg.title},
            )  # fmt: skip
        return True

    def _targets(self, channel: str, who: str) -> list[str]:
        if channel == "sms":
            return list(self.settings.sms_phones.get(who, []))
        if channel == "wechat":
            return list(self.settings.wechat_openids.get(who, []))
        return []

    # ---- the outbox's handler -------------------------------------------------------------------
    async def deliver(self, key: str, payload: dict[str, Any]) -> None:
        """Send one delivery; raise to be tried again (the outbox's backoff), return when settled."""
        now = self.clock().astimezone(dt.UTC)
        async with self.sessions() as s:
            d = await s.get(WoDelivery, int(payload["delivery"]))
            notice = await s.get(WoNotice, d.notice_id) if d else None
        if d is None or notice is None or d.state != "waiting":
            return
        sender = self.senders.get(d.channel)
        if sender is None:
            await self._settle(d.id, "failed", d.tries, f"{d.channel}: sender is off in the settings", now)
            return
        msg = Message(notice.order_id, notice.kind, wn.DEADLINE_LABELS[wn.DeadlineKind(notice.deadline)],
                      _local(self.settings, notice.due), notice.title, notice.body)  # fmt: skip
        tries = d.tries + 1
        try:
            await sender.send(d.target, msg)
        except SendError as exc:
            last = not exc.retry or tries >= self.settings.notice_max_tries
            await self._settle(d.id, "failed" if last else "waiting", tries, str(exc), now)
            DELIVERIES.labels(d.channel, "failed" if last else "retry").inc()
            log = logger.error if last else logger.warning
            log("notice not delivered", extra={"delivery": d.id, "channel": d.channel, "code": exc.code,
                                               "tries": tries, "final": last})  # fmt: skip
            if not last:
                raise
            return
        await self._settle(d.id, "sent", tries, "", now)
        DELIVERIES.labels(d.channel, "sent").inc()

    async def _settle(self, delivery: int, state: str, tries: int, error: str, now: dt.datetime) -> None:
        values: dict[str, Any] = {"state": state, "tries": tries, "last_error": error[:300]}
        if state == "sent":
            values["sent_at"] = now
        async with self.sessions() as s, s.begin():
            await s.execute(update(WoDelivery).where(WoDelivery.id == delivery).values(**values))

    # ---- reading and marking --------------------------------------------------------------------
    @staticmethod
    def _scope(actor: Actor) -> Any:
        if actor.role is Role.UNIT:
            return (WoNotice.audience == "unit") & (WoNotice.unit == (actor.unit or ""))
        return WoNotice.audience == SUPERVISORS

    @staticmethod
    def may_read(actor: Actor) -> bool:
        return actor.role is Role.UNIT or actor.role in SUPERVISOR_ROLES

    async def listing(self, actor: Actor, unread_only: bool, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """The unread count and the newest notices of the actor's unit (or of the supervisors)."""
        scope = self._scope(actor)
        async with self.sessions() as s:
            unread = (await s.execute(select(func.count()).where(scope, WoNotice.read_at.is_(None)))).scalar_one()
            q = select(WoNotice).where(scope)
            if unread_only:
                q = q.where(WoNotice.read_at.is_(None))
            rows: Sequence[WoNotice] = (await s.execute(q.order_by(WoNotice.id.desc()).limit(limit))).scalars().all()
            ids = [r.id for r in rows]
            found = (
                (await s.execute(select(WoDelivery).where(WoDelivery.notice_id.in_(ids)))).scalars().all()
                if ids
                else []
            )
        by_notice: dict[int, list[dict[str, Any]]] = {}
        for d in found:
            by_notice.setdefault(d.notice_id, []).append(
                {
                    "channel": d.channel,
                    "target": _mask(d.target),
                    "state": d.state,
                    "tries": d.tries,
                    "error": d.last_error,
                }
            )
        return int(unread), [
            {
                "id": r.id,
                "order_id": r.order_id,
                "audience": r.audience,
                "unit": r.unit,
                "kind": r.kind,
                "kind_label": wn.ALERT_LABELS[wn.AlertKind(r.kind)],
                "deadline": r.deadline,
                "deadline_label": wn.DEADLINE_LABELS[wn.DeadlineKind(r.deadline)],
                "due": _local(self.settings, r.due),
                "title": r.title,
                "body": r.body,
                "created_at": _local(self.settings, r.created_at),
                "read": r.read_at is not None,
                "deliveries": by_notice.get(r.id, []),
            }
            for r in rows
        ]

    async def mark_read(self, notice_id: int, actor: Actor) -> bool | None:
        """True when marked (or already read); False when the notice is not the actor's; None: no such notice."""
        async with self.sessions() as s, s.begin():
            row = await s.get(WoNotice, notice_id)
            if row is None:
                return None
            mine = (row.audience == "unit" and actor.role is Role.UNIT and row.unit == actor.unit) or (
                row.audience == SUPERVISORS and actor.role in SUPERVISOR_ROLES
            )
            if not mine:
                return False
            if row.read_at is None:
                row.read_at, row.read_by = self.clock().astimezone(dt.UTC), actor.username
        return True


def _key(text: str) -> wn.AlertKey:
    order, deadline, kind, due = text.split("|", 3)
    return (int(order), deadline, kind, due)


def _mask(target: str) -> str:
    return f"{target[:3]}****{target[-4:]}" if PHONE.fullmatch(target) else target[:6] + "…"
