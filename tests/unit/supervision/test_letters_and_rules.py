"""Letter numbers and pages, the rules that draft letters, and the closure measure by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hotline.settings import SettingsError, load_settings
from supervision.core.letter import LetterPage, letter_html, letter_number, parse_number
from supervision.core.measure import ClosureOptions, closure
from supervision.core.model import Level, OrderFacts, Result, State, Supervision
from supervision.core.rules import LowSatisfaction, Overdue, Returned
from supervision.settings import load_supervision_settings

NOW = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)


def test_the_number_follows_the_official_format_and_reads_back() -> None:
    assert letter_number("如皋12345提", 2026, 7) == "如皋12345提〔2026〕第7号"
    assert parse_number("如皋12345提〔2026〕第12号") == ("如皋12345提", 2026, 12)


@pytest.mark.parametrize(
    "parts", [("", 2026, 1), ("如皋12345提", 2026, 0), ("如皋12345提", 26, 1), ("如皋 提", 2026, 1), ("提〔", 2026, 1)]
)
def test_a_number_from_bad_parts_is_refused(parts: tuple[str, int, int]) -> None:
    with pytest.raises(ValueError):
        letter_number(*parts)


@pytest.mark.parametrize("text", ["如皋12345提〔2026〕第0号", "如皋12345提[2026]第1号", "第1号"])
def test_text_that_is_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


def test_the_page_holds_every_part_of_the_letter_and_escapes_user_text() -> None:
    page = LetterPage(
        number="如皋12345提〔2026〕第3号",
        unit_name="市水务局",
        facts="第7号工单<script>alert(1)</script>已超期。",
        request="请立即办理。",
        deadline=dt.date(2026, 3, 13),
        issued_on=dt.date(2026, 3, 10),
        hotline_name="如皋市12345政务服务便民热线",
    )
    text = letter_html(page)
    for part in (
        "提醒函",
        "如皋12345提〔2026〕第3号",
        "市水务局：",
        "请于2026年3月13日前",
        "2026年3月10日",
        "便民热线",
    ):
        assert part in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "WenQuanYi Micro Hei" in text


def order(i: int, **kw: object) -> OrderFacts:
    base: dict[str, object] = {"id": i, "title": f"工单{i}", "unit": "water", "state": "handling"}
    base.update(kw)
    return OrderFacts(**base)  # type: ignore[arg-type]


def test_overdue_drafts_only_orders_past_their_reply_time_still_owed_by_the_unit() -> None:
    past, future = NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=1)
    orders = [
        order(1, reply_by=past),
        order(2, reply_by=future),
        order(3, reply_by=past, replied=True),
        order(4, reply_by=past, state="closed"),
        order(5, reply_by=past, unit=None),
        order(6, reply_by=past, state="leader_review"),  # waiting for the unit's leader: still owed
    ]
    drafts = Overdue().drafts(orders, NOW)
    assert [(d.key, d.unit, d.order_ids) for d in drafts] == [
        ("overdue:1", "water", (1,)),
        ("overdue:6", "water", (6,)),
    ]
    assert "第1号工单" in drafts[0].facts


def test_returned_counts_returns_and_a_further_return_is_a_new_matter() -> None:
    rule = Returned(times=2)
    assert [d.key for d in rule.drafts([order(1, returns=1), order(2, returns=2)], NOW)] == ["returned:2:2"]
    assert [d.key for d in rule.drafts([order(2, returns=3)], NOW)] == ["returned:2:3"]


def test_low_satisfaction_groups_by_unit_and_needs_the_threshold() -> None:
    orders = [order(i, satisfaction="unsatisfied") for i in (1, 2, 3)]
    orders += [order(4, satisfaction="unsatisfied", unit="power"), order(5, satisfaction="satisfied")]
    drafts = LowSatisfaction(at_least=3).drafts(orders, NOW)
    assert [(d.unit, d.order_ids) for d in drafts] == [("water", (1, 2, 3))]
    assert drafts[0].key == "low_satisfaction:water:2026-03-10"


def sv(i: int, due_h: int, closed_h: int | None = None, **kw: object) -> Supervision:
    due = NOW + dt.timedelta(hours=due_h)
    closed = None if closed_h is None else NOW + dt.timedelta(hours=closed_h)
    state = kw.pop("state", State.CLOSED if closed else State.OPEN)
    return Supervision(
        i,
        str(kw.pop("unit", "water")),
        Level.GENERAL,
        (i,),
        "",
        "x",
        "sup1",
        NOW,
        due,
        state=state,
        closed_at=closed,
        result=kw.pop("result", Result.RESOLVED if closed else None),  # type: ignore[arg-type]
    )


def test_closure_counts_those_due_in_the_period_and_closed_by_their_deadline() -> None:
    start, end, as_of = NOW, NOW + dt.timedelta(days=10), NOW + dt.timedelta(days=20)
    sups = [
        sv(1, 24, 20),  # on time
        sv(2, 24, 30),  # closed late
        sv(3, 48),  # still open, past due
        sv(4, 48, 10, result=Result.UNRESOLVED),  # closed on time, 未办结
        sv(5, 48, state=State.CANCELLED),  # cancelled: not counted
        sv(6, 24 * 11, 1),  # due after the period
        sv(7, -1, -2),  # due before the period
    ]
    rate = closure(sups, start, end, as_of, ClosureOptions())
    assert (rate.numerator, rate.denominator, rate.percent, rate.late_ids) == (2, 4, 50.0, (2, 3))
    strict = closure(sups, start, end, as_of, ClosureOptions(resolved_only=True))
    assert (strict.numerator, strict.denominator, strict.late_ids) == (1, 4, (2, 3, 4))
    water_only = closure([*sups, sv(8, 24, 1, unit="power")], start, end, as_of, ClosureOptions(unit="power"))
    assert (water_only.numerator, water_only.denominator) == (1, 1)


def test_a_deadline_still_ahead_has_not_fallen_due_and_no_data_is_no_rate() -> None:
    rate = closure([sv(1, 48)], NOW, NOW + dt.timedelta(days=10), NOW + dt.timedelta(hours=1), ClosureOptions())
    assert (rate.denominator, rate.percent) == (0, None)
    assert rate.as_dict()["options"] == {"resolved_only": False, "unit": None}


@pytest.mark.parametrize("prefix", ["如皋 提", "提\n", "提〔"])
def test_a_prefix_whose_numbers_would_not_read_back_is_refused_at_start(prefix: str) -> None:
    with pytest.raises(SettingsError, match="letter_prefix"):
        load_supervision_settings(letter_prefix=prefix)


def test_the_supervision_section_of_the_settings_is_read(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, supervision={"letters_cap": 10, "hotline_name": "海安市12345热线"})
    loaded = load_supervision_settings(settings)
    assert (loaded.letters_cap, loaded.hotline_name) == (10, "海安市12345热线")
