"""The routing benchmark runs at a tiny size and gives the documented JSON shape (bench sla: test_bench_sla.py)."""

from __future__ import annotations

import argparse
import json

from bench import routing


def _args(module: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return parser.parse_args(list(argv))


def test_routing_benchmark_reports_each_size() -> None:
    result = routing.run(_args(routing, "--sizes", "50,200", "--seats", "60", "--skills", "12", "--events", "400"))
    json.dumps(result)
    assert [s["waiting"] for s in result["sizes"]] == [50, 200]
    for size in result["sizes"]:
        assert set(size) >= {"waiting", "seats", "events_per_s", "p50_ms", "p99_ms", "bytes_per_contact"}
        assert size["seats"] == 60 and size["events_per_s"] > 0
        assert 0 < size["p50_ms"] <= size["p99_ms"]
        assert size["waiting_at_end"] > 0
    assert "cores" in result["machine"]
