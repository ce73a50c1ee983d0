"""Import, export and search on SQLite and PostgreSQL (the db_url fixture runs each test on both)."""

import datetime as dt
import json

from knowledge.core.model import Actor, State
from tests.integration.knowledge.conftest import BASE, line

ADMIN = Actor("admin1", "admin")


async def test_importing_twice_changes_nothing_and_a_changed_line_makes_a_new_version(service):
    first = await service.import_lines(BASE, ADMIN)
    assert (first.created, first.updated, first.unchanged, first.refused) == (len(BASE), 0, 0, [])
    again = await service.import_lines(BASE, ADMIN)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(BASE))
    assert await service.count() == len(BASE)
    before = await service.get("gjj-1")
    changed = await service.import_lines(
        [line("gjj-1", "住房公积金提取需要哪些材料", "身份证、银行卡、合同", category="住房/公积金", unit="gjj")], ADMIN
    )
    assert (changed.created, changed.updated) == (0, 1)
    after = await service.get("gjj-1")
    assert after.version == before.version + 1 and after.content.answer == "身份证、银行卡、合同"
    history = await service.history("gjj-1")
    assert [h["action"] for h in history] == ["import", "import"]
    assert history[-1]["fields"] == {"answer": ["身份证和银行卡", "身份证、银行卡、合同"]}
    # The new answer is what the index holds now.
    hits = (await service.search("合同")).hits
    assert [h.id for h in hits] == ["gjj-1"]


async def test_bad_lines_are_refused_with_their_numbers_and_the_good_ones_imported(service):
    lines = [BASE[0], "{broken", line("v-1", "有效期颠倒", valid_from="2026-05-01", valid_to="2026-04-01"), BASE[1]]
    report = await service.import_lines(lines, ADMIN)
    assert report.created == 2
    assert [(r.number, "valid_to" in r.reason or "JSON" in r.reason) for r in report.refused] == [(2, True), (3, True)]
    assert await service.count() == 2


async def test_export_then_import_into_another_base_round_trips(service, tmp_path):
    await service.import_lines(BASE, ADMIN)
    exported = [ln async for ln in service.export_lines()]
    assert len(exported) == len(BASE)
    assert [json.loads(ln)["id"] for ln in exported] == sorted(json.loads(ln)["id"] for ln in BASE)
    again = await service.import_lines(exported, ADMIN)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(BASE))


async def test_a_colloquial_word_finds_the_entry_written_with_the_formal_one(service):
    await service.import_lines(BASE, ADMIN)
    for query, expected in (
        ("医保异地看病备案", "med-1"),
        ("公积金怎么取", "gjj-1"),
        ("驾照到期换证", "drv-city"),
        ("小孩上户口", "hukou-1"),
        ("社保转移", "ss-1"),
    ):
        ids = [h.id for h in (await service.search(query)).hits[:3]]
        assert expected in ids or (expected == "drv-city" and "drv-haian" in ids), (query, ids)


async def test_the_callers_district_ranks_its_entry_first_without_hiding_the_city_one(service):
    await service.import_lines(BASE, ADMIN)
    haian = [h.id for h in (await service.search("驾照到期换证", scope="海安区")).hits]
    assert haian[0] == "drv-haian" and "drv-city" in haian
    elsewhere = [h.id for h in (await service.search("驾照到期换证", scope="如城街道")).hits]
    assert {"drv-haian", "drv-city"} <= set(elsewhere)


async def test_expired_entries_reach_seats_marked_and_never_citizens(service):
    await service.import_lines(BASE, ADMIN)
    seat = {h.id: h.expired for h in (await service.search("社会保险缴费基数")).hits}
    assert seat.get("old-1") is True
    public = [h.id for h in (await service.search("社会保险缴费基数", audience="public")).hits]
    assert "old-1" not in public
    # The daily watch marks it expired in the store too.
    assert await service.expire_due() == 1
    assert (await service.get("old-1")).state is State.EXPIRED


async def test_a_ten_thousand_character_query_is_cut_and_answered(service):
    await service.import_lines(BASE, ADMIN)
    res = await service.search("公积金提取" + "啊" * 10_000)
    assert res.cut and len(res.query) == 200
    assert res.hits and res.hits[0].id == "gjj-1"


async def test_a_query_of_only_punctuation_or_fts_syntax_is_no_error(service):
    await service.import_lines(BASE, ADMIN)
    for q in ('"', "OR AND NOT", "*", "'; DROP TABLE kb_entries; --", "医保 NEAR(", ""):
        res = await service.search(q)
        assert isinstance(res.hits, list)
    assert await service.count() == len(BASE)


async def test_a_submission_less_than_a_working_day_ahead_is_flagged_late(service):
    unit = Actor("hr1", "unit", "hrss")
    # NOW is Tuesday 2026-03-10 10:00; a policy from Wednesday 03-11 needed it by Tuesday 08:30.
    entry = await service.create(
        {
            "question": "新政策",
            "answer": "内容",
            "category": "社会保障",
            "unit": "hrss",
            "effective_date": "2026-03-11",
        },
        unit,
    )
    submitted = await service.act(entry.id, "submit", {}, unit, entry.version)
    assert submitted.state is State.SUBMITTED and submitted.late
    assert submitted.submit_by == dt.datetime(2026, 3, 10, 0, 30, tzinfo=dt.UTC)
    assert (await service.late_counts()) == {"hrss": {"with_effective_date": 1, "late": 1}}


async def test_an_import_is_logged_at_info_with_its_figures(service, caplog):
    """The engine logs at INFO: a field named like the log record's own ("created") broke every
    import over HTTP with a 500 (found by the OpenAPI fuzzer)."""
    import logging

    with caplog.at_level(logging.INFO, logger="knowledge.services"):
        report = await service.import_lines(BASE, ADMIN)
    (record,) = [r for r in caplog.records if r.getMessage() == "knowledge import"]
    assert record.entries_created == report.created == len(BASE) and record.entries_refused == 0
