"""``hotline reports quality``: a day checked from the command line, stored, exit 0 when clean."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.reports.test_cli import hotline


def test_reports_quality_checks_a_day_once_and_refuses_a_bad_date(tmp_path: Path) -> None:
    assert hotline(tmp_path, "db", "upgrade").returncode == 0
    first = hotline(tmp_path, "reports", "quality", "--date", "2026-03-10")
    assert first.returncode == 0, first.stderr  # no order: nothing found
    data = json.loads(first.stdout.splitlines()[-1])
    assert data["date"] == "2026-03-10" and data["generated_by"] == "cli" and not any(data["counts"].values())
    again = hotline(tmp_path, "reports", "quality", "--date", "2026-03-10")
    assert json.loads(again.stdout.splitlines()[-1]) == data
    bad = hotline(tmp_path, "reports", "quality", "--date", "2026-13-01")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
