"""Events with missing or wrong fields get an error ack naming the field; the server carries on."""

from __future__ import annotations

import pytest

from tests.integration.agent_console.harness import Client, Engine


@pytest.fixture
async def seat(engine: Engine) -> Client:
    return await engine.client("/agent", await engine.account("1001"))


@pytest.mark.parametrize(
    ("event", "data", "error"),
    [
        ("not_ready", {}, "字段 reason：缺少此字段"),
        ("not_ready", {"reason": ""}, "字段 reason：不能为空"),
        ("accept", {"contact_id": 7}, "字段 contact_id：须为文本"),
        ("accept", {"contact_id": "c1", "extra": 1}, "字段 extra：不允许的字段"),
        ("login", {"phone": "pigeon"}, "字段 phone：取值不在允许范围内"),
        ("login", {"ready": "yes"}, "字段 ready：须为 true 或 false"),
        ("mute", {"contact_id": "c1"}, "字段 on：缺少此字段"),
        ("dtmf", {"contact_id": "c1", "digits": "12;rm"}, "字段 digits：格式不正确"),
        ("transfer", {"contact_id": "c1", "target": "PJSIP/evil"}, "字段 target：格式不正确"),
        ("emergency", {"contact_id": "c1", "service": "army"}, "字段 service：取值不在允许范围内"),
        ("wrapup", {"contact_id": "c1"}, "字段 disposition：缺少此字段"),
        ("ready", ["not", "an", "object"], "请求数据须为 JSON 对象"),
        ("teleport", {}, "未知事件：teleport"),
    ],
)
async def test_bad_event_gets_an_error_ack_naming_the_field(seat: Client, event: str, data: object, error: str) -> None:
    ack = await seat.call(event, data)
    assert ack == {"ok": False, "error": error}
    # ...and the socket still works.
    assert (await seat.call("state"))["ok"]


async def test_an_event_with_two_arguments_is_refused(seat: Client) -> None:
    ack = await seat.sio.call("ready", ({}, {}), namespace="/agent", timeout=5)
    assert ack == {"ok": False, "error": "每个事件只接受一个 JSON 对象"}


async def test_actions_before_login_are_refused(seat: Client) -> None:
    assert (await seat.call("ready")) == {"ok": False, "error": "尚未签入，请先签入"}
    assert (await seat.call("not_ready", {"reason": "小休"})) == {"ok": False, "error": "尚未签入，请先签入"}
    assert (await seat.call("logout")) == {"ok": False, "error": "尚未签入，请先签入"}


async def test_second_login_is_refused(seat: Client) -> None:
    assert (await seat.call("login"))["ok"]
    assert (await seat.call("login")) == {"ok": False, "error": "已签入；如需重新签入请先签出"}


async def test_supervisor_bad_events_get_error_acks(engine: Engine) -> None:
    sup = await engine.client("/supervisor", await engine.account("boss", "supervisor"))
    assert await sup.call("force_not_ready", {}) == {"ok": False, "error": "字段 seat_id：缺少此字段"}
    assert await sup.call("move_seat", {"seat_id": "1001"}) == {"ok": False, "error": "字段 groups：缺少此字段"}
    assert await sup.call("snoop", {"seat_id": "1001", "mode": "record"}) == {
        "ok": False,
        "error": "字段 mode：取值不在允许范围内",
    }
    assert await sup.call("force_logout", {"seat_id": "../x"}) == {"ok": False, "error": "字段 seat_id：格式不正确"}
    assert await sup.call("force_logout", {"seat_id": "nobody"}) == {"ok": False, "error": "座席 nobody 未签入"}


async def test_an_account_name_that_cannot_be_a_phone_endpoint_logs_in_only_with_an_external_number(
    engine: Engine,
) -> None:
    seat = await engine.client("/agent", await engine.account("zhang.san"))
    refused = await seat.call("login", {"phone": "webrtc"})
    assert refused == {"ok": False, "error": "账号名不能用作话机号：只能含字母、数字、_ 和 -（最多 32 位）"}
    assert (await seat.call("login", {"phone": "external"}))["ok"]
