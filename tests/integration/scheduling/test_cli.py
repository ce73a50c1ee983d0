"""The staffing and forecast commands end to end through ``hotline``'s own entry point."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from hotline.cli import main
from scheduling.calendar import is_working_day


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_staffing_json_prints_seats_service_level_asa_and_occupancy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "staffing", "--arrivals-per-hour", "600", "--aht", "240", "--target", "0.8", "--json")
    assert code == 0
    data = json.loads(out.strip().splitlines()[-1])
    assert data["seats"] == 46
    assert data["within_s"] == 15
    assert 0.8 <= data["service_level"] < 0.85
    assert 10 < data["asa_s"] < 11
    assert data["occupancy"] == pytest.approx(40 / 46)


def test_staffing_with_patience_and_shrinkage_reports_abandonment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "staffing", "--arrivals-per-hour", "600", "--aht", "240", "--patience", "90", "--shrinkage", "0.3"
    )
    assert code == 0
    assert "Erlang A" in out
    assert "放弃率" in out
    assert "shrinkage 30%" in out


def test_staffing_chat_defaults_to_a_sixty_second_first_response(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "staffing",
        "--arrivals-per-hour",
        "300",
        "--aht",
        "600",
        "--channel",
        "chat",
        "--concurrency",
        "3",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["within_s"] == 60 and data["concurrency"] == 3


def test_zero_traffic_needs_no_seats_and_prints_valid_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "staffing", "--arrivals-per-hour", "0", "--aht", "240", "--json")
    assert code == 0
    assert "Infinity" not in out and "NaN" not in out
    assert json.loads(out)["seats"] == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--arrivals-per-hour", "-1", "--aht", "240"], "arrivals"),
        (["--arrivals-per-hour", "100", "--aht", "240", "--target", "95"], "target"),
        (["--arrivals-per-hour", "100", "--aht", "240", "--concurrency", "2"], "--channel chat"),
        (["--arrivals-per-hour", "100", "--aht", "240", "--shrinkage", "1"], "shrinkage"),
    ],
)
def test_bad_staffing_input_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "staffing", *argv)
    assert code != 0
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def write_history(path: Path, days: int) -> None:
    start = date(2025, 3, 3)
    rows = ["timestamp,channel"]
    for d in range(days):
        day = start + timedelta(days=d)
        calls = 40 if is_working_day(day) else 20  # the calendar's holidays (清明 4 April 2025) included
        for i in range(calls):
            at = datetime.combine(day, datetime.min.time()) + timedelta(hours=8, minutes=i * 10 % 600)
            rows.append(f"{at.isoformat()},{'voice' if i % 4 else 'chat'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_forecast_reads_csv_history_and_prints_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    write_history(history, 28)
    code, out, _ = run(capsys, "forecast", "--history", str(history), "--days", "2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["interval_minutes"] == 30
    assert set(data["channels"]) == {"voice", "chat"}
    first = data["channels"]["voice"]["2025-03-31"]  # a Monday after four weeks of history
    assert len(first) == 48
    assert sum(first) == pytest.approx(30, rel=0.1)


def test_forecast_holdout_reports_mape(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    write_history(history, 35)
    code, out, _ = run(capsys, "forecast", "--history", str(history), "--holdout", "7", "--json")
    assert code == 0
    voice = next(r for r in json.loads(out)["accuracy"] if r["channel"] == "voice")
    assert voice["days"] == 7
    assert voice["daily_mape"] < 5


def test_forecast_names_a_bad_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text("2025-03-03T08:00:00,voice\nyesterday,voice\n", encoding="utf-8")
    code, _, err = run(capsys, "forecast", "--history", str(history))
    assert code != 0
    assert ":2:" in err and "Traceback" not in err


def test_forecast_reports_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "forecast", "--history", str(tmp_path / "none.csv"))
    assert code != 0 and "does not exist" in err


def test_simulate_day_reports_the_day_and_each_half_hour(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "simulate-day", "--calls", "3000", "--seed", "3", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["intervals"]) == 48
    assert data["arrivals"] == sum(i["arrivals"] for i in data["intervals"])
    assert data["day_rate_15s"] >= 0.9


def test_simulate_day_rejects_a_bad_surge_time(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "simulate-day", "--surge-at", "10:15")
    assert code != 0 and "half hour" in err


def test_roster_plans_and_publishes_from_csv_history(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from hotline.migrate import upgrade

    db = tmp_path / "hotline.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{db}"))
    history = tmp_path / "history.csv"
    write_history(history, 28)
    code, out, err = run(
        capsys,
        "roster",
        "--history",
        str(history),
        "--start",
        "2025-03-31",
        "--days",
        "3",
        "--voice-seats",
        "6",
        "--blended-seats",
        "2",
        "--publish",
        "wk14",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data["groups"]) == {"voice", "internet"}
    assert all(g["short_slots"] == 0 for g in data["groups"].values())
    assert data["unassigned_shifts"] == 0
    assert data["published"] == data["shifts"] > 0


def test_roster_needs_a_team(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    write_history(history, 14)
    code, _, err = run(capsys, "roster", "--history", str(history))
    assert code != 0 and "--voice-seats" in err


def test_forecast_reads_stored_interactions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import datetime as dt

    from hotline.migrate import upgrade
    from hotline.storage import Interaction, make_engine, make_sessionmaker

    db = tmp_path / "hotline.db"
    url = f"sqlite+aiosqlite:///{db}"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")

    async def seed() -> None:
        await upgrade(url)
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as s, s.begin():
            for d in range(14):
                for i in range(20):  # 20 calls a day at 10:00-11:40 China time (02:00 UTC on)
                    at = dt.datetime(2025, 3, 3, 2, tzinfo=dt.UTC) + dt.timedelta(days=d, minutes=5 * i)
                    s.add(Interaction(contact_id=f"d{d}i{i}", channel="voice", arrived_at=at, data={}))
        await engine.dispose()

    asyncio.run(seed())
    code, out, err = run(capsys, "forecast", "--from-db", "--start", "2025-03-17", "--days", "1", "--json")
    assert code == 0, err
    day = json.loads(out)["channels"]["voice"]["2025-03-17"]
    assert sum(day) == pytest.approx(20, rel=0.1)
    assert sum(day[20:24]) == pytest.approx(sum(day), rel=0.01)  # all of it between 10:00 and 12:00
