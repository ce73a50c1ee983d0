"""``hotline console seat|seats``: the skills, groups and phone each seat logs in with."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hotline.errors import CommandError
from hotline.settings import load_settings

SEAT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("console", help="agent console: seat profiles (skills, groups, phone)")
    csub = p.add_subparsers(dest="console_command", metavar="ACTION")
    csub.required = True
    seat = csub.add_parser("seat", help="set a seat's profile (applies at its next login)")
    seat.add_argument("seat_id", help="the seat's account name, e.g. 1001")
    seat.add_argument("--skills", help="name:level,... with levels 1-5, e.g. general:3,business:1")
    seat.add_argument("--groups", help="comma-separated groups, e.g. 涉企组; empty string clears")
    seat.add_argument("--kind", choices=("onsite", "cloud"))
    seat.add_argument("--phone", choices=("webrtc", "desk", "external"))
    seat.add_argument("--number", help="a cloud seat's external number (digits)")
    seat.set_defaults(func=_seat)
    ls = csub.add_parser("seats", help="list seat profiles")
    ls.set_defaults(func=_seats)


def parse_skills(text: str) -> dict[str, int]:
    """``general:3,business:1`` -> {"general": 3, "business": 1}; a bad item names itself."""
    out: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, level = item.partition(":")
        if not sep or not name.strip() or not level.strip().isdigit() or not 1 <= int(level) <= 5:
            raise CommandError(f"--skills: {item!r} is not name:level with a level 1-5 (e.g. general:3)", 2)
        out[name.strip()] = int(level)
    if not out:
        raise CommandError("--skills: give at least one name:level (e.g. general:1)", 2)
    return out


def _seat(args: argparse.Namespace) -> int:
    if not SEAT_ID.match(args.seat_id):
        raise CommandError(f"seat {args.seat_id!r}: letters, digits, _ and - only (1-32)", 2)
    if args.number is not None and not re.fullmatch(r"\+?[0-9]{3,20}", args.number):
        raise CommandError("--number: 3-20 digits, optionally with a leading +", 2)
    changes: dict[str, Any] = {}
    if args.skills is not None:
        changes["skills"] = parse_skills(args.skills)
    if args.groups is not None:
        changes["groups"] = sorted({g.strip() for g in args.groups.split(",") if g.strip()})
    for name in ("kind", "phone", "number"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if not changes:
        raise CommandError("nothing to change: give --skills, --groups, --kind, --phone or --number", 2)
    row = _db(_save(args.seat_id, changes))
    print(_line(row))
    return 0


def _seats(_args: argparse.Namespace) -> int:
    rows = _db(_list())
    if not rows:
        print("no seat profiles yet: seats log in with the default skills (HOTLINE_CONSOLE__DEFAULT_SKILLS)")
    for row in rows:
        print(_line(row))
    return 0


def _line(row: dict[str, Any]) -> str:
    skills = ",".join(f"{k}:{v}" for k, v in sorted(row["skills"].items())) or "-"
    groups = ",".join(row["groups"]) or "-"
    number = f"  number={row['number']}" if row["number"] else ""
    return f"{row['seat_id']}  skills={skills}  groups={groups}  kind={row['kind']}  phone={row['phone']}{number}"


def _db(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"database error ({type(exc).__name__}); run `hotline db upgrade` first") from None


async def _save(seat_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    from agent_console.models import SeatProfile
    from agent_console.settings import load_console_settings
    from hotline.storage import make_engine, make_sessionmaker

    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            row = await s.get(SeatProfile, seat_id)
            if row is None:
                row = SeatProfile(
                    seat_id=seat_id,
                    skills=dict(load_console_settings().default_skills),
                    groups=[],
                    kind="onsite",
                    phone="webrtc",
                    number="",
                )
                s.add(row)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at, row.updated_by = dt.datetime.now(dt.UTC), "cli"
            return _dict(row)
    finally:
        await engine.dispose()


async def _list() -> list[dict[str, Any]]:
    from agent_console.models import SeatProfile
    from hotline.storage import make_engine, make_sessionmaker

    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = (await s.execute(select(SeatProfile).order_by(SeatProfile.seat_id))).scalars().all()
            return [_dict(r) for r in rows]
    finally:
        await engine.dispose()


def _dict(row: Any) -> dict[str, Any]:
    return {
        "seat_id": row.seat_id,
        "skills": dict(row.skills),
        "groups": list(row.groups),
        "kind": row.kind,
        "phone": row.phone,
        "number": row.number,
    }
