"""The watch → notices → outbox → SMS stand-in path on SQLite and PostgreSQL, through a real
aiohttp server for the API and a real one for the gateway."""

import datetime as dt
import time

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from tests.integration.workorders.conftest import CST
from workorders.http import NOTICES
from workorders.models import WoAlert
from workorders.notice_senders import Message, SendError, SmsSender, WechatSender
from workorders.plugin import watch_round
from workorders.sms_standin import SmsGateway
from workorders.wechat_standin import WechatApi

pytestmark = pytest.mark.asyncio(loop_scope="module")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


async def dispatched(env, lead="housing", **extra) -> int:
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
    assert (await env.act("seat1", order["id"], "submit"))[0] == 200
    status, out = await env.act("disp1", order["id"], "dispatch", lead_unit=lead)
    assert status == 200, out
    return order["id"]


@pytest_asyncio.fixture(loop_scope="module")
async def notices(env):
    n = env.client.server.app[NOTICES]
    settings, senders, clock = n.settings, n.senders, n.box.clock
    yield n
    n.settings, n.senders, n.box.clock = settings, senders, clock


class Later:
    """Real time plus an offset: the outbox's backoff and the gateway's limits, without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest_asyncio.fixture(loop_scope="module")
async def later(notices):
    t = Later()
    notices.box.clock = t
    return t


def sms(gateway, later, template="SMS_WO_ALERT"):
    return {"sms": SmsSender(gateway.url, "standin-key", "standin-secret", "【12345热线】", template, clock=later)}


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(later):
    gw = SmsGateway(clock=later)
    server = TestServer(gw.app())
    await server.start_server()
    gw.url = str(server.make_url("")).rstrip("/")
    yield gw
    await server.close()


async def round_at(env, notices, when: str):
    env.clock.at = at(when)
    return await watch_round(env.service, notices)


async def mine(env, user: str, order: int) -> list[dict]:
    status, body = await env.call(user, "GET", "/api/workorders/notices?limit=200")
    assert status == 200, body
    return [n for n in body["notices"] if n["order_id"] == order]


async def test_a_warning_then_an_escalation_reach_the_unit_the_history_and_the_supervisors_once(env, notices):
    seen = []
    unsubscribe = notices.bus.subscribe("console.to_supervisors", lambda t, p: seen.append(p))
    try:
        oid = await dispatched(env)  # Tuesday 09:00, sign by 11:00 (2 working hours)
        await round_at(env, notices, "2026-03-10 10:29")
        assert await mine(env, "housing1", oid) == []
        await round_at(env, notices, "2026-03-10 10:30")
        await round_at(env, notices, "2026-03-10 10:45")  # again: nothing new
        (warn,) = await mine(env, "housing1", oid)
        assert warn["kind"] == "warn" and warn["deadline"] == "sign" and warn["due"] == "2026-03-10 11:00"
        assert warn["title"] == f"【预警】工单 {oid} 签收期限将至" and not warn["read"]
        assert await mine(env, "water1", oid) == []  # another unit sees none of it
        assert await mine(env, "sup1", oid) == []  # a warning is the unit's, not yet the supervisors'

        await round_at(env, notices, "2026-03-10 11:01")
        await round_at(env, notices, "2026-03-10 11:30")
        unit = await mine(env, "housing1", oid)
        assert [(n["kind"], n["deadline"]) for n in unit] == [("escalate", "sign"), ("warn", "sign")]
        (sup,) = await mine(env, "sup1", oid)
        assert sup["audience"] == "supervisors" and sup["title"] == f"【超期】工单 {oid} 签收已超期"
        assert [p["data"]["order"] for p in seen if p["event"] == "workorder_escalated"] == [oid]

        _, order = await env.call("sup1", "GET", f"/api/workorders/{oid}")
        alerts = [(h["action"], h["actor"], h["data"]["deadline"]) for h in order["history"] if h["role"] == "system"]
        assert alerts == [("deadline_warning", "system", "sign"), ("deadline_escalation", "system", "sign")]
    finally:
        unsubscribe()


async def test_a_unit_cannot_read_or_mark_another_units_notices(env, notices):
    oid = await dispatched(env)
    await round_at(env, notices, "2026-03-10 10:35")
    (warn,) = await mine(env, "housing1", oid)
    status, body = await env.call("water1", "POST", f"/api/workorders/notices/{warn['id']}/read")
    assert status == 403 and body["detail"] == "不能标记其他单位的通知"
    assert (await env.call("sup1", "POST", f"/api/workorders/notices/{warn['id']}/read"))[0] == 403
    assert (await env.call("seat1", "GET", "/api/workorders/notices"))[0] == 403
    assert (await env.call("water1", "POST", "/api/workorders/notices/99999999/read"))[0] == 404
    _, before = await env.call("housing2", "GET", "/api/workorders/notices?unread=1")
    assert (await env.call("housing2", "POST", f"/api/workorders/notices/{warn['id']}/read"))[0] == 200
    _, after = await env.call("housing1", "GET", "/api/workorders/notices?unread=1")
    assert after["unread"] == before["unread"] - 1  # read for the whole unit
    assert warn["id"] not in [n["id"] for n in after["notices"]]


async def test_sms_goes_through_the_outbox_to_the_strict_gateway_and_is_tried_again(env, notices, gateway, later):
    notices.settings = notices.settings.model_copy(
        update={"sms_phones": {"housing": ["13800138001"], "supervisors": ["13900139001"]}}
    )
    notices.senders = sms(gateway, later)
    oid = await dispatched(env)
    await round_at(env, notices, "2026-03-10 10:40")
    gateway.outage = 1  # the gateway is away for the first try
    await notices.box.carry_out()
    (warn,) = await mine(env, "housing1", oid)
    (d,) = warn["deliveries"]
    assert (d["channel"], d["state"], d["tries"], d["target"]) == ("sms", "waiting", 1, "138****8001")
    assert d["error"].startswith("HTTP")
    later.offset += 10  # past the outbox's first backoff (5 s)
    await notices.box.carry_out()
    (warn,) = await mine(env, "housing1", oid)
    assert warn["deliveries"][0]["state"] == "sent" and warn["deliveries"][0]["tries"] == 2, warn
    assert gateway.sent[-1]["phone"] == "13800138001"
    assert gateway.sent[-1]["text"] == f"【12345热线】工单{oid}签收期限2026-03-10 11:00将至，请及时处理。"

    # The escalations of this order and of the earlier test's: two texts to the supervisors' phone
    # in one round, and the gateway takes one a minute per number; the second waits for a retry.
    await round_at(env, notices, "2026-03-10 11:05")
    later.offset += 400
    await notices.box.carry_out()
    throttled = [d for n in await mine(env, "sup1", oid) for d in n["deliveries"]]
    for _ in range(3):
        later.offset += 400
        await notices.box.carry_out()
    (sup,) = await mine(env, "sup1", oid)
    assert sup["deliveries"][0]["state"] == "sent"
    to_sup = [x["at"] for x in gateway.sent if x["phone"] == "13900139001"]
    assert len(to_sup) == 2 and to_sup[1] - to_sup[0] >= 60
    assert throttled[0]["state"] == "sent" or throttled[0]["error"].startswith("BUSINESS_LIMIT_CONTROL")


async def test_a_delivery_is_shown_failed_after_the_last_try_or_at_once_when_no_try_can_mend_it(
    env, notices, gateway, later
):
    notices.settings = notices.settings.model_copy(
        update={"sms_phones": {"housing": ["13800138002"]}, "notice_max_tries": 3}
    )
    notices.senders = sms(gateway, later)
    oid = await dispatched(env)
    await round_at(env, notices, "2026-03-10 10:40")
    gateway.outage = 100
    for _ in range(4):
        await notices.box.carry_out()
        later.offset += 400
    gateway.outage = 0
    (warn,) = await mine(env, "housing1", oid)
    d = warn["deliveries"][0]
    assert (d["state"], d["tries"]) == ("failed", 3) and "503" in d["error"]

    notices.senders = sms(gateway, later, "SMS_NOPE")
    await round_at(env, notices, "2026-03-10 11:05")
    await notices.box.carry_out()
    esc = [n for n in await mine(env, "housing1", oid) if n["kind"] == "escalate"]
    d = esc[0]["deliveries"][0]
    assert (d["state"], d["tries"]) == ("failed", 1) and d["error"].startswith("TEMPLATE_MISSING")


async def test_a_backlog_of_overdue_orders_is_sent_a_capped_batch_per_round_each_once(env, notices, engine):
    ids = [await dispatched(env) for _ in range(6)]
    notices.settings = notices.settings.model_copy(update={"alerts_per_round": 4})
    counts = []
    for minute in range(10):
        env.clock.at = at("2026-03-12 10:00") + dt.timedelta(minutes=minute)
        result = await notices.round(env.service.cal(), env.clock.at)
        counts.append(result.warned + result.escalated)
        if result.pending == 0 and counts[-1] == 0:
            break
    assert max(counts) <= 4 and counts[0] == 4
    async with env.service.sessions() as s:
        rows = (await s.execute(select(WoAlert.order_id, WoAlert.deadline, WoAlert.kind))).all()
    ours = [r for r in rows if r.order_id in ids]
    # On 03-12 only the sign-off is past (the return window closed unwarned, never escalated; the
    # reply is due 03-17): one escalation per order, whatever the number of rounds.
    assert sorted((r.order_id, r.deadline, r.kind) for r in ours) == [(i, "sign", "escalate") for i in ids]


FOLLOWER = "oUnitHousing_0123456789abcde"
STRANGER = "oNotFollowing_0123456789abcd"


@pytest_asyncio.fixture(loop_scope="module")
async def wechat():
    api = WechatApi(followers={FOLLOWER})
    server = TestServer(api.app())
    await server.start_server()
    api.url = str(server.make_url("")).rstrip("/")
    yield api
    await server.close()


async def test_wechat_template_messages_keep_the_token_renew_it_once_and_fail_for_non_followers(
    env, notices, wechat, later
):
    notices.settings = notices.settings.model_copy(
        update={"wechat_openids": {"housing": [FOLLOWER, STRANGER]}, "sms_phones": {}}
    )
    sender = WechatSender(wechat.url, wechat.appid, wechat.secret, "TPL_WO_ALERT")
    notices.senders = {"wechat": sender}
    oid = await dispatched(env)
    await round_at(env, notices, "2026-03-10 10:40")
    wechat.outage = 1
    await notices.box.carry_out()
    later.offset += 10
    await notices.box.carry_out()
    (warn,) = await mine(env, "housing1", oid)
    states = {d["target"][:6]: (d["state"], d["tries"], d["error"][:5]) for d in warn["deliveries"]}
    # The -1 (system busy) met the first of this round's deliveries (earlier tests' orders are due
    # too); whichever it was, it is sent on the next carry-out.
    assert states["oUnitH"][0] == "sent" and wechat.outage == 0
    assert states["oNotFo"] == ("failed", 1, "43004")  # not following: no try can mend it
    (msg,) = [m for m in wechat.sent if m["touser"] == FOLLOWER and m["data"]["character_string1"]["value"] == str(oid)]
    assert msg["data"]["thing2"]["value"] == "签收期限将至" and msg["data"]["time3"]["value"] == "2026-03-10 11:00"
    assert wechat.tokens_issued == 1  # one token for all of it

    wechat.expire_tokens()  # two hours later for WeChat, still cached here: 42001, a new token, sent
    await sender.send(FOLLOWER, Message(oid, "escalate", "签收", "2026-03-10 11:00", "t", "b"))
    assert wechat.tokens_issued == 2 and wechat.sent[-1]["data"]["thing2"]["value"] == "签收已超期"


async def test_wechat_refusals_are_final_or_retried_as_the_real_api_means_them(wechat):
    msg = Message(1, "warn", "签收", "2026-03-10 11:00", "t", "b")
    with pytest.raises(SendError) as err:
        await WechatSender(wechat.url, wechat.appid, "wrong", "TPL_WO_ALERT").send(FOLLOWER, msg)
    assert err.value.code == "token 40125" and not err.value.retry
    with pytest.raises(SendError) as err:
        await WechatSender(wechat.url, wechat.appid, wechat.secret, "TPL_OTHER").send(FOLLOWER, msg)
    assert err.value.code == "40037" and not err.value.retry
    with pytest.raises(SendError) as err:
        await WechatSender(wechat.url, wechat.appid, wechat.secret, "TPL_WO_ALERT").send("short", msg)
    assert err.value.code == "40003"
    wechat.outage = 1
    with pytest.raises(SendError) as err:
        await WechatSender(wechat.url, wechat.appid, wechat.secret, "TPL_WO_ALERT").send(FOLLOWER, msg)
    assert err.value.code == "-1" and err.value.retry
    with pytest.raises(SendError) as err:
        await WechatSender("http://127.0.0.1:9", wechat.appid, wechat.secret, "TPL_WO_ALERT").send(FOLLOWER, msg)
    assert err.value.code == "NETWORK" and err.value.retry


async def test_two_engines_running_the_round_at_once_send_each_alert_once(env, notices):
    import asyncio
    from dataclasses import replace

    oid = await dispatched(env)
    other = replace(notices)  # a second engine's Notices on the same database
    env.clock.at = at("2026-03-10 10:40")
    cal = env.service.cal()
    await asyncio.gather(notices.round(cal, env.clock.at), other.round(cal, env.clock.at))
    async with env.service.sessions() as s:
        rows = (await s.execute(select(WoAlert.deadline, WoAlert.kind).where(WoAlert.order_id == oid))).all()
    assert [tuple(r) for r in rows] == [("sign", "warn")]
    assert len(await mine(env, "housing1", oid)) == 1
