"""Smoke test of the roster benchmark at a small size: the same code path as the month for 200 seats."""

from __future__ import annotations

import argparse

from bench import roster as roster_bench


def test_roster_bench_runs_small_and_reports_the_agreed_keys() -> None:
    parser = argparse.ArgumentParser()
    roster_bench.add_arguments(parser)
    result = roster_bench.run(parser.parse_args(["--seats", "20", "--days", "7"]))
    for key in ("seconds", "seat_hours", "required_seat_hours", "ratio", "machine"):
        assert key in result
    assert result["short_slots"] == 0
    assert result["unassigned_shifts"] == 0
    assert abs(result["ratio"] - result["seat_hours"] / result["required_seat_hours"]) < 1e-4
    assert 1.0 <= result["ratio"] <= 1.25
    assert result["seat_hours"] < result["fixed_shift_seat_hours"]
