"""``hotline bench failover`` end to end at a small size: two real engines in cluster mode behind
a real HAProxy with two web gateways holding the sockets, the active one killed twice while web and
WeChat citizens chat and citizens call 12345 on two peered sandbox Asterisk servers; the standby
takes over each time and the bench finds every message, chat and call once."""

from __future__ import annotations

import argparse

import pytest

from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.integration


def parsed(*argv: str) -> argparse.Namespace:
    from bench import failover

    parser = argparse.ArgumentParser()
    failover.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_failover_bench_kills_the_active_engine_and_finds_nothing_lost_or_doubled():
    from bench import failover

    args = parsed(
        *("--minutes", "1.2", "--kills", "2", "--seed", "3", "--no-baseline", "--db-url", PG_ADMIN_URL),
        *("--seats", "3", "--arrivals-per-min", "20", "--messages", "2"),
        *("--calls-per-min", "12", "--voice-seats", "3", "--hold", "15:25"),
        # The sockets on two web gateways (hotline/relay.py): a kill cuts none of them; the
        # gateways connect them again on the new engine (without gateways: tests/cluster/test_failover.py).
        *("--gateways", "2"),
        # The citizens call two Asterisk servers in turn (bench/_servers.py's e and f, peered by
        # the trunk), both driven by the active engine: a takeover picks up the calls on both.
        *("--asterisks", "2"),
        # One sipp per server places its calls at a steady rate (the mode the bench runs at 20
        # calls/s in); the chaos bench's test keeps the sipp per call.
        "--steady-calls",
    )
    result = failover.run(args)
    assert result["losses"] == [], result["losses"]
    assert (result["lost"], result["doubled"]) == (0, 0)
    assert result["kills"] == 2
    # No engine fenced itself for nothing (a busy one keeps its lease: renewals on their own thread).
    assert result["unplanned_exits"] == [], result["unplanned_exits"]
    # Each engine was killed once: the one started again as a standby took over the next time.
    assert sorted(k["killed"] for k in result["kill_log"]) == ["a", "b"], result["kill_log"]
    for kill in result["kill_log"]:
        assert 0 < kill["takeover_s"] <= kill["takeover_haproxy_s"], kill
        assert kill["recovery_s"] is not None, kill  # a citizen was served by the new active engine
    assert result["contacts"] >= 8 and result["messages"] >= 2 * 2 * 8
    assert result["voice_skipped"] is None and result["gateways"] == 2
    assert result["calls"] >= 6 and result["calls_answered"] >= 3 and result["sl15"] is not None, result
    by_server = result["calls_by_server"]
    assert sorted(by_server) == ["e", "f"], by_server
    for name, row in by_server.items():
        assert row["placed"] >= 3 and row["reached"] == row["placed"] and row["answered"] >= 1, (name, row)
        # Each server's Asterisk worked for its callers (greeting, hold music, the seat's leg).
        assert row["asterisk_cpu_s"] > 0 and row["asterisk_cpu_ms_per_call"] > 0, (name, row)
    # Each record names the server its caller dialed: e is the engines' main Asterisk, f a peer.
    assert set(by_server["e"]["stored_as"]) == {"default"} and set(by_server["f"]["stored_as"]) == {"f"}, by_server


def test_the_failover_bench_needs_postgresql_and_room_for_its_kills():
    from bench import failover
    from hotline.errors import CommandError

    with pytest.raises(CommandError, match="PostgreSQL"):
        failover.run(parsed("--db-url", "sqlite:///x.db"))
    with pytest.raises(CommandError, match="too short"):
        failover.run(parsed("--minutes", "0.5", "--kills", "5", "--db-url", PG_ADMIN_URL))


def test_kill_moments_fall_one_in_each_slice_of_the_load_and_follow_the_seed():
    from bench.failover import kill_moments

    moments = kill_moments(7, 5, 240.0)
    assert len(moments) == 5 and moments == sorted(moments)
    width = (220.0 - 10.0) / 5
    for k, at in enumerate(moments):
        assert 10 + k * width < at < 10 + (k + 1) * width
    assert kill_moments(7, 5, 240.0) == moments and kill_moments(8, 5, 240.0) != moments
