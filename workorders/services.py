"""Work-order services: the database side of the pure core (create, act, list, attachments).

Every action reads the order, asks the core to decide, and writes the new state with
``UPDATE ... WHERE id = :id AND version = :v``: of two concurrent actions on one order exactly
one wins; the other gets :class:`Conflict` and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from workorders.admin import CalendarAndDirectory, InputError, audit_row, columns
from workorders.core.approval import approval_reasons, reason_text
from workorders.core.calendar import WorkCalendar
from workorders.core.lifecycle import Forbidden, IllegalAction, RuleContext, Unit, allowed, decide, may_attach
from workorders.core.model import STATE_LABELS, Actor, Order, Role, State, order_from_dict
from workorders.models import WoAttachment, WoAudit, WoCategory, WoOrder, WoPrecedent, WoUnit
from workorders.settings import WorkOrderSettings

logger = logging.getLogger(__name__)

CHANNELS = ("phone", "wechat", "web", "voice_message", "console", "api")
ATTACHMENT_KINDS = ("evidence", "return_approval", "extension_request", "photo", "recording", "other")


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """Someone else changed the order first; reload it and try again."""


# The actions whose rule asks whether the reply needs the unit's leader (RuleContext.approval).
REPLY_ACTIONS = frozenset({"reply", "submit_reply"})
# States in which the lead unit writes its reply (and so chooses 答复 or 提交领导审核).
REPLYING_STATES = frozenset({State.HANDLING.value, State.EXTENSION_REQUESTED.value})


async def _no_supervision(order_id: int, unit: str | None) -> bool:
    return False


# States after which an order is no longer open for the citizen.
FINISHED_STATES = frozenset({"answered", "transferred", "not_accepted", "closed", "archived", "merged"})


@dataclass
class WorkOrderService(CalendarAndDirectory):
    sessions: async_sessionmaker[AsyncSession]
    settings: WorkOrderSettings
    data_dir: Path
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    calendar: WorkCalendar | None = None
    loaded_years: tuple[int, ...] = ()
    # Whether a supervision (督办) is open on the order of this lead unit: set by the plugin from
    # the supervision feature when it is installed (workorders/approval.py).
    supervised: Callable[[int, str | None], Awaitable[bool]] = _no_supervision

    # ---- the leader's approval of replies (答复须经分管领导审核) ----------------------------------
    def approval_reasons(self, order: Order, supervised: bool) -> tuple[str, ...]:
        return approval_reasons(
            order,
            supervised=supervised,
            major_urgencies=frozenset(u.value for u in self.settings.approval_urgencies),
            units=frozenset(self.settings.approval_units),
        )

    async def approval(self, row: WoOrder, actor: Actor) -> dict[str, Any] | None:
        """What the page shows of the leader's approval: while the lead unit writes its reply,
        whether it must go to the leader and why; once submitted, the reasons and the approval.
        ``None`` when there is nothing to show this user (it asks no one else's supervision)."""
        order = order_from_dict(row.core)
        reply = order.reply or {}
        if "approval_reasons" in reply:
            reasons = tuple(reply["approval_reasons"])
            return {
                "required": True,
                "reasons": list(reasons),
                "label": reason_text(reasons),
                "approval": reply.get("approval"),
            }
        if row.state in REPLYING_STATES and actor.role is Role.UNIT and actor.unit == row.lead_unit:
            reasons = self.approval_reasons(order, await self.supervised(order.id, order.lead_unit))
            return {
                "required": bool(reasons),
                "reasons": list(reasons),
                "label": reason_text(reasons),
                "approval": None,
            }
        return None

    # ---- orders --------------------------------------------------------------------------------
    async def create(self, fields: Mapping[str, Any], actor: Actor, request_id: str | None = None) -> int:
        """A new order in 受理; ``request_id`` (with a contact id): see :meth:`create_from_contact`."""
        channel = str(fields.get("channel") or "api")
        if channel not in CHANNELS:
            raise InputError(f"channel: one of {', '.join(CHANNELS)}")
        content = str(fields.get("content") or "").strip()
        if not content:
            raise InputError("content: the citizen's demand is required")
        now = self.clock()
        text = {
            k: str(fields.get(k) or "")[:n]
            for k, n in (("title", 200), ("citizen_name", 64), ("citizen_phone", 32), ("address", 200))
        }
        async with self.sessions() as s, s.begin():
            row = WoOrder(
                state=State.INTAKE.value,
                version=1,
                content=content[:20000],
                channel=channel,
                contact_id=(str(fields["contact_id"])[:64] if fields.get("contact_id") else None),
                request_id=request_id,
                confidential=bool(fields.get("confidential")),
                created_by=actor.username,
                created_at=now,
                updated_at=now,
                provisional=False,
                co_units="",
                urgency="general",
                core={},
                **text,
            )
            s.add(row)
            await s.flush()
            order = Order(id=row.id, created_at=now)
            audits = [
                audit_row(
                    row.id,
                    now,
                    actor.username,
                    actor.role.value,
                    "create",
                    State.INTAKE,
                    State.INTAKE,
                    "",
                    {"channel": channel},
                )
            ]
            classify = {k: fields[k] for k in ("type", "urgency", "category", "source_level") if fields.get(k)}
            if classify:
                # Classified in the same transaction: a refused classification creates no order.
                cats = frozenset((await s.execute(select(WoCategory.code))).scalars())
                ctx = RuleContext(calendar=self.cal(), now=now, limits=self.settings.limits(), categories=cats)
                decision = decide(order, "classify", classify, actor, ctx)
                order = decision.order
                a = decision.audit
                audits.append(
                    audit_row(
                        row.id,
                        now,
                        a.actor,
                        a.role.value,
                        a.action,
                        a.from_state,
                        a.to_state,
                        a.reason,
                        jsonable(dict(a.data)),
                    )
                )
            for key, value in columns(order).items():
                setattr(row, key, value)
            s.add_all(audits)
            order_id = row.id
        return order_id

    async def create_from_contact(
        self,
        *,
        channel: str,
        content: str,
        caller: str = "",
        contact_id: str | None = None,
        citizen_name: str = "",
        address: str = "",
        title: str = "",
        order_type: str | None = None,
        category: str | None = None,
        created_by: str = "system",
        confidential: bool = False,
        attachments: Sequence[tuple[str, str, bytes]] = (),
        request_id: str | None = None,
    ) -> int:
        """A new order in 受理 from a call, chat, 随手拍, web message or voice message; returns its id.
        ``created_by`` is the seat's username when a seat records it, else the channel's service name.
        ``attachments`` are (filename, content type, bytes): photos of 随手拍, the voice message.

        ``request_id``: the creator's own id for this request. Sent again by the same creator for
        the same contact (its answer was lost, the engine restarted), it opens nothing: the first
        order's id comes back, and that order gets the files it still lacks (the order and each
        file are commits of their own, so a failure can come between them). A file whose name the
        order already holds is not attached again even if its content changed since (a chat's
        transcript grows)."""
        for _name, ctype, data in attachments:
            self.check_file(ctype, data)
        if request_id is not None:
            if not contact_id:
                raise InputError("request_id: only with a contact_id")
            request_id = request_id[:64]
            found = await self.order_for_request(created_by, contact_id, request_id)
            if found is not None:
                try:
                    await self.attach_missing(found, attachments, self._creator(created_by), by_name=True)
                except (IllegalAction, Forbidden) as exc:  # the order has moved on since: it stands as it is
                    logger.info("files not attached to a repeated order", extra={"order": found, "error": str(exc)})
                return found
        fields = {
            "channel": channel,
            "content": content,
            "citizen_phone": caller,
            "contact_id": contact_id,
            "citizen_name": citizen_name,
            "address": address,
            "title": title or content[:30],
            "type": order_type,
            "category": category,
            "confidential": confidential,
        }
        actor = self._creator(created_by)
        try:
            order_id = await self.create(fields, actor, request_id)
        except IntegrityError:
            # The same request at the same time (a retry while the first was still on its way):
            # the unique index let one in. That one attaches its files; this one only answers.
            found = None if request_id is None else await self.order_for_request(created_by, contact_id, request_id)
            if found is None:
                raise
            return found
        await self.attach_missing(order_id, attachments, actor)
        return order_id

    @staticmethod
    def _creator(created_by: str) -> Actor:
        return Actor(created_by, Role.SEAT if created_by != "system" else Role.DISPATCHER)

    async def order_for_request(self, created_by: str, contact_id: str | None, request_id: str) -> int | None:
        """The order ``created_by`` opened for ``contact_id`` under its own ``request_id``, if any."""
        async with self.sessions() as s:
            found = await s.scalar(
                select(WoOrder.id).where(
                    WoOrder.created_by == created_by,
                    WoOrder.contact_id == (contact_id or "")[:64],
                    WoOrder.request_id == request_id[:64],
                )
            )
        return int(found) if found is not None else None

    async def attach_missing(
        self,
        order_id: int,
        attachments: Sequence[tuple[str, str, bytes]],
        actor: Actor | None = None,
        *,
        by_name: bool = False,
    ) -> int:
        """Attach the files the order does not hold yet (the same content, by SHA-256, is there
        already); returns how many were added. Each file is a commit of its own after the order's,
        so a stop or an outage can come between: the step that tries again (the outbox's) calls
        this on the order it finds, and the citizen's photos arrive once, never twice.
        ``by_name``: a file named like one the order holds is there already, whatever its content."""
        actor = actor or Actor("system", Role.DISPATCHER)
        held = await self.attachments(order_id)
        have = {a.sha256 for a in held}
        names = {a.filename for a in held} if by_name else set()
        added = 0
        for name, ctype, data in attachments:
            digest = hashlib.sha256(data).hexdigest()
            if digest in have or Path(name or "file").name[:200] in names:
                continue
            kind = "photo" if ctype.startswith("image/") else "recording" if ctype.startswith("audio/") else "other"
            await self.add_attachment(order_id, kind, name, ctype, data, actor)
            have.add(digest)
            added += 1
        return added

    async def order_for_contact(self, contact_id: str) -> int | None:
        """The first order opened for a contact (a call, a chat), if any: what keeps an order that a
        stop interrupted after its commit from being opened twice."""
        async with self.sessions() as s:
            found = await s.scalar(
                select(WoOrder.id).where(WoOrder.contact_id == contact_id[:64]).order_by(WoOrder.id).limit(1)
            )
        return int(found) if found is not None else None

    async def act(
        self, order_id: int, action: str, data: Mapping[str, Any], actor: Actor, expected_version: int | None = None
    ) -> int:
        """Apply one action; returns the new version. Raises NotFound, Conflict or the core's refusals."""
        now = self.clock()
        supervised = False
        if action in REPLY_ACTIONS:
            # Asked before the transaction: the supervision feature reads with sessions of its own.
            found = await self.get(order_id)
            supervised = await self.supervised(order_id, found.lead_unit)
        try:
            async with self.sessions() as s, s.begin():
                row = await s.get(WoOrder, order_id)
                if row is None:
                    raise NotFound(f"工单 {order_id} 不存在")
                version = row.version
                if expected_version is not None and expected_version != version:
                    raise Conflict(f"工单已被他人修改（版本 {version}，请求基于 {expected_version}），请刷新后重试")
                order = order_from_dict(row.core)
                kinds = frozenset(
                    (await s.execute(select(WoAttachment.kind).where(WoAttachment.order_id == order_id))).scalars()
                )
                precedent = await s.get(WoPrecedent, order.category) if order.category else None
                units = {
                    r.code: Unit(r.code, r.name, r.tier, r.active) for r in (await s.execute(select(WoUnit))).scalars()
                }
                cats = frozenset((await s.execute(select(WoCategory.code))).scalars())
                into = data.get("into") if action == "merge" else None
                target = await s.get(WoOrder, into) if isinstance(into, int) and not isinstance(into, bool) else None
                ctx = RuleContext(
                    calendar=self.cal(),
                    now=now,
                    limits=self.settings.limits(),
                    directory=units,
                    categories=cats,
                    precedent_unit=precedent.lead_unit if precedent else None,
                    attachment_kinds=kinds,
                    merge_target_state=target.state if target is not None and self.may_see(target, actor) else "",
                    approval=self.approval_reasons(order, supervised) if action in REPLY_ACTIONS else (),
                )
                decision = decide(order, action, data, actor, ctx)
                res = await s.execute(
                    update(WoOrder)
                    .where(WoOrder.id == order_id, WoOrder.version == version)
                    .values(**columns(decision.order), version=version + 1, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if getattr(res, "rowcount", 0) != 1:
                    raise Conflict("工单已被他人修改，请刷新后重试")
                a = decision.audit
                s.add(
                    audit_row(
                        order_id,
                        now,
                        a.actor,
                        a.role.value,
                        a.action,
                        a.from_state,
                        a.to_state,
                        a.reason,
                        jsonable(dict(a.data)),
                    )
                )
                if decision.set_precedent and decision.order.category:
                    p = await s.get(WoPrecedent, decision.order.category)
                    if p is None:
                        s.add(
                            WoPrecedent(
                                category=decision.order.category,
                                lead_unit=decision.set_precedent,
                                set_by=actor.username,
                                set_at=now,
                            )
                        )
                    else:
                        p.lead_unit, p.set_by, p.set_at = decision.set_precedent, actor.username, now
        except OperationalError as exc:
            # SQLite refuses the second writer of a snapshot it cannot upgrade: that writer lost.
            if "locked" in str(exc) or "busy" in str(exc):
                raise Conflict("工单正被他人修改，请刷新后重试") from None
            raise
        if decision.order.deadlines and decision.order.deadlines.provisional and action in ("dispatch", "rehandle"):
            logger.warning(
                "order %s has a provisional deadline: load the missing year with `hotline calendar load FILE`", order_id
            )
        return version + 1

    async def get(self, order_id: int) -> WoOrder:
        async with self.sessions() as s:
            row = await s.get(WoOrder, order_id)
        if row is None:
            raise NotFound(f"工单 {order_id} 不存在")
        return row

    async def open_orders_of(self, phone: str, limit: int) -> list[dict[str, Any]]:
        """The citizen's orders still open (newest first), as the seat's console shows them."""
        async with self.sessions() as s:
            rows = (
                await s.execute(
                    select(WoOrder)
                    .where(WoOrder.citizen_phone == phone, WoOrder.state.not_in(FINISHED_STATES))
                    .order_by(WoOrder.created_at.desc())
                    .limit(limit)
                )
            ).scalars()
        out = []
        for r in rows:
            try:
                label = STATE_LABELS[State(r.state)]
            except (ValueError, KeyError):
                label = r.state
            created = r.created_at.isoformat() if r.created_at else None
            out.append({"id": r.id, "title": r.title, "state": r.state, "state_label": label, "created_at": created})
        return out

    async def history(self, order_id: int) -> list[WoAudit]:
        async with self.sessions() as s:
            q = select(WoAudit).where(WoAudit.order_id == order_id).order_by(WoAudit.id)
            return list((await s.execute(q)).scalars())

    async def list_orders(
        self, actor: Actor, state: str | None = None, unit: str | None = None, limit: int = 200
    ) -> list[WoOrder]:
        q = select(WoOrder).order_by(WoOrder.id.desc()).limit(limit)
        if state:
            q = q.where(WoOrder.state == state)
        if actor.role is Role.UNIT:
            mine = actor.unit or "\x00"
            # Unit codes hold no LIKE wildcards (UNIT_RE); escaped anyway, so no code can match another's.
            pattern = "%," + mine.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ",%"
            q = q.where(or_(WoOrder.lead_unit == mine, WoOrder.co_units.like(pattern, escape="\\")))
        elif unit:
            q = q.where(WoOrder.lead_unit == unit)
        async with self.sessions() as s:
            return list((await s.execute(q)).scalars())

    def may_see(self, row: WoOrder, actor: Actor) -> bool:
        if actor.role is not Role.UNIT:
            return True
        return bool(actor.unit) and (row.lead_unit == actor.unit or f",{actor.unit}," in row.co_units)

    @staticmethod
    def may_see_citizen(row: WoOrder, actor: Actor) -> bool:
        """Who the citizen of a confidential order (举报, or asked for) is: only the seat who took
        it and those who supervise the hotline; never the units, the dispatchers or other seats."""
        if not row.confidential and row.order_type != "report":  # 举报 is confidential by nature
            return True
        if actor.role in (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN):
            return True
        return actor.role is Role.SEAT and actor.username == row.created_by

    def allowed_actions(self, row: WoOrder, actor: Actor, approval_required: bool | None = None) -> list[str]:
        return allowed(order_from_dict(row.core), actor, approval_required)

    # ---- attachments ----------------------------------------------------------------------------
    async def add_attachment(
        self, order_id: int, kind: str, filename: str, content_type: str, data: bytes, actor: Actor
    ) -> WoAttachment:
        if kind not in ATTACHMENT_KINDS:
            raise InputError(f"kind: one of {', '.join(ATTACHMENT_KINDS)}")
        self.check_file(content_type, data)
        row = await self.get(order_id)
        if not self.may_see(row, actor):
            raise NotFound(f"工单 {order_id} 不存在")
        may_attach(order_from_dict(row.core), actor)
        stored = uuid.uuid4().hex
        folder = self.data_dir / "workorders" / "attachments" / str(order_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / stored).write_bytes(data)
        att = WoAttachment(
            order_id=order_id,
            kind=kind,
            filename=Path(filename or "file").name[:200],
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            stored_name=stored,
            uploaded_by=actor.username,
            uploaded_at=self.clock(),
        )
        async with self.sessions() as s, s.begin():
            s.add(att)
            await s.flush()
            state = State(row.state)
            # Who added which file when: part of the order's history like any action.
            s.add(
                audit_row(
                    order_id,
                    att.uploaded_at,
                    actor.username,
                    actor.role.value,
                    "attach",
                    state,
                    state,
                    "",
                    {"attachment": att.id, "kind": kind, "filename": att.filename, "sha256": att.sha256},
                )
            )
        return att

    def check_file(self, content_type: str, data: bytes) -> None:
        allowed_types = self.settings.attachment_types
        if content_type not in allowed_types:
            raise InputError(f"file type {content_type!r} not allowed; allowed: {', '.join(allowed_types)}")
        if len(data) > self.settings.attachment_max_bytes:
            raise InputError(f"file larger than {self.settings.attachment_max_bytes} bytes")
        if not data:
            raise InputError("file is empty")

    async def attachments(self, order_id: int) -> list[WoAttachment]:
        async with self.sessions() as s:
            q = select(WoAttachment).where(WoAttachment.order_id == order_id).order_by(WoAttachment.id)
            return list((await s.execute(q)).scalars())

    def attachment_path(self, att: WoAttachment) -> Path:
        return self.data_dir / "workorders" / "attachments" / str(att.order_id) / att.stored_name


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        out[str(k)] = v if isinstance(v, str | int | float | bool | list | dict | type(None)) else str(v)
    return out


def state_label(state: str) -> str:
    try:
        return STATE_LABELS[State(state)]
    except ValueError:
        return state
