import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.messages import PromptRef, Say
from ivr.core.speech import (
    cardinal,
    clock,
    count,
    digit_string,
    duration,
    expected_wait,
    pieces_for,
    position,
    position_text,
    prompt_files,
    tts_text,
    wait_text,
)

NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNIT = {"十": 10, "百": 100, "千": 1000}
BIG = {"万": 10**4, "亿": 10**8}


def parse_chinese(text: str) -> int:
    """An independent reader of Chinese numerals, to check cardinal() round-trips."""
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in NUM:
            digit = NUM[ch]
        elif ch in UNIT:
            section += (digit or 1) * UNIT[ch]
            digit = 0
        elif ch in BIG:
            section += digit
            if ch == "亿":
                total = (total + section) * BIG[ch]
            else:
                total += section * BIG[ch]
            section, digit = 0, 0
    return total + section + digit


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (101, "一百零一"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (1234, "一千二百三十四"),
        (10000, "一万"),
        (10010, "一万零一十"),
        (100010, "十万零一十"),
        (1010000, "一百零一万"),
        (120000000, "一亿二千万"),
        (100000001, "一亿零一"),
        (-3, "负三"),
    ],
)
def test_cardinal_reads_numbers_the_chinese_way(n: int, text: str) -> None:
    assert cardinal(n) == text


@given(st.integers(min_value=0, max_value=10**12))
@settings(max_examples=300)
def test_cardinal_round_trips_and_every_character_has_a_prompt_piece(n: int) -> None:
    text = cardinal(n)
    assert parse_chinese(text) == n
    assert len(pieces_for(text)) == len(text)


def test_counts_use_liang_before_measure_words() -> None:
    assert count(2) == "两"
    assert count(2000) == "两千"
    assert count(22) == "二十二"
    assert count(12) == "十二"


def test_work_order_numbers_are_read_digit_by_digit_with_yao_as_a_setting() -> None:
    assert digit_string("2025110") == "二零二五幺幺零"
    assert digit_string("2025110", yao=False) == "二零二五一一零"
    with pytest.raises(ValueError, match="not a digit string"):
        digit_string("12a")


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (dt.time(8, 30), "八点三十分"),
        (dt.time(8, 0), "八点整"),
        (dt.time(8, 5), "八点零五分"),
        (dt.time(2, 15), "两点十五分"),
        (dt.time(17, 30), "十七点三十分"),
        (dt.time(0, 0), "零点整"),
    ],
)
def test_clock_times_are_spoken_in_chinese(t: dt.time, text: str) -> None:
    assert clock(t) == text


def test_durations_are_spoken_in_hours_minutes_and_seconds() -> None:
    assert duration(0) == "零秒"
    assert duration(125) == "两分钟五秒"
    assert duration(3600) == "一小时"
    assert duration(3900) == "一小时五分钟"


def test_position_and_wait_announcements_have_text_and_pieces() -> None:
    assert position_text(3) == "您前面还有3位"
    assert position(3) == (PromptRef("position_before"), Say("三"), PromptRef("position_after"))
    assert position(0) == (PromptRef("position_next"),)
    assert wait_text(100) == "预计等待约2分钟"
    assert expected_wait(100) == (PromptRef("wait_before"), Say("两分钟"))
    assert expected_wait(30) == (PromptRef("wait_under_minute"),)
    assert expected_wait(3700) == (PromptRef("wait_before"), Say("一小时两分钟"))


def test_pieces_map_to_prompt_files_and_to_tts_text() -> None:
    pieces = position(12)
    assert prompt_files(pieces) == ["position_before", "num_10", "num_2", "position_after"]
    catalog = {"position_before": "您前面还有", "position_after": "位"}
    assert tts_text(pieces, catalog) == "您前面还有十二位"
    assert pieces_for("八点三十分") == ["num_8", "word_dian", "num_3", "num_10", "word_fen"]
    with pytest.raises(ValueError, match="no prompt piece for '位'"):
        pieces_for("三位")
