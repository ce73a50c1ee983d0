"""The /api/kb routes on SQLite and PostgreSQL: roles, units, sanitising, import and export."""

import json

from tests.integration.knowledge.conftest import BASE

NEW = {"question": "医保卡丢了怎么补办", "answer": "<p>到窗口</p>", "category": "社会保障/医疗保险"}


async def test_a_unit_creates_for_itself_and_gets_403_on_another_units_entry(api):
    status, entry = await api.call("hr1", "POST", "/api/kb/entries", json=NEW)
    assert status == 201 and entry["unit"] == "hrss" and entry["state"] == "draft"
    status, body = await api.call("water1", "PUT", f"/api/kb/entries/{entry['id']}", json={"answer": "改"})
    assert status == 403, body
    status, _ = await api.call("water1", "POST", f"/api/kb/entries/{entry['id']}/actions/submit")
    assert status == 403
    status, _ = await api.call("water1", "POST", "/api/kb/entries", json={**NEW, "unit": "hrss"})
    assert status == 403
    status, same = await api.call("hr1", "GET", f"/api/kb/entries/{entry['id']}")
    assert same["answer"] == "<p>到窗口</p>" and same["version"] == 1


async def test_script_in_an_answer_is_stripped_before_it_is_stored(api):
    dirty = {**NEW, "answer": '<p onmouseover="x()">补办<script>alert(1)</script><a href="javascript:x()">链接</a></p>'}
    status, entry = await api.call("hr1", "POST", "/api/kb/entries", json=dirty)
    assert status == 201
    assert entry["answer"] == "<p>补办<a>链接</a></p>"


async def test_validity_ending_before_it_starts_is_refused_with_the_field(api):
    body = {**NEW, "valid_from": "2026-06-01", "valid_to": "2026-05-31"}
    status, err = await api.call("hr1", "POST", "/api/kb/entries", json=body)
    assert status == 422 and err["field"] == "valid_to"


async def test_the_whole_lifecycle_over_http_with_versions_recorded(api):
    _, e = await api.call("hr1", "POST", "/api/kb/entries", json=NEW)
    path = f"/api/kb/entries/{e['id']}"
    status, e = await api.call("hr1", "PUT", path, json={"answer": "<p>线上补办</p>", "version": 1})
    assert status == 200 and e["version"] == 2
    status, _ = await api.call("hr1", "PUT", path, json={"answer": "旧版本上改", "version": 1})
    assert status == 409
    assert (await api.call("sup1", "POST", f"{path}/actions/publish"))[0] == 409  # not reviewed yet
    assert (await api.call("hr1", "POST", f"{path}/actions/submit"))[0] == 200
    assert (await api.call("hr1", "POST", f"{path}/actions/review"))[0] == 403  # a unit never reviews
    for user, action in (("sup1", "review"), ("sup1", "publish")):
        status, e = await api.call(user, "POST", f"{path}/actions/{action}")
        assert status == 200, (action, e)
    assert e["state"] == "published"
    assert (await api.call("sup1", "POST", f"{path}/actions/publish"))[0] == 409
    _, detail = await api.call("seat1", "GET", path)
    assert [h["action"] for h in detail["history"]] == ["create", "edit", "submit", "review", "publish"]
    assert detail["history"][1]["actor"] == "hr1" and "answer" in detail["history"][1]["fields"]
    status, res = await api.call("seat1", "GET", "/api/kb/search", params={"q": "医保卡掉了"})
    assert status == 200 and res["results"][0]["id"] == e["id"]


async def test_import_over_http_names_refused_lines_and_is_idempotent(api):
    text = "\n".join([*BASE[:3], "{oops", BASE[3]])
    status, report = await api.call("admin1", "POST", "/api/kb/import", json={"jsonl": text})
    assert status == 422
    assert report["created"] == 4 and [r["line"] for r in report["refused"]] == [4]
    status, report = await api.call("admin1", "POST", "/api/kb/import", json={"jsonl": "\n".join(BASE[:4])})
    assert status == 200 and (report["created"], report["updated"], report["unchanged"]) == (0, 0, 4)
    assert (await api.call("hr1", "POST", "/api/kb/import", json={"jsonl": BASE[0]}))[0] == 403
    status, body = await api.call("admin1", "GET", "/api/kb/export")
    assert status == 200
    ids = [json.loads(x)["id"] for x in body.splitlines()]
    assert ids == sorted(json.loads(x)["id"] for x in BASE[:4])


async def test_searching_needs_a_login_except_the_rate_limited_public_search(api):
    await api.service.import_lines(BASE, _admin())
    assert (await api.call(None, "GET", "/api/kb/search", params={"q": "公积金"}))[0] == 401
    for _ in range(3):
        status, res = await api.call(None, "GET", "/api/kb/public/search", params={"q": "缴费基数"})
        assert status == 200 and "old-1" not in [r["id"] for r in res["results"]]
    assert (await api.call(None, "GET", "/api/kb/public/search", params={"q": "公积金"}))[0] == 429
    # Too long for a URL: the same search takes a JSON body.
    status, res = await api.call("seat1", "POST", "/api/kb/search", json={"q": "公积金" * 5000})
    assert status == 200 and res["cut"] is True and len(res["query"]) == 200


def _admin():
    from knowledge.core.model import Actor

    return Actor("admin1", "admin")
