import argparse
import json
from pathlib import Path

from bench import kb as bench_kb
from hotline.app import build_openapi
from hotline.features import FEATURES
from knowledge import plugin


def test_knowledge_is_a_feature_after_workorders():
    assert FEATURES.index("knowledge") == FEATURES.index("workorders") + 1


def test_the_openapi_document_lists_every_knowledge_route_and_its_schemas_resolve():
    doc = build_openapi([plugin])
    for path, methods in {
        "/api/kb/search": {"get", "post"},
        "/api/kb/public/search": {"get", "post"},
        "/api/kb/entries": {"get", "post"},
        "/api/kb/entries/{id}": {"get", "put"},
        "/api/kb/entries/{id}/actions/{action}": {"post"},
        "/api/kb/import": {"post"},
        "/api/kb/export": {"get"},
    }.items():
        assert methods <= set(doc["paths"][path]), path
    assert "security" not in doc["paths"]["/api/kb/public/search"]["get"]
    refs = {v for v in _walk(doc["paths"]) if isinstance(v, str) and v.startswith("#/components/schemas/")}
    refs |= {v for v in _walk(doc["components"]) if isinstance(v, str) and v.startswith("#/components/schemas/")}
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


def _write(folder: Path, entries: list[dict], questions: list[dict]) -> None:
    folder.mkdir()
    (folder / "entries.jsonl").write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in entries))
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in questions))


ENTRIES = [
    {"id": "e1", "question": "住房公积金怎么提取", "answer": "带身份证", "category": "住房", "unit": "gjj"},
    {"id": "e2", "question": "驾驶证到期换证", "answer": "车管所", "category": "交通", "unit": "police"},
]


def test_the_bench_reports_recall_and_p99_and_fills_the_index(tmp_path):
    _write(
        tmp_path / "data", ENTRIES, [{"question": "公积金提取", "entry": "e1"}, {"question": "驾照换证", "entry": "e2"}]
    )
    parser = argparse.ArgumentParser()
    bench_kb.add_arguments(parser)
    result = bench_kb.run(parser.parse_args(["--entries", "300", "--data", str(tmp_path / "data")]))
    assert result["entries"] == 300 and result["questions"] == 2
    assert result["recall_at_5"] == 1.0 and result["search_p99_ms"] > 0
    assert result["losses"] == []


def test_the_bench_counts_an_evaluation_entry_lost_on_import_as_a_loss(tmp_path):
    bad = [
        *ENTRIES,
        {
            "id": "e3",
            "question": "有效期颠倒",
            "answer": "a",
            "category": "c",
            "unit": "u",
            "valid_from": "2026-02-01",
            "valid_to": "2026-01-01",
        },
    ]
    _write(tmp_path / "data", bad, [{"question": "公积金", "entry": "e1"}])
    parser = argparse.ArgumentParser()
    bench_kb.add_arguments(parser)
    result = bench_kb.run(parser.parse_args(["--entries", "50", "--data", str(tmp_path / "data")]))
    assert any("e3" in line or "line 3" in line for line in result["losses"]), result["losses"]
