"""knowledge/core/bm25.py: FTS5's BM25 in Python (PostgreSQL's ranking), checked by hand and
against SQLite's own ``bm25()`` on the same rows."""

import math
import sqlite3

import pytest

from knowledge.core.bm25 import MIN_IDF, IndexStats, idf, presence_scores, score, top


def test_idf_is_fts5s_and_never_below_a_millionth():
    assert idf(1, 10) == pytest.approx(math.log(9.5 / 1.5))  # 1.845827
    assert idf(1, 10) == pytest.approx(1.845827, abs=1e-6)
    assert idf(6, 10) == MIN_IDF  # ln(4.5 / 6.5) < 0: in most rows, as good as nothing
    assert idf(0, 0) == MIN_IDF


def test_a_row_of_average_length_by_hand():
    stats = IndexStats(rows=10, tokens=50)  # avgdl 5
    q, t = ["医保", "备案"], ["医保", "材料", "身份证"]  # D = 5: the length factor is 1
    # 医保: f = 4 × 1 + 1 = 5; 5 × 2.2 / (5 + 1.2) = 1.774194; × idf 1.845827 = 3.274854
    # 材料: f = 1, saturates to 1.0, × idf 1e-6 (6 rows of 10)
    got = score(["医保", "材料", "社保"], q, t, {"医保": 1, "材料": 6}, stats, 4.0)
    assert got == pytest.approx(3.274854 + 1e-6, abs=1e-6)


def test_a_long_row_scores_lower_and_repeats_saturate():
    stats = IndexStats(rows=10, tokens=50)
    # D = 10: 1 - 0.75 + 0.75 × 10 / 5 = 1.75; 医保 once in the body: f = 1
    # 2.2 / (1 + 1.2 × 1.75) = 0.709677; × 1.845827 = 1.309942
    long = score(["医保"], [], ["医保"] + ["x"] * 9, {"医保": 1}, stats, 4.0)
    assert long == pytest.approx(1.309942, abs=1e-6)
    short = score(["医保"], [], ["医保", "x", "x", "x", "x"], {"医保": 1}, stats, 4.0)
    assert short == pytest.approx(1.845827, abs=1e-6)  # f = 1 at the average length: idf × 1
    twice = score(["医保", "医保"], [], ["医保", "医保", "x", "x", "x"], {"医保": 1}, stats, 4.0)
    # a term asked twice counts once; f = 2: 4.4 / 3.2 = 1.375, × 1.845827 = 2.538012
    assert twice == pytest.approx(2.538012, abs=1e-6)


def test_presence_scores_by_hand():
    only_q, only_t, both = presence_scores(2.0, 4.0)
    assert only_q == pytest.approx(2 * 4 * 2.2 / 5.2)  # 3.384615
    assert only_t == pytest.approx(2.0)
    assert both == pytest.approx(2 * 5 * 2.2 / 6.2)  # 3.548387
    assert only_t < only_q < both


def test_top_orders_by_score_then_key():
    assert top([(1.0, 3), (2.0, 5), (1.0, 1), (0.5, 0)], 3) == [(2.0, 5), (1.0, 1), (1.0, 3)]


ROWS = [
    ("医保 异地 备案 医 保", "国家 医保 服务 平台 办理 备案"),
    ("公积金 提取 材料", "身份证 银行卡 公积金 中心"),
    ("驾驶证 换证 驾 证", "车管所 换证 身份证 照片 证"),
    ("户籍 登记 新生儿", "出生 医学 证明 派出所 户籍"),
    ("社会保险 转移 社保", "新 参保地 申请 转移 接续 社保 卡"),
    ("医保 报销 比例", "医保 门诊 住院 报销 比例 医保"),
]


def test_the_same_scores_as_sqlites_bm25_on_the_same_rows():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(q, t)")
    conn.executemany("INSERT INTO f(rowid, q, t) VALUES (?, ?, ?)", [(i, q, t) for i, (q, t) in enumerate(ROWS)])
    df: dict[str, int] = {}
    for q, t in ROWS:
        for term in set(q.split()) | set(t.split()):
            df[term] = df.get(term, 0) + 1
    stats = IndexStats(len(ROWS), sum(len(q.split()) + len(t.split()) for q, t in ROWS))
    for query in (["医保", "报销"], ["身份证", "证", "换证"], ["社保", "转移", "卡"], ["户籍"]):
        match = " OR ".join(f'"{t}"' for t in query)
        theirs = dict(conn.execute("SELECT rowid, -bm25(f, 4.0, 1.0) FROM f WHERE f MATCH ?", (match,)).fetchall())
        ours = {i: score(query, q.split(), t.split(), df, stats, 4.0) for i, (q, t) in enumerate(ROWS)}
        assert {i for i, s in ours.items() if s > 0} == set(theirs), query
        for i, s in theirs.items():
            assert ours[i] == pytest.approx(s, rel=1e-9), (query, i)
