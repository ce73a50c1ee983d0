import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.core.response import (
    CitizenWrote,
    ConversationClosed,
    FlagLate,
    OfferElsewhere,
    ResponseTracker,
    SeatAssigned,
    SeatReplied,
    Tick,
    UnknownConversation,
)


def tracker():
    return ResponseTracker(realtime_threshold=60, flag_after=60, reassign_after=120)


def test_first_response_runs_from_the_first_message_that_asked_for_a_seat():
    t = tracker()
    t.handle(CitizenWrote("c", 100, asks_seat=False))  # subscribing is not asking
    t.handle(CitizenWrote("c", 110))
    t.handle(CitizenWrote("c", 130))
    t.handle(SeatReplied("c", "s1", 150))
    assert t.times("c").first_response_s == 40


def test_next_responses_run_from_the_oldest_unanswered_message():
    t = tracker()
    t.handle(CitizenWrote("c", 0))
    t.handle(SeatReplied("c", "s1", 10))
    t.handle(SeatReplied("c", "s1", 12))  # a second reply with nobody waiting measures nothing
    t.handle(CitizenWrote("c", 20))
    t.handle(CitizenWrote("c", 25))
    t.handle(SeatReplied("c", "s1", 50))
    assert t.times("c").next_response_s == [30]


def test_waiting_citizen_is_flagged_once_then_offered_elsewhere_once():
    t = tracker()
    t.handle(CitizenWrote("c", 0))
    t.handle(SeatAssigned("c", "s1", 0))
    assert t.handle(Tick(59)) == []
    assert t.handle(Tick(60)) == [FlagLate("c", "s1", 60)]
    assert t.handle(Tick(90)) == []
    assert t.handle(Tick(120)) == [OfferElsewhere("c", "s1", 120)]
    assert t.handle(Tick(500)) == []


def test_a_new_seat_gets_the_full_second_threshold():
    t = tracker()
    t.handle(CitizenWrote("c", 0))
    t.handle(SeatAssigned("c", "s1", 0))
    t.handle(Tick(120))
    t.handle(SeatAssigned("c", "s2", 130))
    assert t.handle(Tick(249)) == []
    assert t.handle(Tick(250)) == [OfferElsewhere("c", "s2", 250)]


def test_queued_conversation_is_flagged_but_never_offered_elsewhere():
    t = tracker()
    t.handle(CitizenWrote("c", 0))
    assert t.handle(Tick(1000)) == [FlagLate("c", None, 1000)]


def test_reply_stops_the_clock_and_the_next_wait_flags_again():
    t = tracker()
    t.handle(CitizenWrote("c", 0))
    t.handle(Tick(61))
    t.handle(SeatReplied("c", "s1", 62))
    assert t.handle(Tick(200)) == []
    t.handle(CitizenWrote("c", 300))
    assert t.handle(Tick(360)) == [FlagLate("c", None, 60)]


def test_rate_counts_in_time_missed_and_leaves_pending_out():
    t = tracker()
    for conv, asked, replied in [("a", 0, 60), ("b", 0, 61), ("c", 0, None), ("d", 100, None), ("e", 0, None)]:
        t.handle(CitizenWrote(conv, asked))
        if replied is not None:
            t.handle(SeatReplied(conv, "s", replied))
    t.handle(ConversationClosed("e", 30))  # left before T without a reply: still a miss
    stats = t.stats(now=120)
    assert (stats.asked, stats.in_time, stats.missed, stats.pending) == (5, 1, 3, 1)
    assert stats.rate == pytest.approx(1 / 4)
    assert tracker().stats(now=0).rate is None


def test_intervals_group_by_the_first_ask():
    t = tracker()
    t.handle(CitizenWrote("a", 10))
    t.handle(SeatReplied("a", "s", 20))
    t.handle(CitizenWrote("b", 1900))
    t.handle(SeatReplied("b", "s", 2000))
    rows = t.by_interval(now=4000, start=0, end=3600, step=1800)
    assert [(start, s.in_time, s.missed) for start, s in rows] == [(0, 1, 0), (1800, 0, 1)]


def test_closed_conversations_can_be_forgotten_and_unknown_ones_raise():
    t = tracker()
    t.handle(CitizenWrote("a", 0))
    t.handle(ConversationClosed("a", 10))
    with pytest.raises(ValueError):
        t.handle(CitizenWrote("a", 11))
    assert t.forget_closed(before=11) == 1
    with pytest.raises(UnknownConversation):
        t.handle(SeatReplied("a", "s", 12))


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError):
        ResponseTracker(60, 120, 120)


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 100)), min_size=1, max_size=30))
@settings(max_examples=100, deadline=None)
def test_measured_times_are_never_negative_and_never_exceed_elapsed_time(steps):
    t, now = tracker(), 0.0
    t.handle(CitizenWrote("c", 0))
    for citizen, gap in steps:
        now += gap
        t.handle(CitizenWrote("c", now) if citizen else SeatReplied("c", "s", now))
    times = t.times("c")
    measured = [times.first_response_s] if times.first_response_s is not None else []
    assert all(0 <= x <= now for x in measured + times.next_response_s)
    stats = t.stats(now)
    assert stats.in_time + stats.missed + stats.pending == stats.asked == 1
