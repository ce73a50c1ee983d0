"""The day's figures across moves and restarts: kept rows are taken whole and once, added back
at a start, and a contact queued again with what it already counted is not counted twice."""

from __future__ import annotations

from acd.core import (
    Acd,
    AcdSettings,
    ContactAbandoned,
    ContactArrived,
    ContactEnded,
    OfferAccepted,
    QueueConfig,
    QueueConfigured,
    SeatReplied,
)
from acd.core.stats import Stats
from tests.unit.acd.helpers import Rig


def test_changed_rows_are_taken_whole_once_and_given_back_when_not_kept() -> None:
    stats = Stats(900, 0.0, 60.0)
    stats.add(100.0, "q", "voice", "offered")
    stats.answered(100.0, "q", "voice", 5.0, 15.0)
    stats.add(1000.0, "q", "webchat", "offered")
    stats.seat_state_time("ready", 850.0, 950.0)  # split over two intervals
    taken = stats.take_changes()
    assert [k for k, _ in taken["rows"]] == [[0, "q", "voice"], [900, "q", "webchat"]]
    assert taken["rows"][0][1]["offered"] == 1 and taken["rows"][0][1]["answered_within"] == 1
    assert taken["seat_time"] == [[[0, "ready"], 50.0], [[900, "ready"], 50.0]]
    assert stats.take_changes() == {"rows": [], "seat_time": []}  # nothing new
    stats.add(1000.0, "q", "webchat", "abandoned")
    again = stats.take_changes()
    assert [k for k, _ in again["rows"]] == [[900, "q", "webchat"]] and again["rows"][0][1]["offered"] == 1
    stats.give_back(again)  # the database refused it: taken again next time
    assert [k for k, _ in stats.take_changes()["rows"]] == [[900, "q", "webchat"]]


def test_kept_figures_are_added_to_what_was_counted_since_the_start() -> None:
    before = Stats(900, 0.0, 60.0)
    before.add(100.0, "q", "voice", "offered")
    before.add(100.0, "q", "voice", "offered")
    before.seat_state_time("busy", 0.0, 30.0)
    kept = before.to_dict()
    after = Stats(900, 0.0, 60.0)
    after.add(200.0, "q", "voice", "offered")  # counted before the kept figures were read
    after.merge(kept)
    assert after.rows[(0, "q", "voice")]["offered"] == 3
    assert after.seat_time[(0, "busy")] == 30.0
    assert [k for k, _ in after.take_changes()["rows"]] == [[0, "q", "voice"]]  # written again, summed
    fresh = Stats(900, 0.0, 60.0)
    fresh.merge(kept)
    assert fresh.report()[0]["offered"] == 2 and fresh.take_changes() == {"rows": [], "seat_time": []}


def _two_queues() -> Rig:
    r = Rig(AcdSettings(wrap_up_s={"chat": 0.0, "voice": 0.0}))
    r.feed(QueueConfigured(0.0, QueueConfig("other")))
    r.seat("s", now=0.0, max_chats=3)
    return r


def _row(r: Rig, queue: str) -> dict[str, object]:
    return next(row for row in r.acd.interval_stats() if row["queue"] == queue)


def test_a_contact_queued_again_with_its_counts_is_counted_once_in_its_home_queue() -> None:
    r = _two_queues()
    r.call("w1", 10.0, channel="webchat")
    r.feed(OfferAccepted(12.0, "w1", "s"))
    r.feed(SeatReplied(20.0, "w1"))
    # Moved (or the engine restarted): ended, then queued again elsewhere with what it counted.
    r.feed(ContactEnded(30.0, "w1"))
    again = ContactArrived(31.0, "w1", "webchat", "other", enqueued_at=10.0, home="q", answered=True, replied=True)
    r.feed(again)
    assert r.acd.contacts["w1"].home == "q"
    r.feed(OfferAccepted(33.0, "w1", "s"))
    r.feed(SeatReplied(34.0, "w1"))
    row = _row(r, "q")
    assert (row["offered"], row["answered"], row["replied"]) == (1, 1, 1)
    assert all(row["queue"] != "other" or row["answered"] == 0 for row in r.acd.interval_stats())
    # Queued again once more and left while waiting: it was answered, so it is no abandon.
    r.feed(ContactEnded(40.0, "w1"))
    r.feed(ContactArrived(41.0, "w1", "webchat", "q", enqueued_at=10.0, home="q", answered=True, replied=True))
    r.feed(ContactAbandoned(45.0, "w1"))
    row = _row(r, "q")
    assert (row["offered"], row["answered"], row["abandoned"]) == (1, 1, 0)


def test_a_contact_queued_again_without_an_answer_still_counts_its_answer_and_its_abandon() -> None:
    r = _two_queues()
    r.feed(ContactArrived(50.0, "w2", "webchat", "q", enqueued_at=10.0, home="q"))  # restored: offered before
    r.feed(OfferAccepted(55.0, "w2", "s"))
    row = _row(r, "q")
    assert (row["offered"], row["answered"]) == (0, 1)  # offered was counted by the engine before
    r.feed(ContactArrived(60.0, "w3", "webchat", "q", enqueued_at=20.0, home="nowhere"))  # unknown home: its queue
    r.feed(ContactAbandoned(70.0, "w3"))
    assert _row(r, "q")["abandoned"] == 1


def test_what_a_contact_counted_survives_the_cores_snapshot() -> None:
    r = _two_queues()
    r.feed(ContactArrived(5.0, "w4", "webchat", "other", enqueued_at=1.0, answered=True))
    assert Acd.restore(r.acd.snapshot()).contacts["w4"].answered_before is True
    data = r.acd.snapshot()
    for item in data["contacts"]:
        item.pop("answered_before")  # a snapshot taken before contacts carried it
    assert Acd.restore(data).contacts["w4"].answered_before is False
