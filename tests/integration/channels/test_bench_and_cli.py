"""The chat benchmark runs end to end at a tiny size; the stand-in command refuses bad options."""

from __future__ import annotations

import argparse

import pytest

from hotline.cli import main


def test_chat_benchmark_runs_at_a_small_size_and_reports_the_agreed_keys():
    from bench import chat

    parser = argparse.ArgumentParser()
    chat.add_arguments(parser)
    args = parser.parse_args(
        [
            *("--rate", "40", "--duration", "1", "--visitors", "10", "--seats", "3", "--reply-rate", "10"),
            *("--chat-interval", "0.5", "--deliver-duration", "2"),
        ]
    )
    result = chat.run(args)
    assert result["losses"] == [], result["losses"]
    assert result["visitors"] == 10 and result["pushes"] == 40
    assert result["ack_failures"] == 0 and result["reached_sink"] == 40 and result["reply_failures"] == 0
    assert result["wechat_lost"] == result["wechat_doubled"] == 0
    assert result["wechat_ack_p99_ms"] > 0 and "cores" in result["machine"]
    # Web chat: every visitor got a seat, every message measured arrived, both ways.
    assert result["visitors_connected"] == 10 and result["seats_connected"] == 3, result
    assert result["conversations_assigned"] == 10 and result["deliver_lost"] == 0
    assert result["deliver_messages"] >= 2 * 10 * 2 and result["deliver_p99_ms"] > 0
    assert result["visitor_to_seat_p99_ms"] > 0 and result["seat_to_visitor_p99_ms"] > 0
    # The engine's own CPU time, per push and per chat message, read in the engine's process.
    assert result["engine_cpu_ms_per_push"] > 0 and result["engine_cpu_ms_per_message"] > 0


def test_benchmark_refuses_non_positive_sizes():
    from bench import chat
    from hotline.errors import CommandError

    parser = argparse.ArgumentParser()
    chat.add_arguments(parser)
    with pytest.raises(CommandError):
        chat.run(parser.parse_args(["--rate", "0"]))


def test_standin_command_names_a_bad_port_in_one_line(capsys):
    code = main(["wechat-standin", "--app-id", "wx1", "--app-secret", "s", "--port", "70000"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "--port 70000" in err and "\n" not in err
