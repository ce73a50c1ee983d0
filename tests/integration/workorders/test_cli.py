"""The work-order commands end to end on a real SQLite database in a temporary data directory."""

import json
from pathlib import Path

import pytest

from hotline.cli import main

SAMPLE_2027 = Path(__file__).parents[3] / "workorders" / "calendars" / "2027.toml"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_deadlines_prints_the_engines_deadlines_as_json(data_dir, capsys):
    assert main(["deadlines", "--type", "help", "--dispatched", "2026-02-13T10:00", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["reply_by"] == "2026-02-27T10:00:00+08:00"
    assert out["extension_latest_reply_by"] == "2026-03-05T10:00:00+08:00"
    assert out["initial_feedback_by"] is None


def test_deadlines_for_an_uncovered_year_is_an_error_naming_the_year(data_dir, capsys):
    assert main(["deadlines", "--type", "consult", "--dispatched", "2026-12-31T16:00"]) == 2
    assert "2027" in capsys.readouterr().err


def test_bad_input_is_one_line_without_traceback(data_dir, capsys):
    assert main(["deadlines", "--type", "help", "--dispatched", "tomorrow"]) == 2
    assert main(["calendar", "load", str(data_dir / "missing.toml")]) == 2
    bad = data_dir / "bad.toml"
    bad.write_text('year = 2027\n[[holiday]]\nname = "x"\nfrom = 2028-01-01\nto = 2028-01-01\n', encoding="utf-8")
    assert main(["db", "upgrade"]) == 0
    assert main(["calendar", "load", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not in year 2027" in err


def test_loading_2027_makes_its_deadlines_answerable(data_dir, capsys):
    assert main(["db", "upgrade"]) == 0
    assert main(["calendar", "load", str(SAMPLE_2027)]) == 0
    assert main(["calendar", "years"]) == 0
    assert "loaded: 2027" in capsys.readouterr().out
    assert main(["deadlines", "--type", "consult", "--dispatched", "2027-02-04T16:30+08:00", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # The sample's Spring Festival runs Feb 5-11; Feb 12 (Friday) is the next working day.
    assert out["reply_by"] == "2027-02-12T16:30:00+08:00"
    assert main(["kpi", "--from", "2027-01-01", "--to", "2027-01-31", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["kpis"]["on_time_sign"]["denominator"] == 0 and rep["options"]["count_basically_satisfied"] is True
