import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.core.xmlguard import MAX_DEPTH, XmlRejected, screen_xml

LIMIT = 64 * 1024


def kind_of(raw: bytes) -> str:
    with pytest.raises(XmlRejected) as info:
        screen_xml(raw, LIMIT)
    return info.value.kind


def test_a_wechat_push_passes_unchanged():
    raw = "<xml><ToUserName><![CDATA[gh]]></ToUserName><CreateTime>1</CreateTime><Content><![CDATA[你好]]></Content></xml>"
    assert screen_xml(raw.encode(), LIMIT) == raw


def test_utf8_bom_and_utf8_declaration_are_accepted():
    assert screen_xml(b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?><xml/>', LIMIT).endswith("<xml/>")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200).filter(lambda t: "]]>" not in t))
@settings(max_examples=200, deadline=None)
def test_anything_a_citizen_types_inside_cdata_is_accepted(content):
    # Citizens may well type "<!DOCTYPE" or "&foo;" in a message: inside CDATA it is only text.
    raw = f"<xml><Content><![CDATA[{content}]]></Content></xml>".encode()
    assert content in screen_xml(raw, LIMIT)


@pytest.mark.parametrize(
    "raw",
    [
        b'<!DOCTYPE xml [<!ENTITY a "b">]><xml>&a;</xml>',
        b'<?xml version="1.0"?>\n<!doctype xml><xml/>',
        b"<xml><!ENTITY a SYSTEM 'file:///etc/passwd'></xml>",
        b"<xml>&custom;</xml>",
        b"<xml><?pi data?></xml>",
        b'<?xml version="1.0" encoding="ISO-8859-1"?><xml/>',
        b"<xml><!-- comment --></xml>",
        b"<a>" * (MAX_DEPTH + 1) + b"</a>" * (MAX_DEPTH + 1),
        b"<xml>" + b"<a/>" * 600 + b"</xml>",
    ],
)
def test_declarations_entities_instructions_foreign_encodings_and_big_trees_are_hostile(raw):
    assert kind_of(raw) == "hostile"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"<xml>",
        b"<xml></xm>",
        b"<xml><a></xml></a>",
        b"<xml/><xml/>",
        b"text<xml/>",
        b'<xml a="1"/>',
        b"<xml>fish & chips</xml>",
        b"<xml><![CDATA[never closed</xml>",
        b"<xml><a</xml>",
        "<xml/>".encode("utf-16"),
        b"\xff\xfe<\x00x\x00",
    ],
)
def test_broken_documents_are_malformed(raw):
    assert kind_of(raw) == "malformed"


def test_size_is_checked_before_anything_else():
    assert kind_of(b"<!DOCTYPE " + b"x" * LIMIT) == "oversized"
    assert screen_xml(b"<xml>" + b"a" * (LIMIT - 11) + b"</xml>", LIMIT)


def test_predefined_and_numeric_references_are_allowed():
    assert screen_xml(b"<xml>&lt;&amp;&#20320;&#x597D;</xml>", LIMIT)
