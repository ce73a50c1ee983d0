"""The chat delivery run at a short size, as a correctness check: 200 web visitors and 20 seats on
real Socket.IO connections (a process of their own) against the engine in its own process on a
real port. Every message both ways must arrive exactly once and at its own end. Speed is the
benchmark's business (hotline bench chat), never asserted here."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import chat
from bench._faults import PrivateRedis


def test_a_short_delivery_run_loses_doubles_and_misroutes_nothing() -> None:
    parser = argparse.ArgumentParser()
    chat.add_arguments(parser)
    args = parser.parse_args(
        [
            *("--no-wechat", "--visitors", "200", "--seats", "20", "--max-chats", "10"),
            *("--chat-interval", "2", "--deliver-duration", "10"),
        ]
    )
    result = chat.run(args)
    assert result["losses"] == [], "\n".join(result["losses"])
    assert result["conversations_assigned"] == 200 and result["seats_connected"] == 20
    assert result["deliver_lost"] == result["deliver_doubled"] == result["deliver_misrouted"] == 0
    assert result["deliver_refused"] == 0
    # Every visitor wrote several times and every message was answered: both ways were measured.
    assert result["deliver_sent"] >= 2 * 200 * 5
    assert result["deliver_messages"] >= 2 * 200 * 4


def test_the_same_run_through_a_web_gateway_loses_doubles_and_misroutes_nothing(tmp_path: Path) -> None:
    """The visitors and seats on a web gateway process (hotline/relay.py) relaying to the engine;
    the engine's messages reach them through a Redis of the test's own."""
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        parser = argparse.ArgumentParser()
        chat.add_arguments(parser)
        args = parser.parse_args(
            [
                *("--no-wechat", "--visitors", "100", "--seats", "10", "--max-chats", "10"),
                *("--chat-interval", "2", "--deliver-duration", "8", "--gateway", "--redis-url", redis.url),
            ]
        )
        result = chat.run(args)
    finally:
        redis.stop()
    assert result["losses"] == [], "\n".join(result["losses"])
    assert result["gateway"] is True and result["gateway_cpu_ms_per_message"] > 0
    assert result["conversations_assigned"] == 100 and result["seats_connected"] == 10
    assert result["deliver_lost"] == result["deliver_doubled"] == result["deliver_misrouted"] == 0
    assert result["deliver_refused"] == 0
    assert result["deliver_messages"] >= 2 * 100 * 3
