"""The work-order API on SQLite and PostgreSQL, through a real aiohttp server."""

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.integration.workorders.conftest import CST
from workorders.calendar_source import YearData
from workorders.models import WoAudit
from workorders.plugin import scan

pytestmark = pytest.mark.asyncio(loop_scope="module")


def local(text: str) -> str:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST).isoformat()


async def new_order(env, **extra) -> int:
    body = {
        "title": "小区漏水",
        "content": "楼上漏水多日无人处理",
        "citizen_phone": "13800000000",
        "channel": "phone",
        "type": "complaint",
        "category": "城建/物业",
    } | extra
    status, order = await env.call("seat1", "POST", "/api/workorders", json=body)
    assert status == 201, order
    return order["id"]


async def dispatched(env, lead="housing", **extra) -> int:
    oid = await new_order(env, **extra)
    assert (await env.act("seat1", oid, "submit"))[0] == 200
    status, body = await env.act("disp1", oid, "dispatch", lead_unit=lead)
    assert status == 200, body
    return oid


async def test_an_order_goes_from_intake_to_archive_with_every_step_audited(env):
    oid = await dispatched(env)
    status, order = await env.call("housing1", "GET", f"/api/workorders/{oid}")
    assert order["deadlines"]["sign_by"] == local("2026-03-10 11:00")
    assert order["deadlines"]["reply_by"] == local("2026-03-17 09:00")
    assert order["allowed_actions"] == ["sign", "request_return"]
    assert order["due"]["deadline"] == "sign_by" and order["due"]["working_seconds_left"] == 7200
    env.clock.at = dt.datetime(2026, 3, 10, 10, 0, tzinfo=CST)
    assert (await env.act("housing1", oid, "sign"))[0] == 200
    assert (await env.upload("housing1", oid, "evidence"))[0] == 201
    reply = {"handling": "现场核查", "resolution": "已维修", "contact": "3月11日电话告知，满意"}
    assert (await env.act("housing1", oid, "reply", **reply))[0] == 200
    checks = {"elements_complete": True, "evidence_matches": True, "measures_clear": True}
    assert (await env.act("disp1", oid, "approve_reply", **checks))[0] == 200
    cb = {"reached": True, "satisfaction": "basically_satisfied", "resolved": True}
    assert (await env.act("seat1", oid, "record_callback", **cb))[0] == 200
    assert (await env.act("disp1", oid, "close"))[0] == 200
    status, order = await env.act("disp1", oid, "archive")
    assert status == 200 and order["state"] == "archived"
    actions = [h["action"] for h in order["history"]]
    assert actions == [
        "create",
        "classify",
        "submit",
        "dispatch",
        "sign",
        "attach",
        "reply",
        "approve_reply",
        "record_callback",
        "close",
        "archive",
    ]
    assert {h["actor"] for h in order["history"]} == {"seat1", "disp1", "housing1"}


async def test_refusals_name_the_rule_and_change_nothing(env):
    oid = await dispatched(env)
    await env.act("housing1", oid, "sign")
    status, body = await env.act("housing1", oid, "reply", handling="x", resolution="y")
    assert status == 422 and body["rule"] == "reply.elements" and "联系情况" in body["detail"]
    status, body = await env.act("housing1", oid, "sign")
    assert status == 409 and body["error"] == "illegal action"
    status, body = await env.act("seat1", oid, "apply_extension", days=1, reason="x")
    assert status == 403
    status, order = await env.call("disp1", "GET", f"/api/workorders/{oid}")
    assert order["state"] == "handling" and order["version"] == 4


async def test_a_stale_version_is_refused_with_409(env):
    oid = await dispatched(env)
    _, order = await env.call("housing1", "GET", f"/api/workorders/{oid}")
    await env.act("sup1", oid, "supervise", reason="多次来电")
    status, body = await env.act("housing1", oid, "sign", version=order["version"])
    assert status == 409 and body["error"] == "conflict"


async def test_two_users_of_the_unit_signing_at_once_exactly_one_wins(env, engine):
    oid = await dispatched(env)
    results = await asyncio.gather(env.act("housing1", oid, "sign"), env.act("housing2", oid, "sign"))
    statuses = sorted(s for s, _ in results)
    assert statuses == [200, 409]
    from hotline.storage import make_sessionmaker

    async with make_sessionmaker(engine)() as s:
        n = await s.scalar(
            select(func.count()).select_from(WoAudit).where(WoAudit.order_id == oid, WoAudit.action == "sign")
        )
    assert n == 1


async def test_many_concurrent_actions_on_one_order_leave_one_consistent_winner(env):
    from workorders.core.model import Actor, Role

    oid = await dispatched(env)
    svc = env.service
    a, b = Actor("housing1", Role.UNIT, "housing"), Actor("housing2", Role.UNIT, "housing")
    ret = {"reason": "非本单位职责", "basis": "三定", "suggested_unit": "water"}
    await env.upload("housing1", oid, "return_approval")
    version = (await svc.get(oid)).version

    async def attempt(coro):
        try:
            await coro
            return "won"
        except Exception as exc:
            return type(exc).__name__

    outcomes = await asyncio.gather(
        *[attempt(svc.act(oid, "sign", {}, a if i % 2 else b, expected_version=version)) for i in range(4)],
        attempt(svc.act(oid, "request_return", ret, a, expected_version=version)),
    )
    assert outcomes.count("won") == 1
    assert set(outcomes) - {"won"} <= {"Conflict", "IllegalAction"}
    row = await svc.get(oid)
    assert row.version == version + 1 and row.state in ("handling", "return_requested")


async def test_a_unit_sees_only_its_orders_and_confidential_numbers_are_hidden(env):
    oid = await dispatched(env, confidential=True)
    status, _ = await env.call("water1", "GET", f"/api/workorders/{oid}")
    assert status == 404
    _, lst = await env.call("water1", "GET", "/api/workorders")
    assert oid not in [o["id"] for o in lst["items"]]
    assert all(o["lead_unit"] == "water" for o in lst["items"])
    _, lst = await env.call("housing1", "GET", "/api/workorders")
    mine = {o["id"]: o for o in lst["items"]}
    assert mine[oid]["citizen_phone"] == "（保密）"
    # Who the citizen is stays with the seat who took the call (and the supervisors): the
    # dispatcher routes the matter without it.
    _, lst = await env.call("disp1", "GET", "/api/workorders?state=dispatched")
    assert {o["id"]: o for o in lst["items"]}[oid]["citizen_phone"] == "（保密）"
    _, order = await env.call("disp1", "GET", f"/api/workorders/{oid}")
    assert order["citizen_name"] == "（保密）"
    _, lst = await env.call("seat1", "GET", "/api/workorders?state=dispatched")
    assert {o["id"]: o for o in lst["items"]}[oid]["citizen_phone"] == "13800000000"


async def test_attachments_enforce_type_and_size_and_download_intact(env):
    oid = await dispatched(env)
    status, body = await env.upload("housing1", oid, "evidence", b"MZ\x90", "application/x-msdownload")
    assert status == 422 and "not allowed" in body["detail"]
    env.service.settings.attachment_max_bytes = 10
    status, body = await env.upload("housing1", oid, "evidence", b"x" * 11)
    assert status in (413, 422)
    env.service.settings.attachment_max_bytes = 1000
    status, att = await env.upload("housing1", oid, "evidence", b"%PDF proof")
    assert status == 201
    status, data = await env.call("housing1", "GET", att["url"])
    assert status == 200 and data == b"%PDF proof"
    status, _ = await env.call("water1", "GET", att["url"])
    assert status == 404


async def test_a_return_needs_its_fields_and_signed_approval_then_the_platform_redispatches(env):
    env.clock.at = dt.datetime(2026, 4, 14, 9, 0, tzinfo=CST)  # its own month for the KPI below
    oid = await dispatched(env)
    ret = {"reason": "非本单位职责", "basis": "三定方案", "suggested_unit": "water"}
    status, body = await env.act("housing1", oid, "request_return", **ret)
    assert status == 422 and body["rule"] == "return.attachment"
    await env.upload("housing1", oid, "return_approval")
    assert (await env.act("housing1", oid, "request_return", **ret))[0] == 200
    assert (await env.act("disp1", oid, "approve_return"))[0] == 200
    status, order = await env.act("disp1", oid, "dispatch", lead_unit="water")
    assert status == 200 and order["lead_unit"] == "water"
    _, rep = await env.call("disp1", "GET", "/api/workorders/kpi?from=2026-04-01&to=2026-04-30")
    assert rep["kpis"]["dispatch_accuracy"] == {"numerator": 0, "denominator": 1, "percent": 0.0}


async def test_extension_rules_over_http(env):
    oid = await dispatched(env)
    await env.act("housing1", oid, "sign")
    status, body = await env.act("housing1", oid, "apply_extension", days=6, reason="需勘查")
    assert status == 422 and body["rule"] == "extension.total"
    assert (await env.act("housing1", oid, "apply_extension", days=2, reason="需勘查"))[0] == 200
    status, order = await env.act("disp1", oid, "approve_extension")
    assert order["deadlines"]["reply_by"] == local("2026-03-19 09:00")
    status, body = await env.act("housing1", oid, "apply_extension", days=1, reason="again")
    assert status == 422 and body["rule"] == "extension.once"


async def test_deadline_queries_refuse_an_uncovered_year_but_dispatch_goes_provisional(env):
    status, body = await env.call(
        "seat1", "GET", "/api/workorders/deadlines?type=help&dispatched=2026-12-31T16:00:00%2B08:00"
    )
    assert status == 422 and "2027" in body["detail"]
    env.clock.at = dt.datetime(2026, 12, 31, 16, 0, tzinfo=CST)
    oid = await dispatched(env)
    _, order = await env.call("disp1", "GET", f"/api/workorders/{oid}")
    assert order["deadlines"]["provisional"] is True
    assert order["deadlines"]["reply_by"] == local("2027-01-08 16:00")
    assert oid in (await scan(env.service))["provisional"]
    # The 2027 notice makes Jan 4 a holiday in this test: the deadline moves one working day later.
    year = YearData(2027, {dt.date(2027, 1, 1): "元旦", dt.date(2027, 1, 4): "测试"}, {}, "test")
    await env.service.store_year(year)
    _, order = await env.call("disp1", "GET", f"/api/workorders/{oid}")
    assert order["deadlines"]["provisional"] is False
    assert order["deadlines"]["reply_by"] == local("2027-01-11 16:00")
    assert order["history"][-1]["action"] == "recompute_deadlines"


async def test_kpi_api_counts_on_time_sign_and_states_its_options(env):
    env.clock.at = dt.datetime(2026, 5, 12, 9, 0, tzinfo=CST)  # May is this test's own month
    a = await dispatched(env, citizen_phone="13900000000")
    b = await dispatched(env, citizen_phone="13900000000")
    env.clock.at = dt.datetime(2026, 5, 12, 10, 0, tzinfo=CST)
    await env.act("housing1", a, "sign")
    env.clock.at = dt.datetime(2026, 5, 12, 14, 0, tzinfo=CST)  # after sign_by 11:00
    await env.act("housing1", b, "sign")
    status, rep = await env.call(
        "sup1", "GET", "/api/workorders/kpi?from=2026-05-01&to=2026-05-31&basic_satisfied=false"
    )
    assert status == 200
    assert rep["kpis"]["on_time_sign"] == {"numerator": 1, "denominator": 2, "percent": 50.0}
    assert rep["options"]["count_basically_satisfied"] is False
    assert rep["kpis"]["repeat_rate"] == {"numerator": 1, "denominator": 2, "percent": 50.0}
    status, page = await env.call("sup1", "GET", "/workorders/kpi?from=2026-05-01&to=2026-05-31")
    assert status == 200 and b"<svg" in page and "按时签收率".encode() in page


async def test_pages_escape_and_need_login(env):
    resp = await env.client.get("/workorders/kpi", allow_redirects=False)
    assert resp.status == 302
    status, page = await env.call("sup1", "GET", "/workorders/kpi?from=2026-03-01&to=<script>")
    assert status == 200 and b"<script>" not in page and b"&lt;script&gt;" in page
    resp = await env.client.get("/workorders/")
    assert resp.status == 200 and "工单" in await resp.text()


async def test_bad_input_gets_a_json_error_not_a_traceback(env):
    status, body = await env.call(
        "seat1", "POST", "/api/workorders", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and "JSON" in body["detail"]
    status, body = await env.call("seat1", "POST", "/api/workorders", json={"content": ""})
    assert status == 422
    status, body = await env.act("seat1", 999, "sign")
    assert status == 404
    status, body = await env.call("seat1", "POST", "/api/workorders/1/actions/fly", json={})
    assert status == 404
    status, body = await env.call("", "GET", "/api/workorders")
    assert status == 401


async def test_create_from_contact_keeps_the_contact_and_its_photos_and_refuses_whole(env):
    svc = env.service
    oid = await svc.create_from_contact(
        channel="wechat",
        content="井盖缺失",
        caller="openid-1",
        contact_id="wx-1",
        order_type="report",
        category="城建/物业",
        attachments=[("井盖.jpg", "image/jpeg", b"\xff\xd8\xff photo")],
    )
    _, order = await env.call("disp1", "GET", f"/api/workorders/{oid}")
    assert (order["channel"], order["contact_id"], order["type"], order["state"]) == (
        "wechat",
        "wx-1",
        "report",
        "intake",
    )
    assert [a["kind"] for a in order["attachments"]] == ["photo"]
    assert [h["action"] for h in order["history"]] == ["create", "classify", "attach"]
    assert order["citizen_phone"] == "（保密）"  # a 举报: confidential by nature
    _, before = await env.call("disp1", "GET", "/api/workorders?limit=1000")
    from workorders.core.deadlines import RuleViolation

    with pytest.raises(RuleViolation):
        await svc.create_from_contact(channel="web", content="x", category="火星/基地")
    from workorders.admin import InputError

    with pytest.raises(InputError):
        await svc.create_from_contact(
            channel="voice_message", content="留言", attachments=[("a.exe", "application/x-msdownload", b"MZ")]
        )
    _, after = await env.call("disp1", "GET", "/api/workorders?limit=1000")
    assert len(after["items"]) == len(before["items"])  # nothing half-created


async def test_the_watch_finds_orders_near_and_past_their_deadline(env):
    oid = await dispatched(env)  # 09:00, sign_by 11:00
    env.clock.at = dt.datetime(2026, 3, 10, 10, 0, tzinfo=CST)
    found = await scan(env.service)
    assert oid not in found["warning"] and oid not in found["overdue"]
    env.clock.at = dt.datetime(2026, 3, 10, 10, 45, tzinfo=CST)  # 15 of 120 minutes left: under 25 %
    assert oid in (await scan(env.service))["warning"]
    env.clock.at = dt.datetime(2026, 3, 10, 11, 1, tzinfo=CST)
    assert oid in (await scan(env.service))["overdue"]
    _, lst = await env.call("disp1", "GET", "/api/workorders?state=dispatched")
    mine = {o["id"]: o for o in lst["items"]}[oid]
    assert mine["due"]["status"] == "overdue" and mine["due"]["working_seconds_left"] == -60


async def test_need_to_know_merges_and_attachments(env):
    oid = await dispatched(env, confidential=True)
    # Another seat does not learn who reported it; the seat who took it, and supervisors, do.
    _, order = await env.call("sup1", "GET", f"/api/workorders/{oid}")
    assert order["citizen_phone"] == "13800000000"
    # A merge needs a real, free-standing target.
    status, other = await env.call("seat1", "POST", "/api/workorders", json={"content": "同一件事", "channel": "phone"})
    assert status == 201
    status, body = await env.act("seat1", other["id"], "merge", into=999_999)
    assert status == 422 and body["rule"] == "merge.missing"
    status, third = await env.call("seat1", "POST", "/api/workorders", json={"content": "又一次", "channel": "phone"})
    assert (await env.act("seat1", other["id"], "merge", into=third["id"]))[0] == 200
    status, body = await env.act("seat1", third["id"], "merge", into=other["id"])
    assert status == 422 and body["rule"] == "merge.chain"  # the cycle third -> other -> third
    # Files only where the lifecycle allows them: a merged order takes none, nor does a unit's
    # order from a seat.
    status, body = await env.upload("seat1", other["id"], "evidence")
    assert status == 409
    status, body = await env.upload("seat1", oid, "evidence")
    assert status == 409  # dispatched: the unit's turn, not the seat's


async def test_unit_codes_cannot_be_patterns(env):
    from hotline.auth import AccountError, create_account

    for code in ("%", "wat_r", "water%", "a,b", "-x"):
        with pytest.raises(AccountError, match="unit code"):
            await create_account(env.service.sessions, f"u{len(code)}x", "unit", "password-123", unit=code)


async def test_the_same_request_of_a_creator_opens_one_order_even_at_the_same_time(env):
    svc = env.service

    def create(request_id, contact_id="call-req-1", created_by="seat1"):
        return svc.create_from_contact(
            channel="phone",
            content="路灯不亮",
            contact_id=contact_id,
            created_by=created_by,
            request_id=request_id,
            attachments=[("说明.pdf", "application/pdf", b"%PDF-1.4 note")],
        )

    a, b = await asyncio.gather(create("req-00000001"), create("req-00000001"))
    assert a == b == await create("req-00000001") == await svc.order_for_request("seat1", "call-req-1", "req-00000001")
    assert len(await svc.attachments(a)) == 1
    # Another request, another creator or another contact under the same id: each its own order.
    others = {await create("req-00000002"), await create("req-00000001", created_by="seat2")}
    others.add(await create("req-00000001", contact_id="call-req-2"))
    assert len(others) == 3 and a not in others
    from workorders.admin import InputError

    with pytest.raises(InputError):
        await svc.create_from_contact(channel="web", content="x", request_id="req-00000003")
