"""Scheduling adapters: manager actions into the running ACD, the action log and rosters in the
database, the interaction history out of it.

``SchedulingService`` is the one door for a shift manager's action: the pure ``ManagerDesk``
decides, this class carries out: ACD events go through ``AcdApi.feed`` (routing changes at
once), cloud seats get their device registered first (so the voice layer can dial their external
number), notices and the IVR's emergency announcement are published on the bus, and every action
is written to ``scheduling_actions`` with who and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.api import AcdApi
from acd.core.events import SeatLoggedIn
from hotline.bus import Bus
from hotline.dialing import policy
from hotline.offload import Lane
from hotline.storage import Interaction
from scheduling.core.actions import (
    Action,
    ActionRecord,
    CloudSeat,
    IvrAnnouncement,
    ManagerDesk,
    MoveBreak,
    NotifySeat,
    Output,
)
from scheduling.core.intraday import Alert, IntervalView, LiveSeat, group_counts, intraday_view
from scheduling.core.shifts import Break, Roster, Shift, default_templates, move_break
from scheduling.models import ManagerActionRow, RequirementRow, RosterShiftRow

logger = logging.getLogger(__name__)

OCCUPIED = ("reserved", "busy", "wrap_up")
CloudDevice = Callable[[CloudSeat], None]


def group_of_channel(channel: str) -> str:
    return "voice" if channel in ("voice", "callback") else "internet"


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _detail(action: Action | str) -> dict[str, Any]:
    if isinstance(action, str):
        return {"step": action}
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(action).items()}


class SchedulingService:
    def __init__(
        self,
        acd: AcdApi,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        cloud_device: CloudDevice | None = None,
        queue: str | None = None,
        desk: ManagerDesk | None = None,
    ) -> None:
        self.acd = acd
        self.bus = bus
        self.sessions = sessions
        # Worker processes for staffing computations asked over HTTP (None: computed inline).
        self.compute: Lane | None = None
        self.compute_timeout_s = 5.0
        self.dial_policy = policy()  # the plugin sets the deployment's own
        self.cloud_device = cloud_device
        self.queue = queue  # whose queue length decides "until the queue drains"; None: all queues
        self.desk = desk or ManagerDesk()
        self._cloud: dict[str, CloudSeat] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def act(self, action: Action, *, who: str, why: str) -> list[Output]:
        """Apply one manager action now; raises ValueError (no who/why, illegal surge step)."""
        async with self._lock:
            now = self.acd.now()
            outputs = self.desk.apply(action, now=now, who=who, why=why)
            await self._carry_out(outputs)
            await self._log(self.desk.log[-1])
        return outputs

    async def tick(self) -> list[Output]:
        """Automatic surge steps (period over, queue drained, idle cloud seats logged out)."""
        async with self._lock:
            core = self.acd.core
            names = [self.queue] if self.queue else core.queue_names()
            waiting = sum(core.queue_snapshot(n)["waiting"] for n in names)
            busy = [s for s in self._cloud if core.seat_state(s)["state"] in OCCUPIED]
            before = len(self.desk.log)
            outputs = self.desk.tick(self.acd.now(), waiting=waiting, busy_seats=busy)
            await self._carry_out(outputs)
            for record in self.desk.log[before:]:
                await self._log(record)
        return outputs

    async def _carry_out(self, outputs: Sequence[Output]) -> None:
        surge_seats: dict[str, CloudSeat] | None = None
        for out in outputs:
            if isinstance(out, NotifySeat):
                await self.bus.publish(f"seat.{out.seat_id}", {"event": "notice", "text": out.text})
            elif isinstance(out, IvrAnnouncement):
                await self.bus.publish("ivr.announcement", {"text": out.text, "active": out.text is not None})
            else:
                if isinstance(out, SeatLoggedIn) and out.kind == "cloud":
                    if surge_seats is None:  # looked up once per batch: a surge logs many seats in
                        surge_seats = {s.seat_id: s for s in self.desk.surge_seats}
                    seat = surge_seats.get(out.seat_id)
                    if seat is not None:
                        self._cloud[seat.seat_id] = seat
                        if self.cloud_device is not None:
                            self.cloud_device(seat)
                # The desk's clock and the service's may differ by the time spent here.
                await self.acd.feed(type(out)(**{**_fields(out), "now": self.acd.now()}))
                await self.bus.publish("supervisor.scheduling", {"event": type(out).__name__, "seat": out.seat_id})

    async def _log(self, record: ActionRecord) -> None:
        kind = record.action if isinstance(record.action, str) else type(record.action).__name__
        logger.info("manager action", extra={"who": record.who, "why": record.why, "kind": kind})
        await self.bus.publish(
            "supervisor.scheduling", {"event": "action", "who": record.who, "why": record.why, "kind": kind}
        )
        if self.sessions is None:
            return
        async with self.sessions() as s, s.begin():
            s.add(
                ManagerActionRow(
                    at=_utc(record.at), who=record.who, why=record.why, kind=kind, detail=_detail(record.action)
                )
            )

    async def move_break(
        self, roster: str, seat_id: str, old_start: dt.datetime, new_start: dt.datetime, *, who: str, why: str
    ) -> list[Output]:
        """Move a planned break of a published shift within its template's window, then tell the seat."""
        if self.sessions is None:
            raise ValueError("no database: the published roster cannot be changed")
        if old_start.tzinfo is None or new_start.tzinfo is None:
            raise ValueError("break times must carry their time zone")
        if not who.strip() or not why.strip():
            raise ValueError("every manager action needs who (操作人) and why (原因)")
        templates = {t.name: t for t in default_templates()}
        async with self.sessions() as s, s.begin():
            rows = await s.execute(
                select(RosterShiftRow).where(RosterShiftRow.roster == roster, RosterShiftRow.seat == seat_id)
            )
            for row in rows.scalars():
                begins = _aware(row.starts_at)
                starts = [dt.datetime.fromisoformat(b["start"]) for b in row.breaks.get("breaks", [])]
                if old_start not in starts:
                    continue
                template = templates.get(row.template)
                if template is None:
                    raise ValueError(f"template {row.template!r} is unknown; the break cannot be checked")
                step = dt.timedelta(minutes=30)

                def slot(t: dt.datetime, begins: dt.datetime = begins, step: dt.timedelta = step) -> int:
                    if (t - begins) % step:
                        raise ValueError("break times fall on the half hour")
                    return (t - begins) // step

                shift = Shift(
                    row.skill_group,
                    row.template,
                    0,
                    slot(_aware(row.ends_at)),
                    tuple(
                        Break(slot(t), b["minutes"] // 30, b["label"], b["paid"])
                        for t, b in zip(starts, row.breaks["breaks"], strict=True)
                    ),
                    seat_id,
                )
                moved = move_break(shift, template, slot(old_start), slot(new_start))
                tz = old_start.tzinfo
                row.breaks = {
                    "breaks": [
                        {
                            "start": (begins + b.start * step).astimezone(tz).isoformat(),
                            "minutes": b.length * 30,
                            "label": b.label,
                            "paid": b.paid,
                        }
                        for b in moved.breaks
                    ]
                }
                break
            else:
                raise ValueError(f"seat {seat_id} has no break at {old_start.isoformat()} in roster {roster!r}")
        return await self.act(
            MoveBreak(seat_id, roster, old_start.isoformat(), new_start.isoformat()), who=who, why=why
        )

    async def intraday(
        self,
        roster: str,
        day: dt.date,
        group: str,
        tz: dt.tzinfo,
        *,
        aht_s: float,
        target: float = 0.95,
        within_s: float = 15.0,
        patience_s: float | None = None,
        concurrency: int = 1,
    ) -> tuple[list[IntervalView], list[Alert]]:
        """Today's view for one group: the published plan against the ACD's live counts.

        Logged-in and ready seats are this group's: those whose shift of the roster runs now in
        this group, and those signed in without a current shift that can serve it (``group_counts``).
        """
        if self.sessions is None:
            raise ValueError("no database: the published roster cannot be read")
        line = (await day_chart(self.sessions, roster, day, tz)).get(group)
        if not line or not line["arrivals"]:
            raise ValueError(f"roster {roster!r} has no forecast for group {group!r} on {day}")
        planned = [float(v) for v in line["arrivals"]]
        size = 24 * 3600 // len(planned)
        day_start = dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()
        now = self.acd.now()
        into = min(max(now - day_start, 0.0), len(planned) * size - 1e-6)
        current, elapsed = int(into // size), (into % size) / size
        actual = [0] * (current + 1)
        core = self.acd.core
        for row in core.interval_stats(size):
            index = int((row["interval"] - day_start) // size)
            if 0 <= index <= current and group_of_channel(str(row["channel"])) == group:
                actual[index] += int(row["offered"])
        on_shift = await self._on_shift(roster, now)
        live = [LiveSeat(seat.id, seat.state, seat.max_chats) for seat in core.seats()]
        logged_in, ready = group_counts(live, on_shift, group)
        view = functools.partial(
            intraday_view,
            group,
            planned,
            actual,
            current,
            [int(v) for v in line["scheduled"]],
            logged_in,
            ready,
            aht_s=aht_s,
            target=target,
            within_s=within_s,
            patience_s=patience_s,
            interval_minutes=size // 60,
            elapsed=elapsed,
            channel="voice" if group == "voice" else "chat",
            concurrency=concurrency,
        )
        if self.compute is None:
            return view()
        # One Erlang figure per interval of the day: in a worker process, never on the loop.
        return await self.compute.process(view, timeout=self.compute_timeout_s)

    async def _on_shift(self, roster: str, now: float) -> dict[str, str]:
        """Seat -> skill group of the roster's shifts running at ``now``."""
        assert self.sessions is not None
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        async with self.sessions() as s:
            rows = await s.execute(
                select(RosterShiftRow.seat, RosterShiftRow.skill_group).where(
                    RosterShiftRow.roster == roster,
                    RosterShiftRow.seat != "",
                    RosterShiftRow.starts_at <= at,
                    RosterShiftRow.ends_at > at,
                )
            )
            return {seat: group for seat, group in rows.all()}

    def start(self, every_s: float = 30.0) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(every_s), name="scheduling-surge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.tick()
            except Exception:
                logger.exception("surge tick failed")


def _fields(out: Output) -> dict[str, Any]:
    return {name: getattr(out, name) for name in out.__dataclass_fields__}


async def load_actions(sessions: async_sessionmaker[AsyncSession], since: dt.datetime) -> list[ManagerActionRow]:
    async with sessions() as s:
        rows = await s.execute(
            select(ManagerActionRow).where(ManagerActionRow.at >= since).order_by(ManagerActionRow.id)
        )
        return list(rows.scalars())


async def publish_roster(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    roster: Roster,
    day0: dt.datetime,
    requirement: Mapping[str, Sequence[int]] | None = None,
    arrivals: Mapping[str, Sequence[float]] | None = None,
) -> int:
    """Store a roster under ``name`` (replacing an earlier one of that name); slot 0 is ``day0``.

    Times are stored in UTC: SQLite keeps no offset, so UTC is the one reading both databases agree on.
    """
    if day0.tzinfo is None:
        raise ValueError("day0 must carry its time zone")
    step = dt.timedelta(minutes=roster.slot_minutes)
    per_day = 24 * 60 // roster.slot_minutes
    async with sessions() as s, s.begin():
        await s.execute(delete(RosterShiftRow).where(RosterShiftRow.roster == name))
        await s.execute(delete(RequirementRow).where(RequirementRow.roster == name))
        for group, need in (requirement or {}).items():
            for start in range(0, len(need), per_day):
                s.add(
                    RequirementRow(
                        roster=name,
                        skill_group=group,
                        day=(day0 + start * step).date().isoformat(),
                        interval_minutes=roster.slot_minutes,
                        seats={
                            "required": list(need[start : start + per_day]),
                            "arrivals": [round(v, 3) for v in (arrivals or {}).get(group, [])[start : start + per_day]],
                        },
                    )
                )
        for shift in roster.shifts:
            s.add(
                RosterShiftRow(
                    roster=name,
                    seat=shift.seat or "",
                    skill_group=shift.group,
                    template=shift.template,
                    starts_at=(day0 + shift.start * step).astimezone(dt.UTC),
                    ends_at=(day0 + shift.end * step).astimezone(dt.UTC),
                    breaks={
                        "breaks": [
                            {
                                "start": (day0 + b.start * step).isoformat(),
                                "minutes": b.length * roster.slot_minutes,
                                "label": b.label,
                                "paid": b.paid,
                            }
                            for b in shift.breaks
                        ]
                    },
                )
            )
    return len(roster.shifts)


async def load_history(
    sessions: async_sessionmaker[AsyncSession], since: dt.datetime, until: dt.datetime, tz: dt.tzinfo
) -> list[tuple[dt.datetime, str]]:
    """(local arrival time, channel) of stored interactions, for the forecast."""
    async with sessions() as s:
        rows = await s.execute(
            select(Interaction.arrived_at, Interaction.channel)
            .where(Interaction.arrived_at >= since, Interaction.arrived_at < until)
            .order_by(Interaction.arrived_at)
        )
        out: list[tuple[dt.datetime, str]] = []
        for arrived, channel in rows:
            # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
            aware = arrived if arrived.tzinfo is not None else arrived.replace(tzinfo=dt.UTC)
            out.append((aware.astimezone(tz).replace(tzinfo=None), channel))
        return out


async def day_chart(
    sessions: async_sessionmaker[AsyncSession], name: str, day: dt.date, tz: dt.tzinfo
) -> dict[str, dict[str, list[Any]]]:
    """Per skill group: required and scheduled (on seat) seats per interval of one local day."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = start + dt.timedelta(days=1)
    out: dict[str, dict[str, list[Any]]] = {}
    async with sessions() as s:
        reqs = await s.execute(
            select(RequirementRow).where(RequirementRow.roster == name, RequirementRow.day == day.isoformat())
        )
        minutes = 30
        for row in reqs.scalars():
            minutes = row.interval_minutes
            line = out.setdefault(row.skill_group, {})
            line["required"] = [int(v) for v in row.seats.get("required", [])]
            line["arrivals"] = [float(v) for v in row.seats.get("arrivals", [])]
        per_day = 24 * 60 // minutes
        shifts = await s.execute(
            select(RosterShiftRow).where(
                RosterShiftRow.roster == name,
                RosterShiftRow.starts_at < end.astimezone(dt.UTC),
                RosterShiftRow.ends_at > start.astimezone(dt.UTC),
                RosterShiftRow.seat != "",
            )
        )
        for shift in shifts.scalars():
            cov = out.setdefault(shift.skill_group, {}).setdefault("scheduled", [0] * per_day)
            off = [
                (dt.datetime.fromisoformat(b["start"]), dt.timedelta(minutes=b["minutes"]))
                for b in shift.breaks.get("breaks", [])
            ]
            begins, ends = _aware(shift.starts_at), _aware(shift.ends_at)
            for i in range(per_day):
                t = start + dt.timedelta(minutes=i * minutes)
                if begins <= t < ends and not any(b <= t < b + d for b, d in off):
                    cov[i] += 1
    for lines in out.values():
        lines.setdefault("arrivals", [])
        lines.setdefault("required", [])
        lines.setdefault("scheduled", [0] * (24 * 60 // 30))
    return out


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive values for timezone-aware columns; they were stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
