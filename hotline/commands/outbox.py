"""``hotline outbox status``: what waits to follow a commit, since when, and why (``hotline/outbox.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hotline.errors import CommandError
from hotline.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("outbox", help="side effects waiting to follow a commit (the transactional outbox)")
    osub = p.add_subparsers(dest="outbox_command", metavar="ACTION")
    osub.required = True
    st = osub.add_parser("status", help="rows waiting, failed and done per kind, the oldest wait, the newest errors")
    st.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    st.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from hotline.clock import engine_time
    from hotline.outbox import status
    from hotline.storage import make_engine, make_sessionmaker

    url = load_settings().effective_database_url

    async def read() -> dict[str, Any]:
        # Only reads: a status command never migrates the database behind the engine's back.
        engine = make_engine(url)
        try:
            return await asyncio.wait_for(status(make_sessionmaker(engine), engine_time()), 10)
        finally:
            await engine.dispose()

    try:
        found = asyncio.run(read())
    except (OSError, TimeoutError) as exc:
        raise CommandError(f"database unreachable ({exc}); check DATABASE_URL") from None
    except DBAPIError as exc:
        raise CommandError(f"no outbox to read ({type(exc.orig).__name__}); run hotline db upgrade first") from None
    failed = any(row["failed"] for row in found["kinds"].values())
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
        return 1 if failed else 0
    if not found["kinds"]:
        print("outbox empty: nothing has waited to follow a commit")
        return 0
    print(f"{'kind':<20} {'waiting':>8} {'failed':>7} {'done':>8}  oldest waiting")
    for kind, row in sorted(found["kinds"].items()):
        oldest = "-" if row["oldest_waiting_s"] is None else f"{row['oldest_waiting_s']:.0f} s"
        print(f"{kind:<20} {row['waiting']:>8} {row['failed']:>7} {row['done']:>8}  {oldest}")
    if found["errors"]:
        print("\nnewest errors:")
        for e in found["errors"]:
            print(f"  {e['kind']} {e['key']} ({e['state']}, {e['tries']} tries, next {e['next_at']}): {e['error']}")
    return 1 if failed else 0
