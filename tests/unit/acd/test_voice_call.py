"""A call is plain data: it goes to JSON and back whole, with its seat leg and timeline."""

from __future__ import annotations

import json

from acd.voice.core.call import Call, SeatLeg, restore, snapshot
from acd.voice.core.states import TALKING


def test_a_talking_call_survives_a_round_trip_through_json() -> None:
    call = Call(contact_id="c7", channel_id="c7", caller="13800000007", arrived=100.0, queue="general")
    call.move("enqueue")
    call.enqueued = 101.0
    call.leg = SeatLeg(channel_id="seat-c7-1", seat_id="1001", started=102.0)
    call.move("offer")
    call.offers.append({"seat": "1001", "at": 102.0, "reason": "best", "outcome": None})
    call.leg.answered = 104.5
    call.move("answered")
    call.answered, call.seat_id, call.talk_bridge = 104.5, "1001", "talk-seat-c7-1"
    call.announcing = "ann-c7-3"
    again = restore(json.loads(json.dumps(snapshot(call))))
    assert again == call
    assert again.state == TALKING and isinstance(again.leg, SeatLeg) and again.leg.answered == 104.5
    assert again.record() == call.record()


def test_a_snapshot_from_a_newer_engine_loses_only_what_this_one_does_not_know() -> None:
    data = snapshot(Call(contact_id="c8", channel_id="c8", caller="", arrived=1.0))
    data["colour"] = "blue"
    assert restore(data).contact_id == "c8"
