"""提醒函 over HTTP on SQLite and PostgreSQL: numbers, HTML and PDF, delivery, acknowledgement,
the rules' cap and confirmation, overdue letters on the ledger."""

import asyncio
import dataclasses
import threading

from hotline import offload
from hotline.storage import make_engine, make_sessionmaker
from supervision.core.letter import parse_number
from supervision.core.model import Actor
from supervision.http import LETTERS
from supervision.letters import LetterService
from tests.integration.supervision.conftest import NOW, china
from tests.integration.supervision.pdftext import pdf_facts

BASE = "/api/supervision/letters"
HAND = {
    "unit": "water",
    "facts": "你单位承办的第7号工单（路灯不亮）已超期。",
    "request": "请立即办理。",
    "order_ids": [7],
}


async def write(api, user="sup1", **kw):
    status, letter = await api.call(user, "POST", BASE, json={**HAND, **kw})
    assert status == 201, letter
    return letter


async def test_letters_are_numbered_per_year_from_one_in_the_official_format(api):
    first, second = await write(api), await write(api, unit="power")
    assert (first["number"], second["number"]) == ("如皋12345提〔2026〕第1号", "如皋12345提〔2026〕第2号")
    assert (first["unit_name"], second["unit_name"]) == ("市水务局", "供电公司")
    api.clock.at = china(2027, 1, 4, 10, 0)
    # 2027 is not loaded: a letter's deadline there is refused with the year named, and no number used
    status, err = await api.call("sup1", "POST", BASE, json=HAND)
    assert status == 400 and "2027" in err["detail"]


async def test_a_letter_to_a_unit_outside_the_directory_or_by_a_unit_is_refused(api):
    assert (await api.call("sup1", "POST", BASE, json={**HAND, "unit": "nobody"}))[0] == 400
    assert (await api.call("water1", "POST", BASE, json=HAND))[0] == 403
    assert (await api.call("sup1", "POST", BASE, json={**HAND, "facts": ""}))[0] == 400


async def test_the_letter_as_html_and_as_a_one_page_pdf_in_the_cjk_font(api):
    letter = await write(api)
    status, page = await api.call("water1", "GET", letter["html"])
    assert status == 200 and "如皋12345提〔2026〕第1号" in page and "市水务局：" in page
    status, pdf = await api.call("water1", "GET", letter["pdf"])
    assert status == 200 and pdf[:5] == b"%PDF-"
    facts = pdf_facts(pdf)
    assert facts["pages"] == 1
    assert any("WenQuanYi-Micro-Hei" in f for f in facts["fonts"])
    text = facts["text"]
    # Deadline: 3 working days from Tuesday 10 March 10:00 is Friday 13 March.
    for part in (
        "提醒函",
        "如皋12345提〔2026〕第1号",
        "市水务局：",
        "第7号工单",
        "请于2026年3月13日前",
        "如皋市12345政务服务便民热线",
        "2026年3月10日",
    ):
        assert part in text, (part, text)
    assert (await api.call("power1", "GET", letter["pdf"]))[0] == 403
    # Several PDFs asked at once queue on the process's one PDF thread and all come out whole.
    others = [await write(api, facts=f"第{i}件事实。") for i in range(4)]
    pdfs = await asyncio.gather(*(api.call("sup1", "GET", x["pdf"]) for x in others))
    for x, (status, pdf) in zip(others, pdfs, strict=True):
        assert status == 200 and x["number"] in pdf_facts(pdf)["text"]


async def test_a_pdf_asked_while_the_pdf_lane_is_full_is_refused_at_once_with_a_503(api):
    letter = await write(api)
    gate = threading.Event()  # a report's PDF holds the one thread, others wait in every place
    held = [asyncio.create_task(offload.PDF.thread(gate.wait, 10)) for _ in range(1 + offload.PDF.waiting)]
    await asyncio.sleep(0)
    try:
        headers = {"Authorization": f"Bearer {api.tokens['water1']}"}
        resp = await asyncio.wait_for(api.client.get(letter["pdf"], headers=headers), 5)
        assert resp.status == 503 and resp.headers["Retry-After"] == str(offload.PDF_RETRY_AFTER_S)
        assert (await resp.json())["detail"] == "PDF 生成繁忙，请稍后再试"
    finally:
        gate.set()
        await asyncio.gather(*held)
    status, pdf = await api.call("water1", "GET", letter["pdf"])
    assert status == 200 and pdf[:5] == b"%PDF-"


async def test_a_unit_sees_its_own_letters_unread_first_and_acknowledges_only_its_own(api):
    a, b, c = await write(api), await write(api), await write(api)
    await write(api, unit="power")
    status, got = await api.call("water1", "GET", f"{BASE}/{a['id']}")  # opening it marks it read
    assert status == 200 and got["state"] == "read" and got["read_at"]
    status, mine = await api.call("water1", "GET", BASE)
    assert [x["id"] for x in mine["letters"]] == [c["id"], b["id"], a["id"]]
    assert {x["unit"] for x in mine["letters"]} == {"water"}
    status, err = await api.call("power1", "POST", f"{BASE}/{b['id']}/acknowledge")
    assert status == 403 and err["error"] == "forbidden"
    assert (await api.call("sup1", "POST", f"{BASE}/{b['id']}/acknowledge"))[0] == 403
    assert (await api.call("power1", "GET", f"{BASE}/{b['id']}"))[0] == 403
    status, acked = await api.call("water1", "POST", f"{BASE}/{b['id']}/acknowledge")
    assert status == 200 and acked["state"] == "acknowledged" and acked["acknowledged_by"] == "water1"
    assert (await api.call("water1", "POST", f"{BASE}/{b['id']}/acknowledge"))[0] == 409
    assert (await api.call("water1", "POST", f"{BASE}/{c['id']}/answer", json={"answer": "已修复"}))[0] == 409
    status, answered = await api.call("water1", "POST", f"{BASE}/{b['id']}/answer", json={"answer": "已修复"})
    assert status == 200 and answered["state"] == "answered" and answered["answer"] == "已修复"
    status, page = await api.call("water1", "GET", "/supervision/letters")
    assert status == 200 and page.index(c["number"]) < page.index(a["number"]) and "供电公司" not in page
    assert 'class="unread"' in page and "签收" in page
    assert (await api.call("sup1", "GET", f"{BASE}?state=lost"))[0] == 400


async def test_overdue_letters_are_flagged_until_answered_and_listed_on_the_ledger(api):
    late = await write(api)
    done = await write(api, working_days=1)
    await api.call("water1", "POST", f"{BASE}/{done['id']}/acknowledge")
    await api.call("water1", "POST", f"{BASE}/{done['id']}/answer", json={"answer": "已办结"})
    api.clock.at = china(2026, 3, 16, 10, 0)
    status, body = await api.call("sup1", "GET", f"{BASE}?overdue=true")
    assert [x["id"] for x in body["letters"]] == [late["id"]] and body["letters"][0]["overdue"]
    status, page = await api.call("sup1", "GET", "/supervision/")
    assert status == 200 and "超期未反馈的提醒函" in page and late["number"] in page and done["number"] not in page


async def test_a_rule_run_over_the_cap_writes_nothing_until_confirmed_then_each_matter_once(api):
    past = NOW.replace(hour=0)
    for i in range(1, 8):  # 7 overdue orders; the cap is 5 in these tests
        api.orders.add(i, reply_by=past)
    api.orders.add(8, returns=2)
    status, err = await api.call("sup1", "POST", f"{BASE}/run", json={"rules": ["overdue"]})
    assert status == 409 and (err["count"], err["cap"]) == (7, 5) and err["confirm"]
    status, body = await api.call("sup1", "GET", BASE)
    assert body["letters"] == []
    status, _ = await api.call("sup1", "POST", f"{BASE}/run", json={"rules": ["overdue"], "confirm": "0" * 32})
    assert status == 409
    status, made = await api.call("sup1", "POST", f"{BASE}/run", json={"rules": ["overdue"], "confirm": err["confirm"]})
    assert status == 201 and made["created"] == 7
    assert sorted(parse_number(x["number"])[2] for x in made["letters"]) == list(range(1, 8))
    assert all(x["rule"] == "overdue" for x in made["letters"])
    status, made = await api.call("sup1", "POST", f"{BASE}/run", json={"rules": ["overdue", "returned"]})
    assert status == 201 and made["created"] == 1 and made["letters"][0]["number"].endswith("第8号")
    status, made = await api.call("sup1", "POST", f"{BASE}/run", json={"rules": ["overdue", "returned"]})
    assert made["created"] == 0
    assert (await api.call("sup1", "POST", f"{BASE}/run", json={"rules": ["nope"]}))[0] == 400
    assert (await api.call("water1", "POST", f"{BASE}/run", json={"rules": ["overdue"]}))[0] == 403


async def test_a_rule_another_feature_passes_in_drafts_letters_by_its_own_keys(api):
    from supervision.api import Draft

    @dataclasses.dataclass(frozen=True)
    class Spike:
        name: str = "spike"

        def drafts(self, orders, now):
            return [
                Draft("spike:停水:2026-03-10", self.name, "water", "如城街道停水诉求激增（23件）。", "请排查原因。")
            ]

    letters = api.app[LETTERS]
    letters._rules.append(Spike())
    status, made = await api.call("sup1", "POST", f"{BASE}/run", json={"rules": ["spike"]})
    assert status == 201 and made["letters"][0]["facts"].startswith("如城街道")


async def test_numbers_stay_gap_free_and_unique_when_many_letters_are_written_at_once(api, db_url, caplog):
    # Three services on three engines, as three engine processes on one database would be; two of
    # them also run the same rule at once, so one loses each key and must give its number back.
    base = api.app[LETTERS]
    engines = [make_engine(db_url) for _ in range(3)]
    services = [
        LetterService(make_sessionmaker(e), base.settings, api.orders, "test-secret-key", api.clock) for e in engines
    ]
    for i in range(1, 5):
        api.orders.add(i, reply_by=NOW.replace(hour=0))
    sup = Actor("sup1", "supervisor")
    caplog.set_level("INFO", "supervision.letters")
    try:
        hand = [services[i % 3].create(sup, HAND) for i in range(30)]
        runs = [services[0].run_rules(sup, ["overdue"]), services[1].run_rules(sup, ["overdue"])]
        results = await asyncio.gather(*hand, *runs)
    finally:
        for e in engines:
            await e.dispose()
    by_rule = results[30] + results[31]
    assert "letter already written for overdue:" in caplog.text  # the losing run gave numbers back
    assert sorted(r.key for r in by_rule) == [f"overdue:{i}" for i in range(1, 5)]
    _, body = await api.call("sup1", "GET", BASE)
    seqs = sorted(parse_number(x["number"])[2] for x in body["letters"])
    assert seqs == list(range(1, 35))
