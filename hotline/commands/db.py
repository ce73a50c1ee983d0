"""``hotline db upgrade``: bring the database schema to the newest migration."""

from __future__ import annotations

import argparse
import asyncio

from hotline.errors import CommandError
from hotline.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="database schema (Alembic migrations)")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    up = dsub.add_parser("upgrade", help="apply every migration up to REVISION (default head)")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(func=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from hotline.migrate import upgrade

    settings = load_settings()
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(upgrade(url, args.revision))
    except OSError as exc:
        raise CommandError(f"database {_safe(url)} unreachable: {exc}; check DATABASE_URL") from None
    except Exception as exc:  # driver errors differ by database; name the cause in one line
        raise CommandError(f"migration failed on {_safe(url)}: {type(exc).__name__}: {exc}") from None
    print(f"database {_safe(url)} is at {args.revision}")
    return 0


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
