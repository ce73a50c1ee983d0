import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.core.ratelimit import FloodLimit


def test_a_burst_passes_then_the_next_message_waits_for_the_rate():
    limit = FloodLimit(rate=1.0, burst=3)
    assert [limit.check("v", 0).allowed for _ in range(3)] == [True, True, True]
    refused = limit.check("v", 0)
    assert not refused.allowed and refused.retry_after == pytest.approx(1.0)
    assert limit.check("v", 1.0).allowed
    assert not limit.check("v", 1.5).allowed


def test_visitors_do_not_share_a_bucket():
    limit = FloodLimit(rate=0.5, burst=1)
    assert limit.check("a", 0).allowed and limit.check("b", 0).allowed
    assert not limit.check("a", 0.1).allowed


def test_a_clock_stepping_back_mints_nothing():
    limit = FloodLimit(rate=1.0, burst=1)
    assert limit.check("v", 100).allowed
    assert not limit.check("v", 50).allowed


def test_idle_buckets_are_forgotten_and_the_key_count_is_bounded():
    limit = FloodLimit(rate=1.0, burst=2, max_keys=3)
    for i in range(10):
        limit.check(f"v{i}", now=i * 0.1)
    assert len(limit) == 3
    assert limit.prune(now=100) == 3 and len(limit) == 0


@given(st.lists(st.floats(0, 3), min_size=1, max_size=60))
@settings(max_examples=100, deadline=None)
def test_never_more_than_burst_plus_rate_times_elapsed(gaps):
    limit, now, allowed = FloodLimit(rate=2.0, burst=5), 0.0, 0
    for gap in gaps:
        now += gap
        allowed += limit.check("v", now).allowed
    assert allowed <= 5 + 2.0 * now + 1e-9
