"""Manager actions become ACD events at once; the surge follows its table; every action is logged."""

from __future__ import annotations

import pytest

from acd.core.events import SeatLoggedIn, SeatLoggedOut, SeatNotReady, SeatReady, SeatSkillsChanged
from scheduling.core.actions import (
    ACTIVE,
    ENDING,
    IDLE,
    SURGE_TRANSITIONS,
    ActivateSurge,
    CallInReserves,
    CancelBreak,
    CloudSeat,
    EndSurge,
    IllegalTransition,
    IvrAnnouncement,
    ManagerDesk,
    MoveSeats,
    NotifySeat,
    StartBreak,
    next_surge_state,
)

CLOUD = (CloudSeat("cloud-1", (("voice", 1),)), CloudSeat("cloud-2", (("voice", 1),)))
TEXT = "因突发事件来电较多，请您耐心等待。"


def test_every_surge_table_entry_walks_and_missing_pairs_raise() -> None:
    for state, moves in SURGE_TRANSITIONS.items():
        for event, target in moves.items():
            assert next_surge_state(state, event) == target
    with pytest.raises(IllegalTransition):
        next_surge_state(IDLE, "period_over")
    with pytest.raises(IllegalTransition):
        next_surge_state(ENDING, "cancel")


def test_surge_logs_cloud_seats_in_ready_and_turns_the_announcement_on() -> None:
    desk = ManagerDesk()
    out = desk.apply(ActivateSurge(CLOUD, until=4000.0, announcement=TEXT), now=100.0, who="张班长", why="暴雨")
    logins = [o for o in out if isinstance(o, SeatLoggedIn)]
    assert [o.seat_id for o in logins] == ["cloud-1", "cloud-2"]
    assert all(o.kind == "cloud" and o.ready and o.ring_delay_s > 0 for o in logins)
    assert IvrAnnouncement(TEXT) in out
    assert desk.surge_state == ACTIVE
    assert desk.log[-1].who == "张班长" and desk.log[-1].why == "暴雨"


def test_surge_for_a_period_ends_without_cutting_calls() -> None:
    desk = ManagerDesk()
    desk.apply(ActivateSurge(CLOUD, until=4000.0, announcement=TEXT), now=100.0, who="a", why="b")
    assert desk.tick(3999.0, waiting=0, busy_seats=()) == []
    out = desk.tick(4000.0, waiting=5, busy_seats=("cloud-1",))
    assert [o.seat_id for o in out if isinstance(o, SeatNotReady)] == ["cloud-1", "cloud-2"]
    assert IvrAnnouncement(None) in out
    assert desk.surge_state == ENDING
    out = desk.tick(4010.0, waiting=5, busy_seats=("cloud-1",))
    assert [o.seat_id for o in out if isinstance(o, SeatLoggedOut)] == ["cloud-2"]
    out = desk.tick(4100.0, waiting=5, busy_seats=())
    assert [o.seat_id for o in out if isinstance(o, SeatLoggedOut)] == ["cloud-1"]
    assert desk.surge_state == IDLE
    assert desk.log[-1].who == "system"


def test_surge_until_drained_waits_for_an_empty_queue_after_the_minimum() -> None:
    desk = ManagerDesk(min_drain_s=600)
    desk.apply(ActivateSurge(CLOUD, until=None, announcement=TEXT), now=0.0, who="a", why="b")
    assert desk.tick(300.0, waiting=0, busy_seats=()) == []  # too early: a momentary empty queue
    assert desk.tick(700.0, waiting=3, busy_seats=()) == []
    assert desk.tick(800.0, waiting=0, busy_seats=())
    assert desk.surge_state == ENDING


def test_reactivating_while_ending_makes_known_cloud_seats_ready_again() -> None:
    desk = ManagerDesk()
    desk.apply(ActivateSurge(CLOUD, until=None, announcement=TEXT), now=0.0, who="a", why="b")
    desk.apply(EndSurge(), now=10.0, who="a", why="over")
    out = desk.apply(ActivateSurge(CLOUD, until=None, announcement=TEXT), now=20.0, who="a", why="again")
    assert [o.seat_id for o in out if isinstance(o, SeatReady)] == ["cloud-1", "cloud-2"]
    assert desk.surge_state == ACTIVE


def test_ending_a_surge_that_is_not_running_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        ManagerDesk().apply(EndSurge(), now=0.0, who="a", why="b")


def test_moves_breaks_and_reserves_become_events_or_notices() -> None:
    desk = ManagerDesk()
    moved = desk.apply(MoveSeats(("s1", "s2"), (("chat", 2),), ("internet",)), now=1.0, who="a", why="chat peak")
    assert moved == [
        SeatSkillsChanged(1.0, "s1", (("chat", 2),), ("internet",)),
        SeatSkillsChanged(1.0, "s2", (("chat", 2),), ("internet",)),
    ]
    assert desk.apply(StartBreak(("s3",)), now=2.0, who="a", why="moved break") == [SeatNotReady(2.0, "s3", "break")]
    notices = desk.apply(CancelBreak(("s4",)), now=3.0, who="a", why="queue") + desk.apply(
        CallInReserves(("r1",)), now=3.0, who="a", why="queue"
    )
    assert all(isinstance(n, NotifySeat) for n in notices) and [n.seat_id for n in notices] == ["s4", "r1"]
    assert len(desk.log) == 4


@pytest.mark.parametrize(("who", "why"), [("", "x"), ("a", " ")])
def test_an_action_without_who_or_why_is_refused(who: str, why: str) -> None:
    with pytest.raises(ValueError, match="who"):
        ManagerDesk().apply(CancelBreak(("s1",)), now=0.0, who=who, why=why)


def test_a_surge_needs_seats_and_a_future_end() -> None:
    with pytest.raises(ValueError, match="cloud seat"):
        ManagerDesk().apply(ActivateSurge((), until=None, announcement=TEXT), now=0.0, who="a", why="b")
    with pytest.raises(ValueError, match="future"):
        ManagerDesk().apply(ActivateSurge(CLOUD, until=5.0, announcement=TEXT), now=10.0, who="a", why="b")
