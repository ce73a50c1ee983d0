"""hotline bench: a benchmark that lost something prints its result, then fails naming what and where."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from bench import sla
from hotline.cli import main


def test_a_benchmark_with_losses_prints_its_result_then_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> dict[str, Any]:
        return {"router": {"sl15": 0.9}, "losses": ["router: voice lost 1 of 12 (v7)"]}

    monkeypatch.setattr(sla, "run", run)  # the frame loads benchmarks by name: this is its seam
    code = main(["bench", "sla", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out.strip().splitlines()[-1])["router"] == {"sl15": 0.9}
    assert "LOST router: voice lost 1 of 12 (v7)" in err


def test_a_benchmark_without_losses_exits_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sla, "run", lambda args: {"router": {"sl15": 0.97}, "losses": []})
    assert main(["bench", "sla", "--json"]) == 0
    assert "LOST" not in capsys.readouterr().err
