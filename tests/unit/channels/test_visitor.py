"""Web-chat visitor rules: signed ids, phone numbers, text, pictures and ratings."""

from __future__ import annotations

import pytest

from channels.core.visitor import (
    VisitorInputError,
    clean_image,
    clean_phone,
    clean_rating,
    clean_text,
    new_visitor_id,
    read_visitor,
    sign_visitor,
    visitor_from_cookie,
)


def test_signed_ids_round_trip_and_resist_tampering() -> None:
    vid = new_visitor_id()
    assert vid != new_visitor_id() and len(vid) == 21
    token = sign_visitor("s3cret", vid)
    assert read_visitor("s3cret", token) == vid
    assert read_visitor("other", token) is None
    other = new_visitor_id()
    assert read_visitor("s3cret", other + token[len(vid) :]) is None  # someone else's id, our signature
    for junk in (None, 5, "", "nodot", "v123.abc", token + "x", "x" * 200):
        assert read_visitor("s3cret", junk) is None
    with pytest.raises(ValueError):
        sign_visitor("s3cret", "not-an-id")


def test_cookie_header_parsing() -> None:
    assert visitor_from_cookie("a=1; hotline_visitor=v1.x; b=2") == "v1.x"
    assert visitor_from_cookie("hotline_visitor=") is None
    assert visitor_from_cookie("") is None
    assert visitor_from_cookie("xhotline_visitor=v1.x") is None


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("13912345678", "13912345678"),
        ("139-1234-5678", "13912345678"),
        (" 0513 8765 4321 ", "051387654321"),
        ("010-12345678", "01012345678"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_numbers_accepted(raw: object, phone: str) -> None:
    assert clean_phone(raw) == phone


@pytest.mark.parametrize("raw", ["12345", "12912345678", "1391234567", "139123456789", "abc", "+8613912345678", 139])
def test_phone_numbers_refused(raw: object) -> None:
    with pytest.raises(VisitorInputError):
        clean_phone(raw)


def test_text_is_trimmed_and_bounded() -> None:
    assert clean_text("  你好\n第二行 ", 10) == "你好\n第二行"
    for bad in ("", "   ", "a" * 11, None, 3, "bell\x07"):
        with pytest.raises(VisitorInputError):
            clean_text(bad, 10)


def test_images_by_declared_type_and_size() -> None:
    img = clean_image({"type": "image/png", "data": b"\x89PNG....", "name": " 照片.png "}, 100)
    assert (img.content_type, img.name, len(img.content)) == ("image/png", "照片.png", 8)
    for bad in (
        {"type": "image/svg+xml", "data": b"<svg/>"},
        {"type": "image/png", "data": b""},
        {"type": "image/png", "data": "text, not bytes"},
        {"type": "image/png", "data": b"x" * 101},
        ["image/png"],
    ):
        with pytest.raises(VisitorInputError):
            clean_image(bad, 100)


def test_ratings_use_the_survey_scale() -> None:
    r = clean_rating({"rating": "basically_satisfied", "comment": " 还行 "})
    assert (r.code, r.label, r.comment) == ("basically_satisfied", "基本满意", "还行")
    for bad in ({"rating": 5}, {"rating": "great"}, {}, {"rating": "satisfied", "comment": "x" * 201}, "satisfied"):
        with pytest.raises(VisitorInputError):
            clean_rating(bad)
