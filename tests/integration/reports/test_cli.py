"""``hotline reports``: a report made and stored from the command line, written in each format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def hotline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Its own SQLite file: DATABASE_URL (the test servers') would win over HOTLINE_DATABASE_URL and
    # migrate the shared database.
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    env = {**os.environ, "DATABASE_URL": url, "HOTLINE_DATABASE_URL": url, "HOTLINE_CONFIG": ""}
    env.pop("HOTLINE_CONFIG")
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_reports_daily_is_made_once_and_written_as_asked(tmp_path: Path) -> None:
    assert hotline(tmp_path, "db", "upgrade").returncode == 0
    first = hotline(tmp_path, "reports", "daily", "--date", "2026-03-10")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout.splitlines()[-1])
    assert data["kind"] == "daily" and data["orders"]["new"] == 0  # an empty day, not an error
    again = hotline(tmp_path, "reports", "daily", "--date", "2026-03-10")
    assert json.loads(again.stdout.splitlines()[-1]) == data  # stored: the same document
    for suffix in ("pdf", "xlsx"):
        out = tmp_path / f"r.{suffix}"
        done = hotline(tmp_path, "reports", "daily", "--date", "2026-03-10", "--out", str(out))
        assert done.returncode == 0 and out.stat().st_size > 500, done.stderr
    bad = hotline(tmp_path, "reports", "monthly", "--month", "2026-13")
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr
