"""A benchmark's losses fail the command: the JSON still comes last on stdout, each loss is a
line on stderr, and the exit code is not zero."""

from __future__ import annotations

import json

import pytest

from hotline.commands.bench import report
from hotline.errors import CommandError


def test_a_result_without_losses_is_printed_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    report("chat", {"deliver_lost": 0, "losses": []}, as_json=True)
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1]) == {"deliver_lost": 0, "losses": []} and err == ""


def test_every_loss_is_a_line_and_the_command_fails_after_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = {
        "deliver_lost": 2,
        "losses": ["web-chat message lost: m:3:1 (visitor 3 -> seat b0001)", "web-chat message lost: m:9:0"],
        "run_dir": "/tmp/kept",
    }
    with pytest.raises(CommandError) as failed:
        report("chat", result, as_json=True)
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1])["deliver_lost"] == 2
    assert err.splitlines() == [f"LOST {line}" for line in result["losses"]]
    assert failed.value.exit_code == 1 and "2 loss lines" in str(failed.value) and "/tmp/kept" in str(failed.value)


def test_the_table_form_fails_the_same_way(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommandError):
        report("voice", {"failed": 1, "losses": ["call 17 never reached a seat"]}, as_json=False)
    out, err = capsys.readouterr()
    assert "failed" in out and err.strip() == "LOST call 17 never reached a seat"
