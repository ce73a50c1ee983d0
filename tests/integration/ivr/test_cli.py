"""The ``hotline ivr`` commands, run through the real CLI entry point."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hotline.cli import main

from .flows_text import GOOD

CITY = Path(__file__).resolve().parents[3] / "ivr" / "flows" / "city.toml"


def test_check_accepts_the_city_flow_with_its_queues(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "check", str(CITY), "--queues", "general,business,dialect"]) == 0
    assert "ok, flow 'city' with 25 nodes" in capsys.readouterr().out


def test_check_refuses_a_bad_file_with_file_line_reason_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        GOOD.replace('prompt = "menu_main"', 'prompt = "menu_mian"').replace('queue = "business"', 'queue = "biz"')
    )
    assert main(["ivr", "check", str(bad), "--queues", "general,business"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:12: node menu: missing prompt 'menu_mian'" in err
    assert f"{bad}:22: node q_business: unknown queue 'biz' (known: business, general)" in err
    assert "hotline: error: " in err and "Traceback" not in err


def test_check_of_a_missing_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "check", str(tmp_path / "nope.toml")]) == 1
    assert "nope.toml:1: cannot read flow file" in capsys.readouterr().err


def test_draw_writes_an_svg_with_chinese_labels_and_a_cjk_font(tmp_path: Path) -> None:
    out = tmp_path / "city.svg"
    assert main(["ivr", "draw", str(CITY), "--out", str(out)]) == 0
    root = ET.fromstring(out.read_text(encoding="utf-8"))
    assert "Noto Sans CJK SC" in root.get("font-family", "") and "sans-serif" in root.get("font-family", "")
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"主菜单", "涉企专席", "方言专席", "转110", "按4"} <= texts
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) >= 30  # one per edge, plus the arrow


def test_draw_refuses_an_output_that_is_not_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "draw", str(CITY), "--out", str(tmp_path / "x.png")]) == 1
    assert "only .svg is written" in capsys.readouterr().err


def test_prompts_command_generates_into_the_given_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "prompts", "--list"]) == 0
    assert "survey_ask\t请对本次服务进行评价" in capsys.readouterr().out
    assert main(["ivr", "prompts", "--out", str(tmp_path), "--formats", "wav,mp3"]) == 1
    assert "unknown format 'mp3'" in capsys.readouterr().err


def test_say_shows_the_reading_and_its_pieces(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "say", "1234"]) == 0
    assert capsys.readouterr().out.splitlines() == ["一千二百三十四", "num_1 num_1000 num_2 num_100 num_3 num_10 num_4"]
    assert main(["ivr", "say", "110", "--digits"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "幺幺零"
    assert main(["ivr", "say", "12a"]) == 1
    assert "give a number" in capsys.readouterr().err


def test_simulate_walks_the_city_flow_to_the_business_desk(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "simulate", str(CITY), "--at", "2026-11-26T10:00", "--keys", "2"]) == 0
    out = capsys.readouterr().out
    assert "main_menu[2] → q_business" in out and "outcome: queue:business" in out
    assert main(["ivr", "simulate", str(CITY), "--at", "2026-10-01T10:00", "--keys", "1"]) == 0
    assert "working_day(no) → after_hours[1] → voicemail" in capsys.readouterr().out
    assert main(["ivr", "simulate", str(CITY), "--at", "yesterday"]) == 1
    assert "use ISO time" in capsys.readouterr().err
