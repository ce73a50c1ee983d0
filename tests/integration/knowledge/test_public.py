"""The self-service page's routes on SQLite and PostgreSQL: the page under its CSP, the district
list and the answers of published, valid entries only, each limited per address."""

from tests.integration.knowledge.conftest import BASE


async def test_the_page_is_served_without_login_under_a_csp_with_no_inline_script(api):
    resp = await api.client.get("/kb/")
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = await resp.text()
    assert '<script src="/kb/static/kb.js"></script>' in html and "<script>" not in html
    assert 'href="/chat/"' in html and "拨打 12345" in html
    assert (await api.client.get("/kb/static/kb.js")).status == 200


async def test_scopes_and_entries_show_only_published_valid_entries(api):
    await api.call("admin1", "POST", "/api/kb/import", json={"jsonl": "\n".join(BASE)})
    status, body = await api.call(None, "GET", "/api/kb/public/scopes")
    assert status == 200 and body["scopes"] == ["city", "海安区"]
    status, body = await api.call(None, "GET", "/api/kb/public/entries", params={"ids": "old-1,drv-haian,nope"})
    assert status == 200
    assert [(i["id"], i["scope"], i["category"]) for i in body["items"]] == [("drv-haian", "海安区", "社会保障")]
    assert body["items"][0]["answer"] == "到海安车管所换证"


async def test_a_ten_thousand_character_question_is_cut_not_refused(api):
    await api.call("admin1", "POST", "/api/kb/import", json={"jsonl": "\n".join(BASE)})
    status, body = await api.call(None, "POST", "/api/kb/public/search", json={"q": "公积金提取" * 2000})
    assert status == 200 and body["cut"] is True and len(body["query"]) == 200
    assert body["results"][0]["id"] == "gjj-1"


async def test_the_pages_routes_answer_429_beyond_their_rate_per_address(api):
    # public_searches_per_minute is 3 in the fixture: the page's routes allow twice that.
    codes = [(await api.client.get("/api/kb/public/scopes")).status for _ in range(6)]
    assert codes == [200] * 6
    resp = await api.client.get("/api/kb/public/entries", params={"ids": "gjj-1"})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["detail"] == "查询过于频繁，请稍后再试"
