"""The pure parts of the knowledge suggestions: pacing per conversation and answers as plain text."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from agent_console.core.suggest import Pacer, plain, query_text


def test_the_first_message_is_searched_at_once_and_those_within_the_interval_once_when_it_ends() -> None:
    p = Pacer(2.0)
    assert p.arrive("webchat-1", 10.0) == "now"
    assert p.arrive("webchat-1", 10.5) == "later"
    assert p.due("webchat-1") == 12.0
    assert p.arrive("webchat-1", 11.0) == "merged"  # the waiting search takes the newer text
    assert p.arrive("webchat-2", 11.0) == "now"  # conversations are paced apart
    p.run_waiting("webchat-1", 12.0)
    assert p.arrive("webchat-1", 13.0) == "later"
    p.run_waiting("webchat-1", 14.0)
    assert p.arrive("webchat-1", 16.0) == "now"


@given(st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), max_size=60))
def test_never_two_searches_of_a_conversation_closer_than_the_interval(gaps: list[float]) -> None:
    p, now, runs = Pacer(2.0), 0.0, []
    for gap in gaps:
        now += gap / 100
        if "c" in p.waiting and now >= p.due("c"):
            runs.append(p.due("c"))
            p.run_waiting("c", p.due("c"))
        if p.arrive("c", now) == "now":
            runs.append(now)
    assert all(b - a >= 2.0 - 1e-9 for a, b in itertools.pairwise(runs))


def test_quiet_conversations_are_forgotten() -> None:
    p = Pacer(2.0)
    for i in range(300):
        p.arrive(f"c{i}", 0.0)
    p.arrive("late", 10.0)
    assert len(p.last) == 1


def test_an_answer_becomes_plain_text_one_line_per_paragraph_or_item() -> None:
    html = "<p>持身份证到<b>政务服务中心</b>办理。</p><ul><li>工作日&nbsp;9:00</li><li>电话 12345 &amp; 热线</li></ul>"
    assert plain(html) == "持身份证到政务服务中心办理。\n工作日 9:00\n电话 12345 & 热线"
    assert plain('第一行<br>第二行 <a href="https://x.cn">链接</a>') == "第一行\n第二行 链接"
    assert plain("&lt;script&gt;") == "<script>"  # text that reads as markup stays text for the page
    assert plain("") == ""


def test_a_query_is_folded_and_cut() -> None:
    assert query_text("  路灯\n坏了  ", 200) == "路灯 坏了"
    assert query_text("长" * 300, 200) == "长" * 200
