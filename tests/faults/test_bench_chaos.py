"""``hotline bench chaos`` end to end at a small size: a real engine killed, its PostgreSQL cut, its
Redis killed, WeChat's API down and the sandbox Asterisk killed while web and WeChat citizens chat
and citizens call 12345; the bench finds every message, chat and call once."""

from __future__ import annotations

import argparse

import pytest

from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.integration


def test_the_chaos_bench_puts_each_fault_through_and_finds_nothing_lost_or_doubled():
    from bench import chaos

    parser = argparse.ArgumentParser()
    chaos.add_arguments(parser)
    args = parser.parse_args(
        [
            *("--minutes", "2", "--seed", "1", "--fault-every", "6:8", "--no-baseline"),
            *("--seats", "3", "--arrivals-per-min", "20", "--messages", "3", "--db-url", PG_ADMIN_URL),
            *("--calls-per-min", "10", "--voice-seats", "3", "--hold", "12:20"),
        ]
    )
    result = chaos.run(args)
    assert result["losses"] == [], result["losses"]
    assert (result["lost"], result["doubled"]) == (0, 0)
    # Seed 1 chooses each kind (the faults have a generator of their own; the log says when).
    assert sorted(result["fault_kinds"]) == ["asterisk", "engine", "postgres", "redis", "wechat"], result["fault_log"]
    assert result["engine_faults_unrecovered"] == 0 and result["recovery_max_s"] is not None
    assert result["contacts"] >= 10 and result["messages"] >= 2 * 3 * 10
    assert 0 < result["messages_wechat"] < result["messages"]  # both channels in the same queue
    assert result["faults_skipped"] == {}
    # Calls through every fault: each one Asterisk answered stored once and ended (checked above as
    # losses), most of them queued and answered by the cloud seats behind the trunk.
    assert result["calls"] >= 12 and result["calls_reached"] >= 8, result
    assert result["calls_answered"] >= 5 and result["sl15"] is not None


def test_the_chaos_bench_refuses_an_unknown_fault():
    from bench import chaos
    from hotline.errors import CommandError

    parser = argparse.ArgumentParser()
    chaos.add_arguments(parser)
    with pytest.raises(CommandError, match="--faults"):
        chaos.run(parser.parse_args(["--faults", "engine,meteor"]))
