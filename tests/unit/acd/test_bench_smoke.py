"""Both ACD benchmarks run at a tiny size and give the documented JSON shape with sane values."""

from __future__ import annotations

import argparse
import json

import pytest

from bench import routing, sla


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


def test_sla_benchmark_compares_router_and_baseline_on_the_same_seats() -> None:
    result = sla.run(_args(sla, "--calls", "300", "--chats", "60"))
    json.dumps(result)
    for name in ("router", "baseline"):
        assert 0.0 <= result[name]["sl15"] <= 1.0
        assert result[name]["seat_hours"] >= result["erlang_seat_hours"] > 0
    assert result["router"]["seat_hours"] == pytest.approx(result["baseline"]["seat_hours"], rel=0.05)
    assert 250 < result["calls"] < 350 and "machine" in result
