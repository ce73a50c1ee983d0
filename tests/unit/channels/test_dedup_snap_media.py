import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.core.dedup import SeenKeys
from channels.core.mediatype import check_media, sniff
from channels.core.snap import SnapItem, find_bundle


def test_a_key_is_seen_until_its_ttl_passes():
    keys = SeenKeys(ttl=10)
    keys.add("msg:1", now=100)
    assert keys.seen("msg:1", now=109.9)
    assert not keys.seen("msg:1", now=110)
    assert len(keys) == 0


def test_capacity_drops_the_oldest_keys_first():
    keys = SeenKeys(ttl=100, capacity=2)
    for i, key in enumerate(["a", "b", "c"]):
        keys.add(key, now=i)
    assert [keys.seen(k, now=3) for k in "abc"] == [False, True, True]


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.floats(0, 5)), max_size=40))
@settings(max_examples=100, deadline=None)
def test_seen_matches_a_model_of_last_add_time(ops):
    keys, last, now = SeenKeys(ttl=3), {}, 0.0
    for key, step in ops:
        now += step
        assert keys.seen(key, now) == (key in last and now < last[key] + 3)
        keys.add(key, now)
        last[key] = now


def photo(at, mid=1):
    return SnapItem("photo", at, mid, {"media_id": f"m{mid}"})


def location(at, mid=9, label="海阳路"):
    return SnapItem("location", at, mid, {"latitude": 32.0, "longitude": 120.0, "label": label})


def test_photo_and_location_within_the_window_make_a_bundle_in_either_order():
    assert find_bundle([photo(0), location(100)], window=600).photos == (photo(0),)
    assert find_bundle([location(0), photo(100)], window=600).location == location(0)


def test_photo_and_location_outside_the_window_do_not():
    assert find_bundle([photo(0), location(601)], window=600) is None
    assert find_bundle([photo(0), photo(5, 2)], window=600) is None


def test_the_newest_location_takes_every_photo_near_it():
    bundle = find_bundle([location(0, 8, "旧"), photo(1000, 1), photo(1010, 2), location(1020, 9, "新")], window=600)
    assert [p.message_id for p in bundle.photos] == [1, 2] and bundle.location.message_id == 9
    draft = bundle.draft("路面塌陷")
    assert draft["title"] == "随手拍：新" and draft["description"] == "路面塌陷"
    assert draft["photo_message_ids"] == [1, 2] and draft["location_message_id"] == 9


def test_files_must_be_what_they_claim():
    allowed = ("image/jpeg", "image/png", "audio/amr")
    assert check_media("image/jpeg", b"\xff\xd8\xff\xe0rest", allowed, 100) == ".jpg"
    assert check_media("audio/amr", b"#!AMR\n..", allowed, 100) == ".amr"
    assert sniff(b"\x00\x00\x00\x18ftypmp42") == "video/mp4"
    for ctype, content, size in [
        ("image/jpeg", b"<html>", 100),
        ("image/gif", b"GIF89a", 100),
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 200, 100),
        ("image/png", b"", 100),
    ]:
        with pytest.raises(ValueError):
            check_media(ctype, content, allowed, size)
