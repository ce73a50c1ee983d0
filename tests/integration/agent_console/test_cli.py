"""``hotline console seat|seats`` on a real SQLite database; bad input is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.cli import main
from hotline.migrate import upgrade_sync


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade_sync(url.replace("sqlite:///", "sqlite+aiosqlite:///"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    return url


def test_seat_profile_is_set_and_listed(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["console", "seats"]) == 0
    assert "no seat profiles yet" in capsys.readouterr().out
    assert main(["console", "seat", "1001", "--skills", "general:3, business:1", "--groups", "涉企组,A组"]) == 0
    assert main(["console", "seat", "1001", "--kind", "cloud", "--phone", "external", "--number", "13800000000"]) == 0
    capsys.readouterr()
    assert main(["console", "seats"]) == 0
    line = capsys.readouterr().out.strip()
    assert line == (
        "1001  skills=business:1,general:3  groups=A组,涉企组  kind=cloud  phone=external  number=13800000000"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["console", "seat", "1001", "--skills", "general:9"], "--skills: 'general:9' is not name:level"),
        (["console", "seat", "1001", "--skills", "general"], "--skills: 'general' is not name:level"),
        (["console", "seat", "1001", "--skills", ","], "--skills: give at least one"),
        (["console", "seat", "zhang.san", "--skills", "general:1"], "letters, digits, _ and - only"),
        (["console", "seat", "1001", "--number", "12a"], "--number: 3-20 digits"),
        (["console", "seat", "1001"], "nothing to change"),
    ],
)
def test_bad_seat_input_is_one_line_with_the_fix(
    db: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
