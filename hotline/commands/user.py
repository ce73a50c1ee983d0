"""``hotline user add|list|disable``: the accounts that log in to the pages and the API."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from hotline.errors import CommandError
from hotline.settings import load_settings

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hotline.auth import ROLES

    p = sub.add_parser("user", help="accounts: add, list, disable")
    usub = p.add_subparsers(dest="user_command", metavar="ACTION")
    usub.required = True
    add = usub.add_parser("add", help="add an account (the password is generated and printed once unless given)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--unit", help="unit code in the dispatch directory (role unit only)")
    add.add_argument(
        "--leader", action="store_true", help="the unit's leader (分管领导): signs its replies that need it (role unit)"
    )
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(func=_add)
    ls = usub.add_parser("list", help="list accounts")
    ls.set_defaults(func=_list)
    dis = usub.add_parser("disable", help="disable an account (its tokens stop working at once)")
    dis.add_argument("username")
    dis.set_defaults(func=_disable)


async def add_user(
    url: str, username: str, role: str, unit: str | None, name: str, password: str, leader: bool = False
) -> None:
    from hotline.auth import create_account
    from hotline.storage import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        await create_account(make_sessionmaker(engine), username, role, password, unit, name, leader)
    finally:
        await engine.dispose()


def _run(coro_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from hotline.auth import AccountError

    try:
        return asyncio.run(coro_factory())
    except AccountError as exc:
        raise CommandError(str(exc), 2) from None
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"database error ({type(exc).__name__}); run `hotline db upgrade` first") from None


def _add(args: argparse.Namespace) -> int:
    generated = not args.password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\r\n")
    url = load_settings().effective_database_url
    _run(lambda: add_user(url, args.username, args.role, args.unit, args.name, password, args.leader))
    print(f"account {args.username} ({args.role}{', leader' if args.leader else ''}) created")
    if generated:
        print(f"password (shown once): {password}")
    return 0


async def list_users(url: str) -> list[tuple[str, str, str | None, bool, str]]:
    from hotline.auth import Account
    from hotline.storage import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Account.username, Account.role, Account.unit_id, Account.active, Account.display_name).order_by(
                    Account.username
                )
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


def _list(args: argparse.Namespace) -> int:
    url = load_settings().effective_database_url
    for username, role, unit, active, name in _run(lambda: list_users(url)):
        print(f"{username:<20} {role:<11} {unit or '-':<12} {'active' if active else 'disabled':<9} {name}")
    return 0


async def disable_user(url: str, username: str) -> bool:
    from hotline.auth import Account
    from hotline.storage import make_engine

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            res = await conn.execute(update(Account).where(Account.username == username).values(active=False))
            return bool(res.rowcount)
    finally:
        await engine.dispose()


def _disable(args: argparse.Namespace) -> int:
    url = load_settings().effective_database_url
    if not _run(lambda: disable_user(url, args.username)):
        raise CommandError(f"no account named {args.username!r}; see `hotline user list`", 2)
    print(f"account {args.username} disabled")
    return 0
