"""The IVR benchmark runs end to end at a small size."""

import argparse

from bench import ivr as bench_ivr


def test_the_ivr_benchmark_reports_its_numbers_and_the_machine() -> None:
    parser = argparse.ArgumentParser()
    bench_ivr.add_arguments(parser)
    result = bench_ivr.run(parser.parse_args(["--calls", "200", "--nodes", "101", "--loads", "3", "--no-prompts"]))
    assert result["calls"] == 200 and result["synthetic_flow_nodes"] == 101
    assert result["calls_per_s"] > 0 and result["us_per_event"] > 0
    assert {"cpu", "cores", "python"} <= set(result["machine"])
    assert "prompt_generation_s" not in result
