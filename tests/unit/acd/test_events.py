"""Events survive the trip to a JSON log and back; malformed records are refused with a clear error."""

from __future__ import annotations

import json

import pytest

from acd.core import (
    ContactArrived,
    QueueConfig,
    QueueConfigured,
    SeatLoggedIn,
    event_from_dict,
    event_to_dict,
)
from acd.core.commands import Offer, command_from_dict, command_to_dict


@pytest.mark.parametrize(
    "event",
    [
        QueueConfigured(
            1.5,
            QueueConfig("q", skills=(("tax", 2),), open_hours=((480, 1080),), widen_after_s=(10.0, None, 30.0, 40.0)),
        ),
        ContactArrived(2.0, "c", "wechat", "q", "repeat", (("tax", 3),), (("biz", 1),), "yue", "139", 1.0),
        SeatLoggedIn(3.0, "s", (("tax", 5),), ("north",), "cloud", 4.0, 2, True),
    ],
)
def test_an_event_comes_back_equal_from_its_json_record(event: object) -> None:
    record = json.loads(json.dumps(event_to_dict(event)))  # type: ignore[arg-type]
    assert event_from_dict(record) == event


@pytest.mark.parametrize(
    "record,message",
    [
        ({"type": "Nope", "now": 1}, "not an ACD event"),
        ({"type": "Tick", "now": 1, "extra": 2}, "bad Tick record"),
        ("Tick", "not an ACD event"),
    ],
)
def test_a_malformed_record_is_refused_with_the_reason(record: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        event_from_dict(record)  # type: ignore[arg-type]


def test_a_command_comes_back_equal_from_its_record() -> None:
    offer = Offer("c", "s", "voice", 15.0, "arrived")
    assert command_from_dict(json.loads(json.dumps(command_to_dict(offer)))) == offer


def test_a_queue_with_a_bad_setting_names_it() -> None:
    with pytest.raises(ValueError, match="strategy must be one of"):
        QueueConfig("q", strategy="random")
    with pytest.raises(ValueError, match="proficiency of 'tax' must be an integer 1-5"):
        QueueConfig("q", skills=(("tax", 0),))
