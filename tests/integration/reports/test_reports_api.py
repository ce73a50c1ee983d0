"""Reports from stored orders and figures through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl

from reports.core.spikes import bucket_of
from tests.integration.reports.conftest import NOW, Api, Clock, add_orders
from tests.unit.reports.data import TZ, row

DAY = "/api/reports/daily/2026-03-10"


async def test_daily_report_from_stored_data_matches_the_hand_counted_figures(api: Api) -> None:
    status, r = await api.call("sup1", "GET", DAY)
    assert status == 200, r
    assert r["orders"]["new"] == 3 and r["orders"]["closed"] == 3 and r["orders"]["overdue"] == 1
    assert r["orders"]["satisfaction"] == {"numerator": 2, "denominator": 3, "percent": 66.67}
    assert r["contacts"]["answer_rate_15s"] == {"numerator": 7, "denominator": 9, "percent": 77.78}
    assert r["contacts"]["internet_response_rate"]["percent"] == 75.0
    assert r["top_areas"][0] == {"name": "如城街道", "count": 2}
    assert [c["id"] for c in r["major_cases"]] == [2]
    assert "停水" in [p["name"] for p in r["top_phrases"]]


async def test_a_stored_daily_report_stays_the_same_until_made_again(api: Api) -> None:
    _, first = await api.call("sup1", "GET", DAY)
    await add_orders(api.sessions, [row(8, "2026-03-10 12:00", "voice", "城建/供水", "如城街道", title="又停水了")])
    _, again = await api.call("sup1", "GET", DAY)
    assert again == first
    status, remade = await api.call("admin1", "POST", "/api/reports/daily", json={"date": "2026-03-10"})
    assert status == 201 and remade["orders"]["new"] == 4
    _, listed = await api.call("sup1", "GET", "/api/reports?kind=daily")
    assert [x["key"] for x in listed["reports"]] == ["2026-03-10"]


async def test_the_daily_report_as_page_pdf_and_workbook(api: Api) -> None:
    status, page = await api.call("sup1", "GET", DAY + "?format=html")
    assert status == 200 and "运行日报" in page and page.count("<svg") >= 4 and "<script" not in page
    assert "exclude_abandons_shorter_than_s=0.0" in page  # the options of the 15-s rate are stated
    status, pdf = await api.call("sup1", "GET", DAY + "?format=pdf")
    assert status == 200 and pdf[:5] == b"%PDF-"
    status, xlsx = await api.call("sup1", "GET", DAY + "?format=xlsx")
    assert status == 200
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    cells = [c.value for r in wb["概况"].iter_rows() for c in r]
    assert "人工座席15秒接通率" in cells and "77.78%" in cells
    assert {"分类", "区域", "热词", "受理要情"} <= set(wb.sheetnames)
    status, _ = await api.call("sup1", "GET", DAY + "?format=doc")
    assert status == 400


async def test_only_supervisors_managers_and_admins_see_reports(api: Api) -> None:
    assert (await api.call(None, "GET", DAY))[0] == 401
    assert (await api.call("seat1", "GET", DAY))[0] == 403
    assert (await api.call("seat1", "GET", "/api/reports/alerts"))[0] == 403
    assert (await api.call("sup1", "GET", "/reports"))[0] == 200


async def test_a_day_without_data_is_an_empty_report_and_a_day_not_over_has_none_yet(api: Api) -> None:
    status, r = await api.call("sup1", "GET", "/api/reports/daily/2025-01-01")
    assert status == 200 and r["orders"]["new"] == 0 and r["contacts"]["answer_rate_15s"]["percent"] is None
    status, pdf = await api.call("sup1", "GET", "/api/reports/daily/2025-01-01?format=pdf")
    assert status == 200 and pdf[:5] == b"%PDF-"
    assert (await api.call("sup1", "GET", "/api/reports/daily/2026-03-11"))[0] == 404  # today
    assert (await api.call("sup1", "GET", "/api/reports/daily/2026-13-01"))[0] == 400


async def test_monthly_unit_report_and_topic_report(api: Api) -> None:
    api.service.clock = Clock(dt.datetime(2026, 4, 2, 2, 0, tzinfo=dt.UTC))
    status, m = await api.call("sup1", "GET", "/api/reports/monthly/2026-03")
    assert status == 200, m
    units = {u["unit"]: u for u in m["units"]}
    assert units["water"]["name"] == "水务局" and units["water"]["on_time_completion"]["percent"] == 50.0
    assert [x["unit"] for x in m["rankings"]["on_time_completion"]] == ["env", "housing", "water"]
    status, xlsx = await api.call("sup1", "GET", "/api/reports/monthly/2026-03?format=xlsx")
    assert status == 200 and "排名" in openpyxl.load_workbook(io.BytesIO(xlsx)).sheetnames
    status, t = await api.call(
        "sup1",
        "GET",
        "/api/reports/topic",
        params={"from": "2026-03-01", "to": "2026-03-31", "category": "城建", "area": "如城街道"},
    )
    assert status == 200 and [c["id"] for c in t["cases"]] == [1, 2, 5, 7]  # 7 is of 03-11
    assert (await api.call("sup1", "GET", "/api/reports/topic", params={"from": "x", "to": "y"}))[0] == 400


async def test_the_schedule_makes_yesterdays_report_and_last_months_on_the_first_working_day(api: Api) -> None:
    svc = api.service
    svc.clock = Clock(dt.datetime(2026, 4, 1, 0, 30, tzinfo=TZ).astimezone(dt.UTC))
    assert await svc.scheduled() == []  # before the daily time (01:00)
    svc.clock = Clock(dt.datetime(2026, 4, 1, 1, 30, tzinfo=TZ).astimezone(dt.UTC))  # a Wednesday
    assert await svc.scheduled() == ["daily 2026-03-31", "monthly 2026-03"]
    assert await svc.scheduled() == []  # kept: a second round (or a restart) makes nothing again


async def test_a_burst_of_water_cuts_in_one_street_raises_one_alert_with_its_orders(api: Api) -> None:
    now = NOW.astimezone(TZ)
    bucket = bucket_of(now)
    burst = [
        row(
            100 + i,
            (bucket + dt.timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M"),
            "voice",
            "城建/供水",
            "如城街道海阳路",
            title="停水",
        )
        for i in range(6)
    ]
    await add_orders(api.sessions, burst)
    [alert] = await api.service.spike_round(now + dt.timedelta(minutes=7))
    assert (alert["category"], alert["area"], alert["count"]) == ("城建/供水", "如城街道", 6)
    assert alert["orders"] == [100, 101, 102, 103, 104, 105]
    assert api.published[-1][1] == {"event": "reports.spike", "data": alert}
    assert await api.service.spike_round(now + dt.timedelta(minutes=8)) == []  # announced once
    status, body = await api.call("sup1", "GET", "/api/reports/alerts")
    assert status == 200 and [a["id"] for a in body["alerts"]] == [alert["id"]]
    status, acked = await api.call("sup1", "POST", f"/api/reports/alerts/{alert['id']}/ack")
    assert status == 200 and acked["acknowledged_by"] == "sup1"
    for beyond in ("-347758482040562565251072", "2147483648", "0"):  # no such alert, never a 500
        status, _ = await api.call("sup1", "POST", f"/api/reports/alerts/{beyond}/ack")
        assert status == 404, beyond
