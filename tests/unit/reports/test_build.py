"""Report figures on the hand-made day of ``data.py``; every expected number was counted by hand."""

from __future__ import annotations

import dataclasses

from reports.core import build
from reports.core.build import ReportOptions
from reports.core.figures import ContactOptions, Selection, area_of
from tests.unit.reports.data import AS_OF, END, ORDERS, START, figures
from workorders.core.kpi import KpiOptions


def test_daily_report_counts_the_hand_made_day() -> None:
    r = build.daily(ORDERS, figures(), START, END, AS_OF, ReportOptions())
    o = r["orders"]
    assert o["new"] == 3 and o["new_by_channel"] == {"voice": 2, "webchat": 1}
    assert o["closed"] == 3
    # Falling due on the day: order 1 (replied in time) and order 2 (not replied): 1/2, one overdue.
    assert o["on_time_completion"] == {"numerator": 1, "denominator": 2, "percent": 50.0}
    assert o["overdue"] == 1
    # Reached callbacks of the day's closed orders: 满意, 不满意, 基本满意 → 2/3 with 基本满意 counted.
    assert o["satisfaction"] == {"numerator": 2, "denominator": 3, "percent": 66.67}
    assert o["major"] == 1 and [c["id"] for c in r["major_cases"]] == [2]
    assert r["top_categories"] == [{"name": "城建", "count": 2}, {"name": "交通", "count": 1}]
    assert r["top_areas"] == [{"name": "如城街道", "count": 2}, {"name": "白蒲镇", "count": 1}]
    assert r["top_phrases"][0] == {"name": "停水", "count": 2}
    assert r["by_hour"][9] == r["by_hour"][10] == r["by_hour"][23] == 1 and sum(r["by_hour"]) == 3


def test_daily_contact_figures_follow_the_acd_formulas() -> None:
    c = build.daily(ORDERS, figures(), START, END, AS_OF, ReportOptions())["contacts"]
    # 15 s: answered within 15 s ÷ (voice offered − short abandons) = 7 / (10 − 1).
    assert c["answer_rate_15s"] == {"numerator": 7, "denominator": 9, "percent": 77.78}
    assert c["connection_rate"] == {"numerator": 12, "denominator": 14, "percent": 85.71}
    assert c["internet_response_rate"] == {"numerator": 3, "denominator": 4, "percent": 75.0}
    assert c["abandoned"] == 2 and c["short_abandoned"] == 1
    assert c["blocked"] == 2 and c["closed_hours"] == 3  # apart from abandons
    assert c["by_channel"]["voice"]["offered"] == 10 and c["by_channel"]["webchat"]["answered"] == 4


def test_every_rate_states_its_options() -> None:
    options = ReportOptions(
        kpi=KpiOptions(count_basically_satisfied=False), contacts=ContactOptions(exclude_abandons_shorter_than_s=5)
    )
    r = build.daily(ORDERS, figures(), START, END, AS_OF, options)
    assert r["options"]["satisfaction"] == {"count_basically_satisfied": False}
    assert r["options"]["answer_rate_15s"] == {"threshold_s": 15.0, "exclude_abandons_shorter_than_s": 5}
    assert r["options"]["internet_response_rate"] == {"limit_s": 60.0}
    assert r["orders"]["satisfaction"]["numerator"] == 1  # 基本满意 no longer counts


def test_a_day_without_data_gives_an_empty_report() -> None:
    r = build.daily([], [], START, END, AS_OF, ReportOptions())
    assert r["orders"]["new"] == 0 and r["orders"]["satisfaction"]["percent"] is None
    assert r["contacts"]["answer_rate_15s"] == {"numerator": 0, "denominator": 0, "percent": None}
    assert r["top_categories"] == [] and r["major_cases"] == [] and r["by_hour"] == [0] * 24


def test_monthly_report_ranks_units_by_the_work_order_kpis() -> None:
    month_start = START.replace(day=1)
    month_end = month_start.replace(month=4)
    r = build.monthly(
        ORDERS,
        [],
        {"water": "水务局", "env": "生态环境局", "edu": "教育局"},
        month_start,
        month_end,
        AS_OF,
        ReportOptions(),
    )
    units = {u["unit"]: u for u in r["units"]}
    assert set(units) == {"water", "env", "edu", "housing"}  # housing has orders but is not in the directory
    assert units["housing"]["name"] == "housing" and units["water"]["name"] == "水务局"
    # Falling due in March: env 2/2 on time, housing 1/1, water 1/2 (order 2 is overdue).
    assert units["water"]["on_time_completion"]["percent"] == 50.0
    assert [x["unit"] for x in r["rankings"]["on_time_completion"]] == ["env", "housing", "water"]
    # env: 满意 + 不满意 → 50%; housing: 基本满意 → 100%.
    assert [x["unit"] for x in r["rankings"]["satisfaction"]] == ["housing", "env"]
    assert units["edu"]["orders"] == 0 and units["edu"]["satisfaction"]["denominator"] == 0
    assert units["water"]["hot"]["top_phrases"][0] == {"name": "停水", "count": 2}


def test_topic_report_selects_by_category_prefix_and_area() -> None:
    r = build.topic(ORDERS, Selection(category="城建", area="如城街道"), START, END, AS_OF, ReportOptions())
    assert [c["id"] for c in r["cases"]] == [1, 2]
    assert r["orders"]["new"] == 2 and r["by_day"] == [{"day": "2026-03-10", "count": 2}]
    assert r["by_unit"] == [{"name": "water", "count": 2}]
    empty = build.topic(ORDERS, Selection(category="教育"), START, END, AS_OF, ReportOptions())
    assert empty["cases"] == [] and empty["orders"]["new"] == 0


def test_area_is_the_first_street_or_town_of_the_address() -> None:
    assert area_of("如城街道海阳路1号") == "如城街道"
    assert area_of("江苏省如皋市白蒲镇人民路") == "白蒲镇"
    assert area_of("南通市海安区长江路") == "海安区"
    assert area_of("") == "未注明"


def test_reports_are_the_same_every_time() -> None:
    shuffled = list(reversed(ORDERS))
    a = build.daily(ORDERS, figures(), START, END, AS_OF, ReportOptions())
    b = build.daily(shuffled, list(reversed(figures())), START, END, AS_OF, ReportOptions())
    assert a == b
    assert dataclasses.replace(ORDERS[0], phrases=()).phrases == ()
