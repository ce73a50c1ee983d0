"""The presence table, the grace period and resumption, without sockets or an event loop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_console.core.presence import (
    AWAY,
    OFFLINE,
    ONLINE,
    PRESENCE_TABLE,
    Connected,
    Disconnected,
    Expired,
    IllegalPresence,
    Presence,
    Resumed,
    Tick,
    next_presence,
)


@pytest.mark.parametrize(
    ("state", "action", "after"),
    [(s, a, n) for s, row in PRESENCE_TABLE.items() for a, n in row.items()],
)
def test_every_table_entry_leads_where_it_says(state: str, action: str, after: str) -> None:
    assert next_presence("1001", state, action) == after


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (s, a)
        for s in PRESENCE_TABLE
        for a in ("connect", "disconnect", "disconnect_last", "expire")
        if a not in PRESENCE_TABLE[s]
    ],
)
def test_every_pair_missing_from_the_table_raises(state: str, action: str) -> None:
    with pytest.raises(IllegalPresence, match=f"cannot take '{action}'"):
        next_presence("1001", state, action)


def test_last_socket_gone_starts_grace_and_expiry_fires_at_its_end() -> None:
    p = Presence(grace_s=60)
    assert p.handle(Connected(0, "1001", "a")) == []
    assert p.handle(Disconnected(10, "1001", "a")) == []
    assert p.state("1001") == AWAY and p.next_deadline() == 70
    assert p.handle(Tick(69.9)) == []
    assert p.handle(Tick(70)) == [Expired("1001", 10)]
    assert p.state("1001") == OFFLINE and p.next_deadline() is None


def test_reconnect_within_grace_resumes_and_cancels_the_expiry() -> None:
    p = Presence(grace_s=60)
    p.handle(Connected(0, "1001", "a"))
    p.handle(Disconnected(10, "1001", "a"))
    assert p.handle(Connected(30, "1001", "b")) == [Resumed("1001", 20)]
    assert p.next_deadline() is None
    assert p.handle(Tick(1000)) == []
    assert p.state("1001") == ONLINE and p.sockets("1001") == frozenset({"b"})


def test_a_second_tab_keeps_the_seat_online_when_the_first_closes() -> None:
    p = Presence(grace_s=5)
    p.handle(Connected(0, "1001", "a"))
    p.handle(Connected(1, "1001", "b"))
    p.handle(Disconnected(2, "1001", "a"))
    assert p.state("1001") == ONLINE and p.handle(Tick(100)) == []


def test_a_second_loss_restarts_the_grace_period() -> None:
    p = Presence(grace_s=10)
    p.handle(Connected(0, "1001", "a"))
    p.handle(Disconnected(1, "1001", "a"))
    p.handle(Connected(5, "1001", "b"))
    p.handle(Disconnected(8, "1001", "b"))
    assert p.handle(Tick(11)) == []  # the first loss's deadline no longer applies
    assert p.handle(Tick(18)) == [Expired("1001", 8)]


def test_unknown_socket_and_time_going_back_are_refused() -> None:
    p = Presence(grace_s=10)
    with pytest.raises(ValueError, match="no socket"):
        p.handle(Disconnected(1, "1001", "ghost"))
    p.handle(Tick(5))
    with pytest.raises(ValueError, match="backwards"):
        p.handle(Tick(4))
    with pytest.raises(ValueError, match="positive"):
        Presence(grace_s=0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["c", "d", "t"]), st.sampled_from(["1", "2"]), st.sampled_from(["x", "y"]), st.floats(0, 30)
        ),
        max_size=40,
    )
)
def test_a_seat_expires_only_after_grace_without_any_socket(steps: list[tuple[str, str, str, float]]) -> None:
    grace = 10.0
    p = Presence(grace)
    now = 0.0
    sockets: dict[str, set[str]] = {"1": set(), "2": set()}
    alone_since: dict[str, float | None] = {"1": None, "2": None}
    for kind, seat, sid, dt in steps:
        now += dt
        if kind == "c":
            out = p.handle(Connected(now, seat, seat + sid))
            sockets[seat].add(seat + sid)
            alone_since[seat] = None
        elif kind == "d" and seat + sid in sockets[seat]:
            out = p.handle(Disconnected(now, seat, seat + sid))
            sockets[seat].discard(seat + sid)
            if not sockets[seat]:
                alone_since[seat] = now
        else:
            out = p.handle(Tick(now))
        for cmd in out:
            if isinstance(cmd, Expired):
                since = alone_since[cmd.seat_id]
                assert since is not None and not sockets[cmd.seat_id] and now - since >= grace
                assert cmd.away_since == since
                alone_since[cmd.seat_id] = None
        for s in ("1", "2"):
            assert p.sockets(s) == frozenset(sockets[s])
            since = alone_since[s]
            if since is not None and now - since >= grace:
                pytest.fail(f"seat {s} away past grace without an expiry")
