"""PostgreSQL's term statistics (migration 0014: kb_terms, kb_search_totals) stay exact through
imports, edits, withdrawals and deletes; with them a rare single character decides the ranking on
both databases, as it does on SQLite."""

from collections import Counter

from sqlalchemy import text

from hotline.migrate import upgrade
from hotline.storage import make_engine
from knowledge.core.model import Actor
from knowledge.index import index_texts
from knowledge.services import KnowledgeService
from knowledge.settings import KnowledgeSettings
from tests.integration.knowledge.conftest import BASE, NOW, Clock, line

ADMIN = Actor("admin1", "admin")


async def _kept(svc: KnowledgeService) -> tuple[dict[str, int], tuple[int, int]]:
    async with svc.engine.connect() as conn:
        terms = dict((await conn.execute(text("SELECT term, doc FROM kb_terms"))).all())
        totals = (await conn.execute(text("SELECT rows, tokens FROM kb_search_totals"))).one()
    return terms, (int(totals[0]), int(totals[1]))


async def _expected(svc: KnowledgeService) -> tuple[dict[str, int], tuple[int, int]]:
    """Counted afresh from the entries themselves, segmented as the index does."""
    doc: Counter[str] = Counter()
    rows = tokens = 0
    async with svc.engine.connect() as conn:
        pks = set((await conn.execute(text("SELECT entry_pk FROM kb_search"))).scalars())
        ids = (await conn.execute(text("SELECT id FROM kb_entries WHERE pk = ANY(:p)"), {"p": list(pks)})).scalars()
        ids = list(ids)
    for entry_id in ids:
        q, t = index_texts(svc.seg, (await svc.get(entry_id)).content)
        doc.update(set(q.split()) | set(t.split()))
        rows += 1
        tokens += len(q.split()) + len(t.split())
    return dict(doc), (rows, tokens)


async def test_postgresql_term_counts_stay_exact_after_insert_edit_withdraw_and_delete(pg_url):
    await upgrade(pg_url)
    engine = make_engine(pg_url)
    svc = KnowledgeService(engine, KnowledgeSettings(), clock=Clock(NOW))
    await svc.start()
    try:
        assert await _kept(svc) == ({}, (0, 0))
        await svc.import_lines(BASE, ADMIN)  # one bulk insert per batch
        kept = await _kept(svc)
        assert kept == await _expected(svc) and kept[0]["医保"] >= 1 and kept[1][0] == len(BASE)
        await svc.create({"id": "new-1", **_fields("养犬登记需要哪些材料", "狂犬疫苗证明")}, ADMIN)
        assert (await _kept(svc))[0]["狂犬"] == 1
        # An edit replaces the entry's terms: the old ones lose the entry, the new ones gain it.
        await svc.edit("new-1", {"question": "养猫登记需要哪些材料", "answer": "免疫证明"}, ADMIN, None)
        kept = await _kept(svc)
        assert kept == await _expected(svc) and "狂犬" not in kept[0] and kept[0]["猫"] == 1
        # A re-import with a changed answer (an upsert of the index row).
        await svc.import_lines([line("gjj-1", "住房公积金提取需要哪些材料", "身份证和购房合同", unit="gjj")], ADMIN)
        assert await _kept(svc) == await _expected(svc)
        # Withdrawing keeps the index row (as FTS5 does): the statistics do not move.
        before = await _kept(svc)
        await svc.act("new-1", "withdraw", {"reason": "重复"}, ADMIN, None)
        assert await _kept(svc) == before
        # Deleting entries (the index rows go by cascade) takes their terms away.
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM kb_entries WHERE id IN ('new-1', 'med-1')"))
        kept = await _kept(svc)
        assert kept == await _expected(svc) and "猫" not in kept[0] and kept[1][0] == len(BASE) - 1
    finally:
        await svc.close()
        await engine.dispose()


def _fields(question: str, answer: str) -> dict[str, object]:
    return {"question": question, "answer": answer, "category": "农业农村/动物防疫", "scope": "city", "unit": "agri"}


async def test_a_rare_single_character_ranks_its_entry_first(service):
    """猫 is a word of one character: PostgreSQL used to drop it (a tie on 登记, the dog first by id);
    now it is kept when rare enough, as on SQLite, and decides."""
    lines = [
        line("a-dog", "宠物犬登记如何办理", "携带犬只免疫证明到派出所办理", category="公安/犬只"),
        line("b-cat", "宠物猫登记如何办理", "携带免疫证明到社区办理", category="农业农村/宠物"),
    ]
    await service.import_lines(BASE + lines, ADMIN)
    found = await service.search("我家的猫要去哪里登记")
    assert "猫" in found.terms
    assert [h.id for h in found.hits[:2]] == ["b-cat", "a-dog"]
    assert found.hits[0].score > found.hits[1].score
