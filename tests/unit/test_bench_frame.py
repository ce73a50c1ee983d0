"""hotline bench: a benchmark that finds something wrong prints its result, then fails with the cause."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from bench import sla
from hotline.cli import main
from hotline.commands.bench import BenchFailed


def test_a_failed_benchmark_prints_its_result_then_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> dict[str, Any]:
        raise BenchFailed("router: voice lost 1 of 12 (v7)", {"router": {"sl15": 0.9}})

    monkeypatch.setattr(sla, "run", run)  # the frame loads benchmarks by name: this is its seam
    code = main(["bench", "sla", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out.strip().splitlines()[-1]) == {"router": {"sl15": 0.9}}
    assert "voice lost 1 of 12 (v7)" in err
