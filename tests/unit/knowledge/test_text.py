import datetime as dt
import json

from knowledge.core.query import Candidate, Ranking, Terms, cut, expand, fts5_match, rank, tsquery
from knowledge.core.sanitize import sanitize_html
from knowledge.exchange import Line, Refused, digest, parse_lines
from knowledge.segment import load_synonyms

TODAY = dt.date(2026, 3, 10)


def test_scripts_styles_event_handlers_and_javascript_urls_are_removed():
    dirty = (
        '<p onclick="steal()">办理<script>alert(1)</script><style>p{}</style>'
        '<a href="javascript:alert(1)">x</a><a href=" java\tscript:alert(1)">y</a>'
        '<img src=x onerror="alert(1)"><iframe src="https://evil"></iframe></p>'
    )
    clean = sanitize_html(dirty)
    for bad in ("script", "style", "onclick", "onerror", "javascript", "<img", "iframe", "alert"):
        assert bad not in clean.lower(), bad
    assert clean.startswith("<p>办理") and clean.endswith("</p>")


def test_allowed_markup_and_http_links_survive():
    clean = sanitize_html(
        '<p><b>材料</b><ul><li>身份证</li></ul><a href="https://zwfw.gov.cn/a?b=1&c=2" target=_blank>网办</a></p>'
    )
    assert "<b>材料</b>" in clean and "<ul><li>身份证</li></ul>" in clean
    assert 'href="https://zwfw.gov.cn/a?b=1&amp;c=2"' in clean and "target" not in clean


def test_text_that_looks_like_markup_is_escaped_not_executed():
    assert sanitize_html("1 &lt;script&gt; 2 < 3") == "1 &lt;script&gt; 2 &lt; 3"


def test_a_long_query_is_cut_not_refused():
    assert len(cut("医保" * 5000, 200)) == 200


def test_synonyms_expand_both_ways_and_terms_are_only_word_characters():
    syn = {"医保": ("医保", "医疗保险"), "医疗保险": ("医疗保险", "医保")}
    terms = expand(["医保", "报销", '"', "OR", "a*b", "报销"], syn)
    assert terms.groups == (("医保", "医疗保险"), ("报销",), ("or",))
    assert fts5_match(terms) == '"医保" OR "医疗保险" OR "报销" OR "or"'
    assert tsquery(terms) == "'医保' | '医疗保险' | '报销' | 'or'"


def test_the_synonym_file_has_the_groups_the_issue_names():
    groups = load_synonyms()
    assert len(groups) >= 40
    flat = {w: g for g in groups for w in g}
    for a, b in (
        ("医保", "医疗保险"),
        ("公积金", "住房公积金"),
        ("社保", "社会保险"),
        ("户口", "户籍"),
        ("驾照", "驾驶证"),
    ):
        assert b in flat[a], (a, b)


def cand(i, score, scope="city", state="published", valid_to=None):
    return Candidate(i, f"e{i}", "q", scope, state, valid_to, score)


def test_the_callers_scope_ranks_higher_but_not_exclusively():
    hits = rank(
        [cand(1, 10.0), cand(2, 8.0, scope="海安区"), cand(3, 9.0, scope="如城街道")], TODAY, "seat", "海安区", 5
    )
    assert [h.id for h in hits] == ["e2", "e1", "e3"]
    assert [h.id for h in rank([cand(1, 10.0), cand(2, 8.0, "海安区")], TODAY, "seat", None, 5)] == ["e1", "e2"]


def test_expired_entries_never_reach_citizens_and_reach_seats_marked():
    cands = [cand(1, 5.0, valid_to=dt.date(2026, 3, 9)), cand(2, 4.0, state="expired"), cand(3, 1.0)]
    assert [h.id for h in rank(cands, TODAY, "public", None, 5)] == ["e3"]
    seat = rank(cands, TODAY, "seat", None, 5, Ranking(expired_factor=1.0))
    assert {h.id: h.expired for h in seat} == {"e1": True, "e2": True, "e3": False}


def test_import_lines_are_refused_with_their_numbers():
    good = {"id": "k1", "question": "问", "answer": "答", "category": "类", "scope": "city", "unit": "hrss"}
    lines = [
        json.dumps(good),
        "",
        "{not json",
        json.dumps([1]),
        json.dumps({**good, "id": "k2", "question": ""}),
        json.dumps({**good, "id": "k3", "valid_from": "2026-02-01", "valid_to": "2026-01-01"}),
        json.dumps({**good, "id": "bad id!"}),
        json.dumps({**good, "id": "k4", "valid_to": "2026-13-01"}),
    ]
    out = list(parse_lines(lines))
    assert [type(x) for x in out] == [Line, Refused, Refused, Refused, Refused, Refused, Refused]
    assert [x.number for x in out] == [1, 3, 4, 5, 6, 7, 8]
    assert "valid_to" in out[4].reason and "question" in out[3].reason


def test_the_digest_sees_a_change_of_any_exchange_field_only():
    from knowledge.core.validate import content_from

    base = {"question": "问", "answer": "答", "category": "类", "scope": "city", "unit": "hrss", "keywords": ["a"]}
    d = digest(content_from(base))
    assert digest(content_from(dict(base))) == d
    assert digest(content_from({**base, "keywords": ["b"]})) != d
    assert digest(content_from({**base, "officer": "张三"})) == d
    assert Terms(()).flat == ()
