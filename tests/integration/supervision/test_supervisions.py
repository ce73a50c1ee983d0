"""督办 over HTTP on SQLite and PostgreSQL: opening, follow-ups, closing, 403 and 409, the ledger
and the closure measure."""

import datetime as dt

from tests.integration.supervision.conftest import china

BASE = "/api/supervision/supervisions"


async def open_one(api, order_ids=(7,), days=3, level="key", **kw):
    for i in order_ids:
        if i not in api.orders.orders:
            api.orders.add(i)
    body = {
        "order_ids": list(order_ids),
        "level": level,
        "working_days": days,
        "instructions": "三日内办结并反馈",
        **kw,
    }
    status, sup = await api.call("sup1", "POST", BASE, json=body)
    assert status == 201, sup
    return sup


async def test_a_supervisor_opens_one_on_an_order_with_a_deadline_in_working_days(api):
    sup = await open_one(api)
    # Tuesday 10:00 + 3 working days = Friday 10:00 (China time)
    assert dt.datetime.fromisoformat(sup["deadline"]) == china(2026, 3, 13, 10, 0)
    assert (sup["unit"], sup["level_label"], sup["state"]) == ("water", "重点", "open")
    assert sup["allowed_actions"] == ["follow_up", "close", "cancel"]
    status, got = await api.call("sup1", "GET", f"{BASE}/{sup['id']}")
    assert status == 200 and [f["action"] for f in got["follow_ups"]] == ["open"]


async def test_a_matter_groups_several_orders_and_needs_a_title(api):
    api.orders.add(1)
    api.orders.add(2)
    body = {"order_ids": [1, 2], "level": "joint", "working_days": 5, "instructions": "合并督办"}
    status, err = await api.call("sup1", "POST", BASE, json=body)
    assert status == 400 and "matter" in err["detail"]
    sup = await open_one(api, (1, 2), level="joint", matter="某小区停水")
    assert sup["matter"] == "某小区停水" and sup["order_ids"] == [1, 2] and sup["level_label"] == "双督办"


async def test_bad_openings_are_refused_with_the_reason(api):
    status, err = await api.call(
        "sup1", "POST", BASE, json={"order_ids": [99], "level": "key", "working_days": 3, "instructions": "x"}
    )
    assert status == 400 and "99" in err["detail"]
    api.orders.add(5, unit=None)
    status, err = await api.call(
        "sup1", "POST", BASE, json={"order_ids": [5], "level": "key", "working_days": 3, "instructions": "x"}
    )
    assert status == 400 and "unit" in err["detail"]
    api.orders.add(6)
    status, err = await api.call(
        "sup1",
        "POST",
        BASE,
        json={"order_ids": [6], "level": "key", "working_days": 3, "instructions": "x", "unit": "nobody"},
    )
    assert status == 400 and "nobody" in err["detail"]
    status, err = await api.call(
        "sup1", "POST", BASE, json={"order_ids": [6], "level": "urgent", "working_days": 3, "instructions": "x"}
    )
    assert status == 400 and "level" in err["detail"]
    api.clock.at = china(2026, 12, 30, 10, 0)  # 5 working days run into 2027, which is not loaded
    status, err = await api.call(
        "sup1", "POST", BASE, json={"order_ids": [6], "level": "key", "working_days": 5, "instructions": "x"}
    )
    assert status == 400 and "2027" in err["detail"]


async def test_only_supervisors_open_and_close(api):
    api.orders.add(7)
    body = {"order_ids": [7], "level": "key", "working_days": 3, "instructions": "x"}
    for user in ("seat1", "water1"):
        assert (await api.call(user, "POST", BASE, json=body))[0] == 403
    sup = await open_one(api)
    status, err = await api.call("water1", "POST", f"{BASE}/{sup['id']}/close", json={"result": "resolved"})
    assert status == 403 and err["error"] == "forbidden"


async def test_another_unit_may_neither_see_nor_answer_a_supervision(api):
    sup = await open_one(api)
    assert (await api.call("power1", "GET", f"{BASE}/{sup['id']}"))[0] == 403
    assert (await api.call("power1", "POST", f"{BASE}/{sup['id']}/follow_up", json={"text": "x"}))[0] == 403
    assert (await api.call("seat1", "GET", BASE))[0] == 403
    status, mine = await api.call("power1", "GET", BASE)
    assert status == 200 and mine["supervisions"] == []
    status, mine = await api.call("power1", "GET", f"{BASE}?unit=water")  # asking for another's: still its own
    assert mine["supervisions"] == []


async def test_the_unit_follows_up_and_the_supervisor_closes_then_nothing_more(api):
    sup = await open_one(api)
    path = f"{BASE}/{sup['id']}"
    status, after = await api.call("water1", "POST", f"{path}/follow_up", json={"text": "已派人维修"})
    assert status == 200 and after["allowed_actions"] == ["follow_up"]
    status, err = await api.call("sup1", "POST", f"{path}/close", json={"result": "unresolved"})
    assert status == 400 and "reason" in err["detail"]
    status, closed = await api.call("sup1", "POST", f"{path}/close", json={"result": "resolved"})
    assert status == 200 and closed["state"] == "closed" and closed["result_label"] == "办结"
    for user, action, body in [
        ("sup1", "close", {"result": "resolved"}),
        ("water1", "follow_up", {"text": "x"}),
        ("sup1", "cancel", {"reason": "x"}),
    ]:
        status, err = await api.call(user, "POST", f"{path}/{action}", json=body)
        assert status == 409 and err["error"] == "conflict", (action, err)
    status, got = await api.call("water1", "GET", path)
    assert [f["action"] for f in got["follow_ups"]] == ["open", "follow_up", "close"]


async def test_a_stale_version_is_a_conflict(api):
    sup = await open_one(api)
    status, _ = await api.call("water1", "POST", f"{BASE}/{sup['id']}/follow_up", json={"text": "a", "version": 1})
    assert status == 200
    status, err = await api.call("sup1", "POST", f"{BASE}/{sup['id']}/close", json={"result": "resolved", "version": 1})
    assert status == 409 and "版本" in err["detail"]
    status, err = await api.call(
        "sup1", "POST", f"{BASE}/{sup['id']}/close", json={"result": "resolved", "version": "2"}
    )
    assert status == 400 and "version" in err["detail"]


async def test_the_ledger_lists_open_ones_by_deadline_with_days_left_overdue_and_the_last_follow_up(api):
    late = await open_one(api, (1,), days=1)
    soon = await open_one(api, (2,), days=5, level="general")
    other = await open_one(api, (3,), days=3)
    api.orders.add(4, unit="power")
    await open_one(api, (4,), days=2)
    await api.call("water1", "POST", f"{BASE}/{soon['id']}/follow_up", json={"text": "第一次跟进"})
    await api.call("water1", "POST", f"{BASE}/{soon['id']}/follow_up", json={"text": "第二次跟进"})
    api.clock.at = china(2026, 3, 12, 10, 0)  # Thursday: the first is one working day late
    status, body = await api.call("sup1", "GET", BASE)
    rows = body["supervisions"]
    assert status == 200 and [r["order_ids"][0] for r in rows] == [1, 4, 3, 2]
    assert (rows[0]["overdue"], rows[0]["days_left"]) == (True, -1.0)
    assert (rows[2]["overdue"], rows[2]["days_left"]) == (False, 1.0)
    assert rows[3]["last_follow_up"]["text"] == "第二次跟进" and rows[0]["last_follow_up"] is None
    assert rows[0]["orders"] == [{"id": 1, "title": "路灯不亮1"}]
    status, body = await api.call("sup1", "GET", f"{BASE}?overdue=true")
    assert [r["id"] for r in body["supervisions"]] == [late["id"]]
    status, body = await api.call("sup1", "GET", f"{BASE}?level=general")
    assert [r["id"] for r in body["supervisions"]] == [soon["id"]]
    status, body = await api.call("water1", "GET", BASE)
    assert {r["unit"] for r in body["supervisions"]} == {"water"} and len(body["supervisions"]) == 3
    await api.call("sup1", "POST", f"{BASE}/{other['id']}/close", json={"result": "resolved"})
    status, body = await api.call("sup1", "GET", f"{BASE}?state=closed&from=2026-03-12&to=2026-03-12")
    assert [r["id"] for r in body["supervisions"]] == [other["id"]]
    status, body = await api.call("sup1", "GET", f"{BASE}?state=closed&from=2026-03-01&to=2026-03-11")
    assert body["supervisions"] == []
    assert (await api.call("sup1", "GET", f"{BASE}?state=nope"))[0] == 400


async def test_the_closure_measure_for_a_period_states_its_options(api):
    on_time = await open_one(api, (1,), days=1)  # due Wed 11 March 10:00
    late = await open_one(api, (2,), days=1)
    await open_one(api, (3,), days=1)  # never closed
    unresolved = await open_one(api, (4,), days=1)
    cancelled = await open_one(api, (5,), days=1)
    await api.call("sup1", "POST", f"{BASE}/{on_time['id']}/close", json={"result": "resolved"})
    await api.call(
        "sup1", "POST", f"{BASE}/{unresolved['id']}/close", json={"result": "unresolved", "reason": "需协调"}
    )
    await api.call("sup1", "POST", f"{BASE}/{cancelled['id']}/cancel", json={"reason": "误发"})
    api.clock.at = china(2026, 3, 12, 10, 0)
    await api.call("sup1", "POST", f"{BASE}/{late['id']}/close", json={"result": "resolved"})
    status, rate = await api.call("sup1", "GET", "/api/supervision/closure?from=2026-03-01&to=2026-03-31")
    assert status == 200 and (rate["numerator"], rate["denominator"], rate["percent"]) == (2, 4, 50.0)
    assert rate["options"] == {"resolved_only": False, "unit": None} and len(rate["late_ids"]) == 2
    status, rate = await api.call(
        "sup1", "GET", "/api/supervision/closure?from=2026-03-01&to=2026-03-31&resolved_only=true"
    )
    assert (rate["numerator"], rate["denominator"]) == (1, 4)
    status, rate = await api.call("sup1", "GET", "/api/supervision/closure?from=2026-04-01&to=2026-04-30")
    assert (rate["denominator"], rate["percent"]) == (0, None)
    assert (await api.call("water1", "GET", "/api/supervision/closure?from=2026-03-01&to=2026-03-31"))[0] == 403
    assert (await api.call("sup1", "GET", "/api/supervision/closure?from=x&to=y"))[0] == 400


async def test_the_ledger_page_shows_overdue_in_red_and_the_measure_with_its_options(api):
    await open_one(api, (1,), days=1)
    api.orders.add(2, title="<b>井盖缺失</b>")
    await open_one(api, (2,), days=5)
    api.clock.at = china(2026, 3, 12, 10, 0)
    status, page = await api.call("sup1", "GET", "/supervision/")
    assert status == 200 and "督办台账" in page and '<span class="late">超期 1 个工作日' in page
    assert "&lt;b&gt;井盖缺失&lt;/b&gt;" in page and "<b>井盖缺失</b>" not in page
    assert "督办按期办结率" in page and "resolved_only = False" in page
    status, page = await api.call("water1", "GET", "/supervision/")
    assert status == 200 and "督办按期办结率" not in page and "跟进" in page
    assert (await api.call("seat1", "GET", "/supervision/"))[0] == 403
    resp = await api.client.get("/supervision/", allow_redirects=False)
    assert resp.status == 302


async def test_an_order_has_one_open_supervision_at_a_time(api):
    first = await open_one(api, (7,))
    api.orders.add(8)
    body = {"order_ids": [8, 7], "matter": "同一事项", "level": "joint", "working_days": 2, "instructions": "提级"}
    status, err = await api.call("sup1", "POST", BASE, json=body)
    assert status == 409 and "工单 7" in err["detail"] and str(first["id"]) in err["detail"]
    await api.call("sup1", "POST", f"{BASE}/{first['id']}/cancel", json={"reason": "提级为双督办"})
    status, raised = await api.call("sup1", "POST", BASE, json=body)
    assert status == 201 and raised["level"] == "joint"


async def test_a_unit_code_that_is_not_one_is_refused_before_the_database_sees_it(api):
    api.orders.names.clear()  # no directory loaded: only the code's form is checked
    api.orders.add(9, unit=None)
    body = {"order_ids": [9], "level": "key", "working_days": 3, "instructions": "x", "unit": "x" * 40}
    status, err = await api.call("sup1", "POST", BASE, json=body)
    assert status == 400 and "unit" in err["detail"]
    status, _ = await api.call(
        "sup1", "POST", "/api/supervision/letters", json={"unit": "水务局", "facts": "a", "request": "b"}
    )
    assert status == 400


async def test_ids_beyond_an_integer_column_are_not_found_not_a_database_error(api):
    huge = 2**70
    assert (await api.call("sup1", "GET", f"{BASE}/{huge}"))[0] == 404
    assert (await api.call("sup1", "GET", f"/api/supervision/letters/{huge}/pdf"))[0] == 404
    assert (await api.call("sup1", "GET", f"{BASE}/0"))[0] == 404
    body = {"order_ids": [huge], "level": "key", "working_days": 3, "instructions": "x"}
    status, err = await api.call("sup1", "POST", BASE, json=body)
    assert status == 400 and "order_ids" in err["detail"]
