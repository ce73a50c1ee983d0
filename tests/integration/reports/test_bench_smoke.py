"""``hotline bench reports --json`` on a small city: the JSON's shape and that no order is lost
(its speed is the bench's business, not this test's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_bench_reports_prints_its_json_last_and_counts_every_order() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotline.cli",
            "bench",
            "reports",
            "--json",
            "--orders",
            "2000",
            "--days",
            "35",
            "--spike-rounds",
            "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"orders", "daily_s", "monthly_s", "spike_detect_ms_per_min"} <= set(result)
    assert result["orders"] == 2000 and result["losses"] == []
    assert result["day"] == "2026-11-30" and 0 < result["day_orders"] < result["month_orders"] <= 2000
    assert result["interval_rows"] == 35 * 96 * 3
    assert all(
        isinstance(result[k], float | int) and result[k] >= 0
        for k in ("daily_s", "monthly_s", "spike_detect_ms_per_min")
    )
