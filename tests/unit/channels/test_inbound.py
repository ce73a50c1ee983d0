import pytest

from channels.core.inbound import BadMessage, StaleTimestamp, check_timestamp, normalise


def push(**fields):
    base = {"ToUserName": "gh_1", "FromUserName": "o_1", "CreateTime": "1800000000", "MsgType": "text"}
    base.update(fields)
    return base


def test_text_message_is_keyed_by_msgid_and_asks_for_a_seat():
    msg = normalise(push(Content="你好", MsgId="123"))
    assert (msg.kind, msg.dedup_key, msg.supported, msg.asks_seat) == ("text", "msg:123", True, True)
    assert msg.summary() == {"text": "你好"}


def test_event_is_keyed_by_sender_and_create_time_and_does_not_ask_for_a_seat():
    msg = normalise(push(MsgType="event", Event="CLICK", EventKey="K1"))
    assert (msg.kind, msg.dedup_key, msg.asks_seat) == ("event:click", "evt:o_1:1800000000", False)
    assert msg.summary() == {"event_key": "K1"}


def test_location_coordinates_become_numbers_and_bad_ones_none():
    msg = normalise(push(MsgType="location", Location_X="32.5", Location_Y="x", Label="如皋", MsgId="1"))
    assert msg.summary() == {"latitude": 32.5, "longitude": None, "scale": "", "label": "如皋"}


@pytest.mark.parametrize(("msg_type", "extra"), [("video", {}), ("shortvideo", {}), ("event", {"Event": "VIEW"})])
def test_kinds_the_hotline_does_not_handle_are_kept_as_unsupported(msg_type, extra):
    msg = normalise(push(MsgType=msg_type, **extra))
    assert msg.supported is False


@pytest.mark.parametrize(
    "fields",
    [
        {"FromUserName": ""},
        {"FromUserName": "o" * 65},
        {"MsgType": ""},
        {"CreateTime": "yesterday"},
        {"MsgId": "12a"},
        {"MsgType": "event"},
        {"Content": "x" * 9000},
    ],
)
def test_pushes_nobody_could_have_sent_are_bad(fields):
    with pytest.raises(BadMessage):
        normalise(push(**fields))


def test_timestamp_window_is_symmetric_and_inclusive():
    assert check_timestamp("1000", now=1300, window=300) == 1000
    assert check_timestamp("1600", now=1300, window=300) == 1600
    for bad in ("999", "1601", "", "-5", "1e3", "9" * 13):
        with pytest.raises(StaleTimestamp):
            check_timestamp(bad, now=1300, window=300)


def test_the_nonce_book_tells_a_retry_from_a_replay_and_forgets_outside_the_window() -> None:
    from channels.core.inbound import NonceBook

    book = NonceBook(window=300, max_entries=1000)
    now = 1_700_000_000.0
    assert not book.replayed(int(now), "n1", b"body-a", now)
    assert not book.replayed(int(now), "n1", b"body-a", now + 1)  # the same body: WeChat's retry
    assert book.replayed(int(now), "n1", b"body-b", now + 2)  # the same signed query, another body
    assert not book.replayed(int(now), "n2", b"body-b", now + 2)
    # Once the timestamp is outside the window the webhook refuses it as stale anyway: forgotten.
    assert not book.replayed(int(now) + 400, "n3", b"x", now + 400)
    assert len(book) == 1


def test_the_nonce_book_keeps_at_most_its_size() -> None:
    from channels.core.inbound import NonceBook

    book = NonceBook(window=300, max_entries=100)
    for i in range(10_000):
        book.replayed(1_700_000_000, f"n{i}", b"x", 1_700_000_000.0)
    assert len(book) <= 100
