"""Questions to units, corrections, emergency lists, use of entries and units' KPIs through
/api/kb, on SQLite and PostgreSQL."""

import datetime as dt

import pytest

from knowledge.core.model import Actor
from knowledge.requests import REQUESTS
from knowledge.requests_store import EMERGENCY_TOPIC, KbUsage
from workorders.core.calendar import WorkCalendar

from .conftest import BASE, NOW, Clock, line

TZ = dt.timezone(dt.timedelta(hours=8))
CAL = WorkCalendar.build(holidays=[], workdays=[], years=[2026])  # NOW: Tuesday 2026-03-10 10:00


@pytest.fixture
async def kb(api):
    api.service.calendar = lambda: CAL
    await api.service.import_lines(BASE, Actor("admin1", "admin"))
    return api


def later(kb, **delta) -> None:
    kb.service.clock = Clock(NOW + dt.timedelta(**delta))


async def test_a_seat_asks_a_unit_which_answers_within_one_working_day(kb):
    status, q = await kb.call(
        "seat1", "POST", "/api/kb/queries", json={"question": "灵活就业社保怎么交", "unit": "hrss"}
    )
    assert status == 201 and q["state"] == "open"
    assert q["due_at"] == dt.datetime(2026, 3, 11, 10, 0, tzinfo=TZ).isoformat()
    # The unit sees it; another unit neither sees it nor may answer it.
    assert [i["id"] for i in (await kb.call("hr1", "GET", "/api/kb/queries?state=open"))[1]["items"]] == [q["id"]]
    assert (await kb.call("water1", "GET", "/api/kb/queries"))[1]["items"] == []
    assert (await kb.call("water1", "GET", "/api/kb/queries?unit=hrss"))[0] == 403
    status, body = await kb.call("water1", "POST", f"/api/kb/queries/{q['id']}/answer", json={"answer": "x"})
    assert status == 403 and "hrss" in body["detail"]
    later(kb, hours=2)
    status, done = await kb.call("hr1", "POST", f"/api/kb/queries/{q['id']}/answer", json={"answer": "<b>窗口</b>"})
    assert status == 200 and done["state"] == "answered" and done["late"] is False and done["entry"] is None
    assert (await kb.call("hr1", "POST", f"/api/kb/queries/{q['id']}/answer", json={"answer": "x"}))[0] == 409
    assert [i["id"] for i in (await kb.call("sup1", "GET", "/api/kb/queries?state=answered"))[1]["items"]] == [q["id"]]


async def test_a_late_answer_is_flagged_and_overdue_questions_are_listed(kb):
    _, q = await kb.call("sup1", "POST", "/api/kb/queries", json={"question": "问题", "unit": "water"})
    later(kb, days=1, minutes=1)
    overdue = (await kb.call("water1", "GET", "/api/kb/queries?state=overdue"))[1]["items"]
    assert [i["id"] for i in overdue] == [q["id"]] and overdue[0]["overdue"] is True
    assert (await kb.call("water1", "GET", "/api/kb/queries?state=open"))[1]["items"] == []
    _, done = await kb.call("water1", "POST", f"/api/kb/queries/{q['id']}/answer", json={"answer": "答复"})
    assert done["late"] is True


async def test_an_answer_with_make_entry_creates_a_draft_of_the_unit(kb):
    _, q = await kb.call("seat1", "POST", "/api/kb/queries", json={"question": "新生儿医保怎么办", "unit": "hrss"})
    body = {"answer": "出生后三个月内办理", "make_entry": True, "entry": {"category": "社会保障/医疗保险"}}
    status, done = await kb.call("hr1", "POST", f"/api/kb/queries/{q['id']}/answer", json=body)
    assert status == 200 and done["entry"]["state"] == "draft"
    entry = await kb.service.get(done["entry"]["id"])
    assert (entry.content.unit, entry.content.question) == ("hrss", "新生儿医保怎么办")
    assert [h["action"] for h in await kb.service.history(entry.id)] == ["create"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"question": "", "unit": "hrss"}, 400),
        ({"question": "x" * 2001, "unit": "hrss"}, 400),
        ({"question": "问题", "unit": 5}, 400),
        ({"question": "问题", "unit": "nosuchunit"}, 400),
        ({"question": "问题", "unit": "hrss", "entry_id": "no-such"}, 404),
        ({"question": "问题", "unit": "hrss", "entry_id": "<bad>"}, 400),
        ([1, 2], 400),
    ],
)
async def test_bad_questions_are_refused_with_a_chinese_message(kb, body, status):
    got, out = await kb.call("seat1", "POST", "/api/kb/queries", json=body)
    assert got == status and out["detail"] and "Traceback" not in str(out)


async def test_units_do_not_ask_and_seats_do_not_answer(kb):
    assert (await kb.call("hr1", "POST", "/api/kb/queries", json={"question": "q", "unit": "hrss"}))[0] == 403
    _, q = await kb.call("seat1", "POST", "/api/kb/queries", json={"question": "q", "unit": "hrss"})
    assert (await kb.call("seat1", "POST", f"/api/kb/queries/{q['id']}/answer", json={"answer": "a"}))[0] == 403
    assert (await kb.call("hr1", "POST", "/api/kb/queries/KQ-none/answer", json={"answer": "a"}))[0] == 404


async def test_a_flag_warns_seats_until_the_unit_corrects_the_entry(kb):
    status, f = await kb.call("seat1", "POST", "/api/kb/entries/ss-1/flags", json={"reason": "转移流程已变"})
    assert status == 201 and f["unit"] == "hrss" and f["state"] == "open"
    assert (await kb.call("sup1", "POST", "/api/kb/entries/ss-1/flags", json={"reason": "again"}))[0] == 409
    svc = kb.client.app[REQUESTS]
    assert await svc.open_flags(["ss-1", "gjj-1"]) == {"ss-1": "转移流程已变"}
    _, res = await kb.call("seat1", "GET", "/api/kb/search?q=社会保险关系转移")
    hits = {h["id"]: h for h in res["results"]}
    assert hits["ss-1"]["flag"]["reason"] == "转移流程已变"
    assert all(h["flag"] is None for k, h in hits.items() if k != "ss-1")
    assert [i["id"] for i in (await kb.call("seat1", "GET", "/api/kb/flags?entry=ss-1&state=open"))[1]["items"]] == [
        f["id"]
    ]
    # Not edited yet: refused; another unit: refused.
    status, body = await kb.call("hr1", "POST", f"/api/kb/flags/{f['id']}/resolve", json={"note": "好了"})
    assert status == 409 and "先修改条目" in body["detail"]
    assert (await kb.call("water1", "POST", f"/api/kb/flags/{f['id']}/resolve", json={}))[0] == 403
    later(kb, hours=1)
    assert (await kb.call("hr1", "PUT", "/api/kb/entries/ss-1", json={"answer": "新流程：线上申请"}))[0] == 200
    later(kb, hours=2)
    status, done = await kb.call("hr1", "POST", f"/api/kb/flags/{f['id']}/resolve", json={"note": "已改"})
    assert status == 200 and done["state"] == "corrected" and done["late"] is False
    assert await svc.open_flags(["ss-1"]) == {}
    _, res = await kb.call("seat1", "GET", "/api/kb/search?q=社会保险关系转移")
    assert all(h["flag"] is None for h in res["results"])


async def test_a_supervisor_dismisses_a_flag_a_unit_may_not(kb):
    _, f = await kb.call("seat1", "POST", "/api/kb/entries/gjj-1/flags", json={"reason": "疑似有误"})
    assert (await kb.call("hr1", "POST", f"/api/kb/flags/{f['id']}/resolve", json={"dismiss": True}))[0] == 403
    assert (await kb.call("sup1", "POST", f"/api/kb/flags/{f['id']}/resolve", json={"dismiss": "yes"}))[0] == 400
    status, done = await kb.call("sup1", "POST", f"/api/kb/flags/{f['id']}/resolve", json={"dismiss": True})
    assert status == 200 and done["state"] == "dismissed"
    assert (await kb.call("seat1", "POST", "/api/kb/entries/nope/flags", json={"reason": "x"}))[0] == 404
    assert (await kb.call("seat1", "POST", "/api/kb/entries/gjj-1/flags", json={"reason": ""}))[0] == 400


async def test_an_emergency_list_is_published_on_the_bus_listed_and_withdrawn(kb):
    got = []
    kb.client.app[REQUESTS].bus.subscribe(EMERGENCY_TOPIC, lambda topic, payload: got.append((topic, payload)))
    items = [{"question": "停水到几点", "answer": "<p>预计18:00恢复</p><script>x()</script>"}]
    status, out = await kb.call("water1", "POST", "/api/kb/emergency", json={"title": "城东停水答疑", "items": items})
    assert status == 201
    want = {
        "id": out["id"],
        "title": "城东停水答疑",
        "items": [{"question": "停水到几点", "answer": "<p>预计18:00恢复</p>"}],
        "unit": "water",
        "published_at": NOW.isoformat(),
    }
    assert out == want
    assert got == [(EMERGENCY_TOPIC, {"action": "published", "list": want})]
    assert (await kb.call("seat1", "GET", "/api/kb/emergency"))[1] == {"lists": [want]}
    assert (await kb.call("hr1", "DELETE", f"/api/kb/emergency/{out['id']}"))[0] == 403
    assert (await kb.call("water1", "DELETE", f"/api/kb/emergency/{out['id']}"))[0] == 200
    assert got[-1] == (EMERGENCY_TOPIC, {"action": "withdrawn", "list": want})
    assert (await kb.call("seat1", "GET", "/api/kb/emergency"))[1] == {"lists": []}
    assert (await kb.call("sup1", "DELETE", f"/api/kb/emergency/{out['id']}"))[0] == 409


@pytest.mark.parametrize(
    "body",
    [
        {"title": "t", "items": []},
        {"title": "t", "items": [{"question": "q", "answer": "a"}] * 201},
        {"title": "", "items": [{"question": "q", "answer": "a"}]},
        {"title": "t", "items": [{"question": "q", "answer": "<script>x</script>"}]},
        {"title": "t", "items": [{"question": "q"}]},
        {"title": "t", "items": "q"},
    ],
)
async def test_bad_emergency_lists_are_refused(kb, body):
    status, out = await kb.call("sup1", "POST", "/api/kb/emergency", json=body)
    assert status == 400 and out["detail"]
    assert (await kb.call("seat1", "POST", "/api/kb/emergency", json={"title": "t", "items": []}))[0] == 403


async def test_use_of_an_entry_is_counted_per_day(kb):
    svc = kb.client.app[REQUESTS]
    for _ in range(3):
        assert (await kb.call("seat1", "POST", "/api/kb/entries/med-1/used"))[0] == 204
    later(kb, days=1)
    assert (await kb.call("seat1", "POST", "/api/kb/entries/med-1/used"))[0] == 204
    assert await svc.usage("med-1") == {"2026-03-10": 3, "2026-03-11": 1}
    assert (await kb.call("seat1", "POST", "/api/kb/entries/nope/used"))[0] == 404
    assert (await kb.call("hr1", "POST", "/api/kb/entries/med-1/used"))[0] == 403
    assert KbUsage.__tablename__ == "kb_usage"


async def test_unit_kpis_follow_the_formulas_with_known_numbers(kb):
    svc = kb.client.app[REQUESTS]
    asked = []
    for i in range(4):
        _, q = await kb.call("seat1", "POST", "/api/kb/queries", json={"question": f"问{i}", "unit": "hrss"})
        asked.append(q["id"])
    later(kb, hours=1)
    for qid in asked[:2]:  # two in time
        await kb.call("hr1", "POST", f"/api/kb/queries/{qid}/answer", json={"answer": "答"})
    later(kb, days=2)
    await kb.call("hr1", "POST", f"/api/kb/queries/{asked[2]}/answer", json={"answer": "迟"})  # late; one never
    _, f = await kb.call("seat1", "POST", "/api/kb/entries/ss-1/flags", json={"reason": "错"})
    later(kb, days=2, hours=1)
    await kb.call("hr1", "PUT", "/api/kb/entries/ss-1", json={"answer": "改"})
    later(kb, days=2, hours=2)
    await kb.call("hr1", "POST", f"/api/kb/flags/{f['id']}/resolve", json={})
    # An entry of hrss with an effective date, submitted late (takes effect tomorrow).
    _, e = await kb.call("hr1", "POST", "/api/kb/entries", json={**_entry(), "effective_date": "2026-03-13"})
    await kb.call("hr1", "POST", f"/api/kb/entries/{e['id']}/actions/submit")
    later(kb, days=30)
    status, rep = await kb.call("sup1", "GET", "/api/kb/kpi?from=2026-03-01&to=2026-03-31&unit=hrss")
    assert status == 200, rep
    row = rep["units"][0]
    assert row["unit"] == "hrss"
    assert (row["response_rate"]["numerator"], row["response_rate"]["denominator"]) == (2, 4)
    assert row["response_rate"]["percent"] == 50.0
    assert (row["correction_rate"]["numerator"], row["correction_rate"]["denominator"]) == (1, 1)
    assert (row["on_time_submission"]["numerator"], row["on_time_submission"]["denominator"]) == (0, 1)
    # BASE: med-1, old-1, ss-1 and 30 fillers are hrss's imports; one created through the API.
    assert row["uploaded"] == {"created": 1, "imported": 33, "total": 34}
    assert rep["options"]["query_limit_working_days"] == 1.0
    assert (await kb.call("water1", "GET", "/api/kb/kpi?unit=hrss"))[0] == 403
    assert (await kb.call("seat1", "GET", "/api/kb/kpi"))[0] == 403
    assert (await kb.call("sup1", "GET", "/api/kb/kpi?from=2026-13-01"))[0] == 400
    assert (await kb.call("sup1", "GET", "/api/kb/kpi?unit=nosuch"))[0] == 400
    assert svc is not None


async def test_entries_expiring_within_30_days_are_counted(kb):
    await kb.service.import_lines([line("soon", "即将到期", valid_to="2026-04-01")], Actor("admin1", "admin"))
    _, rep = await kb.call("hr1", "GET", "/api/kb/kpi?from=2026-03-01&to=2026-03-31")
    assert rep["unit"] == "hrss" and rep["units"][0]["expiring_30d"] == 1


def _entry():
    return {"question": "新政策", "answer": "内容", "category": "社会保障", "unit": "hrss"}


async def test_the_kpi_report_reaches_hotline_kpi_and_the_page_as_an_escaped_table(kb):
    from knowledge.requests_kpi import cli_section, register_cli, rows_text, table_html
    from workorders.api import KPI_CLI_SECTIONS as KPI_SECTIONS

    register_cli()
    register_cli()
    assert KPI_SECTIONS.count(cli_section) == 1
    await kb.service.import_lines([line("x-1", "q", unit="A&B")], Actor("admin1", "admin"))
    _, rep = await kb.call("sup1", "GET", "/api/kb/kpi?from=2026-03-01&to=2026-03-31")
    page = table_html(rep)
    assert "<td>A&amp;B</td>" in page and "A&B" not in page and "政务信息响应率" in page
    assert any(t.strip().startswith("A&B: 上传 1") for t in rows_text(rep))
