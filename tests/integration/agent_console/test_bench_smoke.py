"""``hotline bench console`` at toy size: the engine process starts, every offer and every
supervisor update arrives, and the result has the keys the README quotes."""

from __future__ import annotations

import argparse

import pytest

from bench import console
from hotline.errors import CommandError


def test_console_bench_runs_small_and_counts_every_delivery() -> None:
    parser = argparse.ArgumentParser()
    console.add_arguments(parser)
    args = parser.parse_args(
        [
            "--seats",
            "4",
            "--supervisors",
            "2",
            "--contacts",
            "6",
            "--rate",
            "40",
            "--actions",
            "3",
            "--action-rate",
            "30",
        ]
    )
    result = console.run(args)
    assert result["seats"] == 4 and result["offers_received"] == 6
    assert result["supervisor_updates"] == result["supervisor_updates_expected"] == 6
    assert 0 <= result["offer_p50_ms"] <= result["offer_p99_ms"] <= result["offer_max_ms"]
    assert 0 <= result["supervisor_p50_ms"] <= result["supervisor_p99_ms"]
    assert result["losses"] == [] and result["sockets_dropped"] == 0
    # 6 offers; each action's pause reached both supervisors (its "ready" may go out in the same row
    # when both changes fall in one loop turn: a seat's changes within a turn are sent once).
    assert result["updates"]["offers"] == 6 and 3 * 2 <= result["updates"]["rows_actions"] <= 3 * 2 * 2
    assert 0 < result["engine_cpu_ms_per_update"] < 100
    assert set(result["machine"]) >= {"cpu", "cores", "python"}


def test_console_bench_refuses_sizes_below_one() -> None:
    parser = argparse.ArgumentParser()
    console.add_arguments(parser)
    with pytest.raises(CommandError, match="--seats must be at least 1"):
        console.run(parser.parse_args(["--seats", "0"]))
    assert console.p([], 0.99) is None and console.p([0.001, 0.002], 0.5) == 1.0
