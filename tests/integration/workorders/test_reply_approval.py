"""答复须经分管领导审核 on SQLite and PostgreSQL, with the supervision feature installed as the engine
does: a supervised order's reply waits for the unit's leader, a plain order's does not; who may
sign it (403), what is illegal (409), and what the order's history keeps."""

import datetime as dt

import pytest
import pytest_asyncio

from supervision import plugin as supervision_plugin
from tests.integration.workorders.conftest import CST, START, running_env

pytestmark = pytest.mark.asyncio(loop_scope="module")
REPLY = {"handling": "现场核查", "resolution": "已维修", "contact": "3月11日电话告知，满意"}
CHECKS = {"elements_complete": True, "evidence_matches": True, "measures_clear": True}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def env(request, tmp_path_factory):
    async with running_env(request.param, tmp_path_factory.mktemp("wo"), [supervision_plugin]) as (e, _engine):
        yield e


async def signed(env, lead="housing", **extra) -> int:
    body = {"title": "小区漏水", "content": "楼上漏水", "citizen_phone": "13800000000", "channel": "phone"}
    body |= {"type": "complaint", "category": "城建/物业"} | extra
    status, order = await env.call("seat1", "POST", "/api/workorders", json=body)
    assert status == 201, order
    oid = order["id"]
    assert (await env.act("seat1", oid, "submit"))[0] == 200
    assert (await env.act("disp1", oid, "dispatch", lead_unit=lead))[0] == 200
    assert (await env.act(f"{lead}1", oid, "sign"))[0] == 200
    assert (await env.upload(f"{lead}1", oid, "evidence"))[0] == 201
    return oid


async def supervise(env, oid) -> None:
    body = {"order_ids": [oid], "level": "key", "working_days": 3, "instructions": "限期答复"}
    status, sup = await env.call("sup1", "POST", "/api/supervision/supervisions", json=body)
    assert status == 201, sup


async def test_a_supervised_orders_reply_waits_for_the_leader_who_approves_it(env):
    env.clock.at = START
    oid = await signed(env)
    await supervise(env, oid)
    status, order = await env.call("housing1", "GET", f"/api/workorders/{oid}")
    assert order["approval"] == {"required": True, "reasons": ["supervised"], "label": "督办件", "approval": None}
    assert "submit_reply" in order["allowed_actions"] and "reply" not in order["allowed_actions"]
    status, body = await env.act("housing1", oid, "reply", **REPLY)
    assert (status, body["rule"]) == (422, "reply.approval")

    env.clock.at = dt.datetime(2026, 3, 11, 10, 0, tzinfo=CST)
    status, order = await env.act("housing1", oid, "submit_reply", **REPLY)
    assert status == 200, order
    assert (order["state"], order["state_label"]) == ("leader_review", "待领导审核")
    assert order["due"]["deadline"] == "reply_by"  # the clock keeps running while the leader reads
    assert order["allowed_actions"] == ["feedback"]  # the handler waits
    status, mine = await env.call("housing-boss", "GET", f"/api/workorders/{oid}")
    assert mine["allowed_actions"] == ["leader_approve", "leader_return", "feedback"]
    status, body = await env.act("disp1", oid, "approve_reply", **CHECKS)
    assert status == 409  # not the platform's to review yet

    env.clock.at = dt.datetime(2026, 3, 11, 15, 0, tzinfo=CST)
    status, order = await env.act("housing-boss", oid, "leader_approve", opinion="同意上报")
    assert status == 200, order
    assert order["state"] == "replied"
    approval = order["approval"]["approval"]
    assert (approval["by"], approval["opinion"]) == ("housing-boss", "同意上报")
    assert dt.datetime.fromisoformat(approval["at"]) == dt.datetime(2026, 3, 11, 15, 0, tzinfo=CST)
    assert order["reply"]["by"] == "housing1" and order["reply"]["handling"] == "现场核查"
    # Counted as replied when the leader let it out, not when the handler wrote it.
    current = order["order"]["assignments"][-1]
    assert dt.datetime.fromisoformat(current["replied_at"]) == dt.datetime(2026, 3, 11, 15, 0, tzinfo=CST)
    steps = [(h["actor"], h["action"], h["from"], h["to"]) for h in order["history"]][-2:]
    assert steps == [
        ("housing1", "submit_reply", "handling", "leader_review"),
        ("housing-boss", "leader_approve", "leader_review", "replied"),
    ]
    assert order["history"][-1]["data"] == {"opinion": "同意上报"}
    assert (await env.act("disp1", oid, "approve_reply", **CHECKS))[0] == 200


async def test_a_plain_orders_reply_goes_straight_to_the_platform(env):
    env.clock.at = START
    oid = await signed(env)
    status, order = await env.call("housing1", "GET", f"/api/workorders/{oid}")
    assert order["approval"]["required"] is False
    assert "reply" in order["allowed_actions"] and "submit_reply" not in order["allowed_actions"]
    status, body = await env.act("housing1", oid, "submit_reply", **REPLY)
    assert (status, body["rule"]) == (422, "approval.not_required")
    status, order = await env.act("housing1", oid, "reply", **REPLY)
    assert (status, order["state"]) == (200, "replied")


async def test_a_major_order_needs_the_leader_without_a_supervision(env):
    env.clock.at = START
    oid = await signed(env, urgency="special")
    _, order = await env.call("housing1", "GET", f"/api/workorders/{oid}")
    assert order["approval"]["reasons"] == ["major"]
    assert (await env.act("housing1", oid, "submit_reply", **REPLY))[0] == 200


async def test_a_unit_that_asks_it_has_every_reply_signed(env):
    env.clock.at = START
    env.service.settings.approval_units = ["water"]
    try:
        oid = await signed(env, lead="water")
        status, body = await env.act("water1", oid, "reply", **REPLY)
        assert (status, body["rule"]) == (422, "reply.approval")
        status, order = await env.act("water1", oid, "submit_reply", **REPLY)
        assert order["approval"]["reasons"] == ["unit"] and order["approval"]["label"] == "本单位要求领导审核"
    finally:
        env.service.settings.approval_units = []


async def test_only_the_lead_units_leader_may_sign_and_a_send_back_needs_a_reason(env):
    env.clock.at = START
    oid = await signed(env)
    await supervise(env, oid)
    assert (await env.act("housing1", oid, "submit_reply", **REPLY))[0] == 200
    status, body = await env.act("housing1", oid, "leader_approve")  # the handler, not a leader
    assert status == 403 and "分管领导" in body["detail"]
    assert (await env.act("housing2", oid, "leader_approve"))[0] == 403
    # Another unit's leader does not even see the order.
    assert (await env.act("water-boss", oid, "leader_approve"))[0] == 404
    assert (await env.act("disp1", oid, "leader_approve"))[0] == 403
    status, body = await env.act("housing-boss", oid, "leader_return", reason=" ")
    assert (status, body["rule"]) == (422, "approval.reason")

    status, order = await env.act("housing-boss", oid, "leader_return", reason="联系情况不具体")
    assert (status, order["state"]) == (200, "handling")
    last = order["history"][-1]
    assert (last["actor"], last["action"], last["reason"]) == ("housing-boss", "leader_return", "联系情况不具体")
    assert (await env.act("housing-boss", oid, "leader_approve"))[0] == 409  # nothing waits now
    status, order = await env.act("housing1", oid, "submit_reply", **REPLY | {"contact": "3月11日上门告知，满意"})
    assert (status, order["state"]) == (200, "leader_review")


async def test_the_leaders_account_says_so_and_the_page_shows_the_step(env):
    _, me = await env.call("housing-boss", "GET", "/api/me")
    assert me["unit_leader"] is True
    _, me = await env.call("housing1", "GET", "/api/me")
    assert me["unit_leader"] is False
    _, js = await env.call("", "GET", "/workorders/app.js")
    text = js.decode()
    assert "待领导审核" in text and "领导审核通过" in text and "textContent" in text and "innerHTML =" not in text


async def test_a_co_units_leader_sees_the_order_but_may_not_sign_it(env):
    env.clock.at = START
    body = {"title": "管网漏水", "content": "路面冒水", "citizen_phone": "13800000000", "channel": "phone"}
    status, order = await env.call(
        "seat1", "POST", "/api/workorders", json=body | {"type": "help", "category": "城建/供水"}
    )
    oid = order["id"]
    assert (await env.act("seat1", oid, "submit"))[0] == 200
    assert (await env.act("disp1", oid, "dispatch", lead_unit="housing", co_units=["water"]))[0] == 200
    assert (await env.act("housing1", oid, "sign"))[0] == 200
    assert (await env.upload("housing1", oid, "evidence"))[0] == 201
    assert (await env.act("water1", oid, "co_reply", text="管网已修复"))[0] == 200
    assert (await env.act("sup1", oid, "supervise", reason="多次来电"))[0] == 200  # the order's own 督办 flag
    assert (await env.act("housing1", oid, "submit_reply", **REPLY))[0] == 200
    status, body = await env.act("water-boss", oid, "leader_approve")
    assert status == 403 and "主办单位" in body["detail"]


async def test_the_user_command_gives_the_leader_capability_to_unit_accounts_only(env, tmp_path):
    from hotline.auth import AccountError, create_account

    sessions = env.service.sessions
    acc = await create_account(sessions, "edu-boss", "unit", "correct horse 1", "edu", "教育局分管领导", leader=True)
    assert acc.unit_leader is True
    with pytest.raises(AccountError, match="--leader"):
        await create_account(sessions, "disp-boss", "dispatcher", "correct horse 1", leader=True)
