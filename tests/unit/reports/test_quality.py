"""The data quality checks (数据质检) on hand-made orders: each kind found, and its look-alikes not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reports.core.quality import (
    DUPLICATE,
    MISMATCH,
    MISSING,
    REPLY,
    REQUIRED,
    REQUIRES_NOTHING,
    QOrder,
    bigrams,
    check,
    jaccard,
    summary,
)
from reports.quality import load_rules
from workorders.core.model import State

RULES = load_rules()
T0 = dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC)
GOOD_REPLY = {
    "handling": "经现场核查，系主管道爆管导致小区停水，维修队已连夜抢修。",
    "resolution": "已解决，管道已于次日6时修复并恢复供水。",
    "contact": "3月11日经办人王某致电群众告知处理结果，群众表示满意。",
}


def order(i: int, hours: float = 0, **kw: Any) -> QOrder:
    base: dict[str, Any] = {
        "state": "handling",
        "title": "小区停水",
        "content": "如城街道某小区从昨晚开始停水，自来水一直没有来",
        "category": "城乡建设/供水",
        "address": "如皋市如城街道福寿路1号",
        "phone": "13800000001",
        "lead_unit": "water",
        "dispatched": True,
    }
    return QOrder(id=i, created_at=T0 + dt.timedelta(hours=hours), **(base | kw))


def kinds(orders: list[QOrder], checked: list[int] | None = None) -> list[tuple[int, str]]:
    return [(f.order_id, f.kind) for f in check(orders, RULES, checked)]


# -- missing fields ------------------------------------------------------------------------------
def test_a_dispatched_order_without_a_unit_or_an_address_is_flagged() -> None:
    (f,) = check([order(1, state="dispatched", lead_unit=None, address="")], RULES)
    assert f.kind == MISSING and f.evidence["fields"] == ["address", "lead_unit"]
    assert "主办单位" in f.reason and "地址" in f.reason


def test_a_closed_dispatched_order_without_a_reply_is_flagged_but_an_answered_one_is_not() -> None:
    assert kinds([order(1, state="closed", reply=None)]) == [(1, MISSING)]
    assert kinds([order(2, state="closed", reply=GOOD_REPLY)]) == []
    answered = order(3, state="answered", dispatched=False, lead_unit=None, address="")  # 即时办结: no unit, no reply
    assert kinds([answered]) == []


def test_every_state_of_the_lifecycle_is_either_checked_or_named_as_requiring_nothing() -> None:
    assert {s.value for s in State} == set(REQUIRED) | REQUIRES_NOTHING
    assert not set(REQUIRED) & REQUIRES_NOTHING


def test_a_consultation_needs_no_address_and_an_order_in_intake_needs_nothing() -> None:
    assert kinds([order(1, state="dispatched", address="", order_type="consult")]) == []
    assert kinds([order(2, state="intake", title="", category="", address="", lead_unit=None)]) == []
    assert kinds([order(3, state="pending_dispatch", category="")]) == [(3, MISSING)]


# -- category against the text -------------------------------------------------------------------
def test_a_category_contradicted_by_the_text_is_flagged_with_the_words() -> None:
    o = order(1, category="教育", title="小区停水", content="自来水停水两天，水压也不够")
    (f,) = check([o], RULES)
    assert f.kind == MISMATCH
    assert f.evidence["suggested"] in ("城乡建设/供水", "城建/供水")
    assert {"停水", "自来水", "水压"} <= set(f.evidence["words"])


def test_a_category_is_not_flagged_when_its_own_words_appear_or_others_barely_do() -> None:
    both = order(1, category="教育", title="学校停水", content="学校停水，自来水没了")  # 学校 is 教育's
    one_word = order(2, category="教育", title="停水", content="反映情况")  # one word of another: not dominant
    unlisted = order(3, category="民政/低保", title="停水", content="自来水停水")  # no keywords to judge by
    sub = order(4, category="城乡建设", title="停水", content="自来水停水")  # a path above 城乡建设/供水
    assert kinds([both, one_word, unlisted, sub]) == []


# -- duplicates ----------------------------------------------------------------------------------
def test_the_same_demand_from_the_same_number_two_days_later_is_a_duplicate_of_the_first() -> None:
    first = order(1)
    again = order(2, hours=48, content="如城街道某小区从昨晚开始停水，自来水一直没有来，请尽快处理")
    (f,) = check([first, again], RULES)
    assert (f.order_id, f.kind) == (2, DUPLICATE)
    assert f.evidence["other_id"] == 1 and f.evidence["similarity"] >= RULES.duplicate_similarity
    assert f.evidence["same"] == "phone"


def test_the_same_address_from_another_number_is_a_duplicate_too() -> None:
    first = order(1, phone="13800000001")
    again = order(2, hours=3, phone="13900000002", address="如皋市 如城街道 福寿路1号")
    assert kinds([first, again]) == [(2, DUPLICATE)]


def test_a_merged_duplicate_is_not_flagged() -> None:
    first = order(1)
    into_first = order(2, hours=1, merged_into=1)
    merged_state = order(3, hours=2, state="merged", merged_into=1)
    assert kinds([first, into_first, merged_state]) == []


def test_not_duplicates_other_category_other_text_too_late_or_another_caller_elsewhere() -> None:
    first = order(1)
    other_category = order(2, hours=1, category="城建/物业", title="电梯坏了", content="小区电梯坏了")
    other_text = order(3, hours=2, title="水表不准", content="水表走得太快，费用异常，要求检测")
    too_late = order(4, hours=24 * 8)
    elsewhere = order(5, hours=3, phone="13900000009", address="如皋市白蒲镇")
    assert kinds([first, other_category, other_text, too_late, elsewhere]) == []


def test_an_address_naming_only_a_town_does_not_make_two_callers_one_place() -> None:
    first = order(1, phone="13800000001", address="如皋市如城街道")
    again = order(2, hours=3, phone="13900000002", address="如皋市如城街道")
    assert kinds([first, again]) == []


def test_a_week_of_a_busy_city_is_checked_in_well_under_a_few_seconds() -> None:
    import time

    orders = [
        order(
            i, hours=i / 40, phone=f"138{i % 900:08d}", address=f"如皋市如城街道福寿路{i % 300}号", content=f"第{i}件"
        )
        for i in range(6000)
    ]
    t = time.perf_counter()
    check(orders, RULES, checked=range(5000, 6000))
    assert time.perf_counter() - t < 5.0


def test_only_checked_orders_are_flagged_the_earlier_days_are_compared_with() -> None:
    first, again = order(1), order(2, hours=30)
    assert kinds([first, again], checked=[1]) == []
    assert kinds([first, again], checked=[2]) == [(2, DUPLICATE)]


def test_bigram_jaccard() -> None:
    assert bigrams("停水了！") == frozenset({"停水", "水了"})
    assert jaccard(bigrams("小区停水"), bigrams("小区停水")) == 1.0
    assert jaccard(bigrams("小区停水"), bigrams("")) == 0.0


# -- replies -------------------------------------------------------------------------------------
def test_a_proper_three_element_reply_passes() -> None:
    assert kinds([order(1, state="callback", reply=GOOD_REPLY)]) == []


def test_a_reply_missing_an_element_or_saying_nothing_is_flagged() -> None:
    no_contact = order(1, state="replied", reply={**GOOD_REPLY, "contact": ""})
    (f,) = check([no_contact], RULES)
    assert f.kind == REPLY and f.evidence["missing"] == ["联系情况"] and "缺少联系情况" in f.reason
    vague = order(2, state="replied", reply={"handling": "已收悉。", "resolution": "好的。", "contact": "无。"})
    (g,) = check([vague], RULES)
    assert "解决情况未说明是否解决" in g.reason and "联系情况未说明如何联系群众" in g.reason
    assert "少于 30 字" in g.reason and g.evidence["length"] < 30


def test_a_reply_kept_as_one_text_is_read_by_its_headings() -> None:
    text = (
        "办理情况："
        + GOOD_REPLY["handling"]
        + "解决情况："
        + GOOD_REPLY["resolution"]
        + "联系情况："
        + GOOD_REPLY["contact"]
    )
    assert kinds([order(1, state="closed", reply={"text": text})]) == []
    without = "办理情况：" + GOOD_REPLY["handling"] + "解决情况：" + GOOD_REPLY["resolution"]
    (f,) = check([order(2, state="closed", reply={"text": without})], RULES)
    assert f.evidence["missing"] == ["联系情况"]


def test_findings_are_sorted_by_kind_then_order_and_counted() -> None:
    found = check(
        [
            order(3, state="replied", reply={**GOOD_REPLY, "resolution": ""}, phone="", address="如皋市丁堰镇"),
            order(1, state="dispatched", lead_unit=None),
            order(2, category="教育", content="自来水停水，水压不足", phone="", address="如皋市白蒲镇"),
        ],
        RULES,
    )
    assert [(f.order_id, f.kind) for f in found] == [(1, MISSING), (2, MISMATCH), (3, REPLY)]
    assert summary(found) == {MISSING: 1, MISMATCH: 1, DUPLICATE: 0, REPLY: 1}
    assert found[0].as_dict()["evidence"]["fields"] == ["lead_unit"]
