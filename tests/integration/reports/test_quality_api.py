"""Data quality runs from stored orders through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reports.core.quality import DUPLICATE, MISMATCH, MISSING, REPLY
from tests.integration.reports.conftest import NOW, Api, Clock
from workorders.core.deadlines import OrderType
from workorders.core.model import Assignment, Order, State, order_to_dict
from workorders.models import WoOrder

DAY = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)  # 10:00 in China on the checked day
GOOD = {
    "handling": "经现场核查，系主管道爆管导致小区停水，维修队已连夜抢修。",
    "resolution": "已解决，管道已于次日6时修复并恢复供水。",
    "contact": "3月11日经办人王某致电群众告知处理结果，群众表示满意。",
}


def stored(
    i: int,
    at: dt.datetime,
    state: State,
    *,
    title: str = "小区停水",
    content: str = "如城街道某小区从昨晚开始停水，自来水一直没有来",
    category: str = "城建/供水",
    address: str = "如皋市如城街道福寿路1号",
    phone: str = "13800000001",
    unit: str | None = "water",
    reply: dict[str, Any] | None = None,
    merged_into: int | None = None,
    updated: dt.datetime | None = None,
) -> WoOrder:
    assignments = ()
    if unit or state in (State.DISPATCHED, State.HANDLING, State.REPLIED, State.CLOSED):
        a = Assignment(
            unit or "x", at, at + dt.timedelta(hours=2), at + dt.timedelta(days=1), at + dt.timedelta(days=5)
        )
        assignments = (a,)
    core = Order(
        id=i,
        created_at=at,
        state=state,
        order_type=OrderType.HELP,
        category=category,
        lead_unit=unit,
        assignments=assignments,
        reply=reply,
        merged_into=merged_into,
    )
    return WoOrder(
        id=i,
        state=state.value,
        category=category,
        lead_unit=unit,
        title=title,
        content=content,
        citizen_phone=phone,
        address=address,
        channel="voice",
        created_at=at,
        updated_at=updated or at,
        core=order_to_dict(core),
    )


async def seed(api: Api) -> None:
    async with api.sessions() as s, s.begin():
        for w in [
            stored(101, DAY - dt.timedelta(days=2), State.HANDLING),  # the first report of the outage
            stored(102, DAY, State.HANDLING, content="如城街道某小区从昨晚开始停水，自来水一直没有来，请尽快处理"),
            stored(103, DAY + dt.timedelta(hours=1), State.MERGED, merged_into=101),  # merged: not flagged
            stored(
                104, DAY, State.DISPATCHED, unit=None, phone="", address="", title="水管漏水", content="路边水管漏水"
            ),
            stored(
                105, DAY, State.HANDLING, category="教育", phone="139", address="白蒲镇", content="自来水停水水压低"
            ),
            # replied on the day, created long before: checked for its reply
            stored(
                106,
                DAY - dt.timedelta(days=20),
                State.REPLIED,
                phone="137",
                address="丁堰镇",
                reply={"handling": "已收悉。", "resolution": "好。", "contact": ""},
                updated=DAY,
            ),
            stored(107, DAY, State.CLOSED, phone="136", address="石庄镇", reply=GOOD),  # a proper reply passes
            stored(108, DAY - dt.timedelta(days=30), State.CLOSED, phone="135", address="搬经镇"),  # not of the day
        ]:
            s.add(w)


async def test_a_days_findings_by_kind_from_stored_orders(api: Api) -> None:
    await seed(api)
    status, r = await api.call("sup1", "GET", "/api/reports/quality?date=2026-03-10")
    assert status == 200, r
    got = {k: [f["order_id"] for f in v] for k, v in r["findings"].items()}
    assert got == {MISSING: [104], MISMATCH: [105], DUPLICATE: [102], REPLY: [106]}
    assert r["counts"] == {MISSING: 1, MISMATCH: 1, DUPLICATE: 1, REPLY: 1}
    dup = r["findings"][DUPLICATE][0]
    assert dup["evidence"]["other_id"] == 101 and dup["evidence"]["similarity"] >= 0.5 and "101" in dup["reason"]
    assert r["findings"][MISSING][0]["evidence"]["fields"] == ["address", "lead_unit"]
    assert r["checked"] == 9 and r["generated_by"] == "sup1"  # 6 above and the fixture's hand-made day's 3


async def test_a_run_is_kept_until_made_again_and_shows_on_the_page(api: Api) -> None:
    _, empty = await api.call("sup1", "GET", "/api/reports/quality?date=2026-03-10")
    assert empty["counts"] == {MISSING: 0, MISMATCH: 0, DUPLICATE: 0, REPLY: 0}
    await seed(api)
    _, again = await api.call("sup1", "GET", "/api/reports/quality?date=2026-03-10")
    assert again == empty  # stored: the same run until asked again
    status, remade = await api.call("admin1", "POST", "/api/reports/quality", json={"date": "2026-03-10"})
    assert status == 201 and sum(remade["counts"].values()) == 4
    status, page = await api.call("sup1", "GET", "/reports")
    assert status == 200 and "数据质检" in page and "重复诉求未并单（1）" in page and "2026-03-10" in page


async def test_the_page_escapes_what_citizens_wrote(api: Api) -> None:
    async with api.sessions() as s, s.begin():
        s.add(stored(201, DAY, State.HANDLING, category="<b>教育</b>", content="自来水停水水压低"))
    await api.call("sup1", "POST", "/api/reports/quality", json={"date": "2026-03-10"})
    _, page = await api.call("sup1", "GET", "/reports")
    assert "<b>教育</b>" not in page


async def test_the_schedule_checks_yesterday_once_and_a_day_not_over_has_no_run(api: Api) -> None:
    svc = api.service
    assert (await api.call("sup1", "GET", "/api/reports/quality?date=2026-03-11"))[0] == 404  # today
    assert (await api.call("sup1", "GET", "/api/reports/quality?date=2026-3-1"))[0] == 400
    assert (await api.call("seat1", "GET", "/api/reports/quality"))[0] == 403
    svc.clock = Clock(dt.datetime(2026, 3, 11, 16, 30, tzinfo=dt.UTC))  # 00:30 local on the 12th: too early
    assert await svc.quality_round() == []
    svc.clock = Clock(dt.datetime(2026, 3, 11, 17, 5, tzinfo=dt.UTC))
    assert await svc.quality_round() == ["quality 2026-03-11"]
    assert await svc.quality_round() == []
    status, r = await api.call("sup1", "GET", "/api/reports/quality")  # yesterday by default
    assert status == 200 and r["date"] == "2026-03-11" and r["generated_by"] == "schedule"
    svc.clock = Clock(NOW)


async def test_dates_outside_the_years_a_look_back_can_reach_are_refused_not_a_500(api: Api) -> None:
    for date in ("0001-01-01", "9999-12-31"):
        assert (await api.call("sup1", "GET", f"/api/reports/quality?date={date}"))[0] == 400
        assert (await api.call("sup1", "POST", "/api/reports/quality", json={"date": date}))[0] == 400
        assert (await api.call("sup1", "POST", "/api/reports/daily", json={"date": date}))[0] == 400
        assert (await api.call("sup1", "GET", f"/api/reports/daily/{date}"))[0] == 400
    for month in ("0000-08", "9999-12"):  # the OpenAPI fuzzer's 500
        assert (await api.call("sup1", "POST", "/api/reports/monthly", json={"month": month}))[0] == 400
        assert (await api.call("sup1", "GET", f"/api/reports/monthly/{month}"))[0] == 400
