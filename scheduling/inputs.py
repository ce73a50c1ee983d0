"""What the scheduling commands read: arrivals from a CSV file or the database, and the
database itself for one command's work; China's time zone for their dates."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from hotline.errors import CommandError

CHINA = dt.timezone(dt.timedelta(hours=8))


def read_history(path: Path) -> list[tuple[datetime, str]]:
    """CSV rows 'timestamp,channel'; a header row is skipped; errors name the line."""
    if not path.exists():
        raise CommandError(f"history file {path} does not exist; give a CSV of timestamp,channel rows")
    out: list[tuple[datetime, str]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise CommandError(f"{path}:{number}: expected 'timestamp,channel', got {','.join(row)!r}")
            try:
                at = datetime.fromisoformat(row[0].strip())
            except ValueError:
                if number == 1:
                    continue  # header
                raise CommandError(f"{path}:{number}: {row[0]!r} is not an ISO timestamp") from None
            out.append((at.replace(tzinfo=None), row[1].strip() or "voice"))
    if not out:
        raise CommandError(f"{path} holds no arrivals; it needs rows like 2026-05-11T09:30:00,voice")
    return out


def run_on_database(work: Any) -> Any:
    from hotline.settings import load_settings
    from hotline.storage import make_engine, make_sessionmaker

    async def go() -> Any:
        settings = load_settings()
        engine = make_engine(settings.effective_database_url)
        try:
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"database error ({type(exc).__name__}); run `hotline db upgrade` first") from None
