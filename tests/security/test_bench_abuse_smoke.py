"""``hotline bench abuse`` in miniature, as a correctness check (never a timing one): a real engine,
10 seats, a few seconds of quiet and of attack; no citizen or seat is refused, every attack is
refused (or admitted within the limits an address has), and the JSON has its shape."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.security.engine import HOTLINE, ROOT

pytestmark = pytest.mark.integration
SMALL = [
    *("--seats", "10", "--quiet", "4", "--attack", "6", "--warmup", "1", "--drain", "30"),
    *("--visitor-rate", "1", "--visitor-messages", "2", "--message-interval", "1", "--hold", "2"),
]


def test_the_abuse_bench_refuses_every_attack_and_no_citizen_or_seat(tmp_path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [*HOTLINE, "bench", "abuse", "--json", *SMALL],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["losses"] == [], result["losses"]
    assert done.returncode == 0, done.stderr[-3000:]
    for key in ("offer_p99_quiet_ms", "offer_p99_attack_ms", "rss_growth_mib", "attacks", "refused"):
        assert isinstance(result[key], (int, float)), key
    assert result["legit_refused"] == 0
    assert all(result["targets"][k] for k in ("no_legit_refused", "every_attack_refused")), result["targets"]
    assert result["attacks"] > 0 and result["attacks_not_refused"] == 0
    assert result["attacks"] == result["refused"] + result["admitted_within_limits"]
    details = result["details"]
    kinds = details["per_attack"]
    assert "actions_huge" in kinds and len(kinds) == 10  # a stolen manager's surge included
    for kind, tally in kinds.items():
        assert tally["attempts"] > 0, kind
        assert tally["got_through"] == tally["unanswered"] == tally["engine_errors"] == 0, kind
    assert details["offers_measured"]["quiet"] > 0 and details["offers_measured"]["attack"] > 0
    assert details["engine_code"] == str(ROOT / "hotline" / "__init__.py")  # this checkout's engine
    assert details["settings"]["security"]["visitor_new_ids_per_hour"] == 60  # the engine's defaults
