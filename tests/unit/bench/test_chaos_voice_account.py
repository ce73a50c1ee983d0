"""The voice side's count in the chaos and failover benches: each call Asterisk answered has one
interaction, ended; a missed-call call-back (漏接回拨) for the same number is a call of its own."""

from __future__ import annotations

from bench.chaos_voice import Call, account


def _row(number: str, **data: object) -> tuple[str, object, dict[str, object]]:
    return (number, 5.0, {"enqueued": 1.0, "answered": 2.0, "wait_s": 3.0, **data})


def test_a_missed_call_call_back_is_not_the_call_stored_twice_but_a_second_record_is() -> None:
    calls = [Call("13900000001", 0.0, 20.0, answered=True), Call("13900000002", 0.0, 20.0, answered=True)]
    callback = _row("13900000001", offers=[{"event": "missed_call_callback", "task": "cb-x", "for": ["x"]}])
    out = account(calls, [_row("13900000001"), callback, _row("13900000002")], "1390")
    assert (out["voice_lost"], out["voice_doubled"], out["voice_losses"]) == (0, 0, [])
    assert out["missed_call_callbacks"] == 1 and out["calls_queued"] == 2

    twice = account(calls, [_row("13900000001"), _row("13900000001"), _row("13900000002")], "1390")
    assert twice["voice_doubled"] == 1
    assert twice["voice_losses"] == ["call from 13900000001: 2 interactions stored"]
