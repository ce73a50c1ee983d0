"""The edge's building blocks: rate limits with bounded memory, and the client address behind proxies."""

from __future__ import annotations

import pytest

from hotline.guard import LOOPBACK, RateLimiter, client_address, networks, within


def test_a_key_is_refused_after_its_limit_and_free_again_after_the_window() -> None:
    t = [1000.0]
    lim = RateLimiter(limit=5, window=60, clock=lambda: t[0])
    for _ in range(5):
        assert lim.take("10.0.0.1") == 0
    assert lim.take("10.0.0.1") == pytest.approx(60)
    assert lim.take("10.0.0.2") == 0  # another key is not held back
    t[0] += 30
    assert lim.retry_after("10.0.0.1") == pytest.approx(30)
    t[0] += 30
    assert lim.take("10.0.0.1") == 0


def test_a_refused_take_counts_nothing_and_clear_forgets_a_key() -> None:
    t = [0.0]
    lim = RateLimiter(limit=2, window=10, clock=lambda: t[0])
    lim.hit("k")
    t[0] = 5
    lim.hit("k")
    for _ in range(10):
        assert lim.take("k") > 0  # refused takes do not push the window further
    t[0] = 10.5
    assert lim.take("k") == 0
    lim.clear("k")
    assert lim.retry_after("k") == 0 and len(lim) == 0


def test_count_is_the_hits_still_within_the_window() -> None:
    t = [0.0]
    lim = RateLimiter(limit=5, window=10, clock=lambda: t[0])
    assert lim.count("k") == 0
    lim.hit("k")
    t[0] = 4
    lim.hit("k")
    assert lim.count("k") == 2
    t[0] = 12
    assert lim.count("k") == 1
    t[0] = 20
    assert lim.count("k") == 0 and len(lim) == 0


def test_a_spray_of_new_keys_keeps_memory_bounded_forgetting_the_oldest() -> None:
    lim = RateLimiter(limit=3, window=60, max_keys=100)
    for i in range(10_000):
        lim.hit(f"visitor-{i}")
    assert len(lim) == 100
    assert lim.retry_after("visitor-9999") == 0 and "visitor-0" not in lim._hits


def test_x_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    proxies = networks(["10.1.0.0/16"])
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
    assert client_address("198.51.100.2", headers, proxies) == "198.51.100.2"  # not a proxy: header ignored
    assert client_address("10.1.2.3", headers, proxies) == "203.0.113.7"  # the hop the proxy saw
    chained = {"X-Forwarded-For": "203.0.113.7, 10.1.9.9"}  # two proxies of ours
    assert client_address("10.1.2.3", chained, proxies) == "203.0.113.7"
    assert client_address("10.1.2.3", {"X-Forwarded-For": "junk"}, proxies) == "10.1.2.3"
    assert client_address("10.1.2.3", {}, proxies) == "10.1.2.3"
    assert client_address("10.1.2.3", headers, ()) == "10.1.2.3"  # no proxies configured


def test_networks_and_within() -> None:
    assert within("127.0.0.1", LOOPBACK) and within("::1", LOOPBACK) and within("::ffff:127.0.0.1", LOOPBACK)
    assert not within("192.0.2.1", LOOPBACK) and not within("not an address", LOOPBACK)
    with pytest.raises(ValueError, match="not an address"):
        networks(["10.0.0.0/8", "example"])


def test_a_flood_of_refusals_is_logged_a_few_lines_at_a_time_and_then_says_how_many_were_left_out() -> None:
    from hotline.guard import RefusalLog

    log = RefusalLog(every_s=10.0, burst=3)
    kind = ("webchat", "messages")
    admitted = [log.admit(kind, 100.0 + i * 0.001) for i in range(1000)]
    assert admitted[:3] == [0, 0, 0] and admitted[3:] == [None] * 997
    assert log.admit(("login", "busy"), 100.5) == 0  # another kind has its own lines
    assert log.admit(kind, 110.0) == 997  # the next window's first line tells what was left out


def test_x_forwarded_for_lines_added_by_a_proxy_are_read_after_the_clients() -> None:
    """HAProxy adds its own X-Forwarded-For line after the one a client sent: the address is the
    right-most untrusted hop of all lines, never what the client wrote in the first."""
    from multidict import CIMultiDict

    proxies = networks(["127.0.0.1"])
    headers = CIMultiDict([("X-Forwarded-For", "198.51.100.99"), ("X-Forwarded-For", "203.0.113.7")])
    assert client_address("127.0.0.1", headers, proxies) == "203.0.113.7"
    one = CIMultiDict([("X-Forwarded-For", "203.0.113.7")])
    assert client_address("127.0.0.1", one, proxies) == "203.0.113.7"
