"""Event validation: the first bad field is named in Chinese; good events pass unchanged."""

from __future__ import annotations

import pytest

from agent_console import schemas


def test_good_events_validate() -> None:
    e = schemas.parse(schemas.Transfer, {"contact_id": " c1 ", "target": "number:110", "attended": True})
    assert isinstance(e, schemas.Transfer) and e.contact_id == "c1" and e.attended
    assert schemas.parse(schemas.Empty, None) == schemas.Empty()
    assert schemas.parse(schemas.Login, {}) == schemas.Login(phone="webrtc", ready=False)


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (schemas.OnContact, {}, "字段 contact_id：缺少此字段"),
        (schemas.OnContact, {"contact_id": "x" * 65}, "字段 contact_id：过长"),
        (schemas.Mute, {"contact_id": "c", "on": 1}, "字段 on：须为 true 或 false"),
        (schemas.Dtmf, {"contact_id": "c", "digits": ""}, "字段 digits：格式不正确"),
        (schemas.Transfer, {"contact_id": "c", "target": "number:12;3"}, "字段 target：格式不正确"),
        (schemas.ThreeParty, {"contact_id": "c", "number": "abc"}, "字段 number：格式不正确"),
        (schemas.MoveSeat, {"seat_id": "1", "groups": "A"}, "字段 groups：须为列表"),
        (schemas.MoveSeat, {"seat_id": "1", "groups": [], "skills": {"a": "5"}}, "字段 skills.a：须为整数"),
        (schemas.Watch, {"queues": ["q"] * 51}, "字段 queues：条目过多"),
        (schemas.Empty, "text", "请求数据须为 JSON 对象"),
        (schemas.Empty, {"x": 1}, "字段 x：不允许的字段"),
    ],
)
def test_bad_events_name_the_field(model: type[schemas.In], data: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        schemas.parse(model, data)
    assert str(info.value) == message
