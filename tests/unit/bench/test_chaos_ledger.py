"""The chaos bench's count: a message acknowledged but not stored or never seen, one stored twice,
a chat accepted twice or never reaching a seat, a message never acknowledged: each is a loss line."""

from __future__ import annotations

from collections import Counter

from bench.chaos import Ledger, _account


def ledger() -> Ledger:
    led = Ledger()
    for text, contact in [("v1m0 a", "webchat-1"), ("v1m1 b", "webchat-1"), ("v2m0 c", "webchat-2")]:
        led.acked_in[text] = 1.0
        led.contact_of[text] = contact
        led.first_ack.setdefault(contact, 1.0)
        led.seen_by_seat.add(text)
        led.acked_out["re:" + text] = 2.0
        led.seen_by_citizen.add("re:" + text)
    led.first_reply.update({"webchat-1": 3.0, "webchat-2": 90.0})
    led.accepted.update({"webchat-1": 1, "webchat-2": 1})
    return led


def stored(led: Ledger) -> Counter[str]:
    return Counter([*led.acked_in, *led.acked_out])


def test_all_there_once_is_no_loss_and_the_rate_counts_answers_within_60_s() -> None:
    led = ledger()
    out = _account(led, stored(led), [], 2, ["engine"])
    assert (out["lost"], out["doubled"], out["losses"]) == (0, 0, [])
    assert out["contacts"] == 2 and out["messages"] == 6 and out["first_reply_60s"] == 0.5


def test_every_kind_of_loss_and_double_is_listed() -> None:
    led = ledger()
    count = stored(led)
    count["v1m0 a"] = 0  # acknowledged, not stored
    led.seen_by_seat.discard("v1m1 b")  # stored, never reached the seat
    led.seen_by_citizen.discard("re:v2m0 c")  # the seat's answer never reached the citizen
    count["re:v1m1 b"] = 2  # stored twice
    led.accepted["webchat-2"] = 2  # accepted twice
    led.gave_up.append("v3m0 d")  # never acknowledged
    out = _account(led, count, [], 3, ["engine"])
    assert out["lost"] == 4 and out["doubled"] == 2, out["losses"]
    text = "\n".join(out["losses"])
    for piece in [
        "'v1m0 a' acknowledged but not stored",
        "'v1m1 b' stored but never reached a seat",
        "'re:v2m0 c' stored but never reached the citizen",
        "'re:v1m1 b' stored 2 times",
        "webchat-2: accepted by a seat 2 times",
        "'v3m0 d' not acknowledged",
    ]:
        assert piece in text, text


def test_a_chat_no_seat_ever_saw_is_lost() -> None:
    led = ledger()
    led.seen_by_seat -= {"v2m0 c"}
    out = _account(led, stored(led), [], 2, ["engine"])
    assert "webchat-2: never reached a seat" in out["losses"]
