import argparse

from bench import workorders as bench_wo
from hotline.app import build_openapi
from workorders import plugin


def test_the_benchmark_runs_small_and_reports_rates_with_the_machine():
    parser = argparse.ArgumentParser()
    bench_wo.add_arguments(parser)
    result = bench_wo.run(parser.parse_args(["--deadlines", "50", "--orders", "5"]))
    assert result["deadline_sets_per_s"] > 0 and result["lifecycles_per_s"] > 0
    assert {"cpu", "cores", "python"} <= set(result["machine"])


def test_the_openapi_document_lists_every_work_order_route_and_login():
    doc = build_openapi([plugin])
    for path in (
        "/api/login",
        "/api/me",
        "/api/workorders",
        "/api/workorders/{id}/actions/{action}",
        "/api/workorders/kpi",
        "/api/workorders/deadlines",
        "/api/workorders/{id}/attachments",
    ):
        assert path in doc["paths"], path
    assert "bearer" in doc["components"]["securitySchemes"]
    refs = {v for v in _walk(doc["paths"]) if isinstance(v, str) and v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(doc["components"]["schemas"])


def _walk(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node
