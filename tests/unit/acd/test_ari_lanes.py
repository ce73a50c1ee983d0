"""Which websocket an ARI request goes on: the resources it names, and the lane choice."""

from __future__ import annotations

from types import SimpleNamespace

from acd.ari.client import _Lane, _resources, pick_lane


def test_resources_come_from_the_path_and_from_id_parameters() -> None:
    assert _resources("/channels/c1/answer", {}) == ("c1",)
    assert _resources("/channels", {"endpoint": "PJSIP/s1", "channelId": "seat-1"}) == ("seat-1",)
    assert _resources("/bridges/b1/addChannel", {"channel": "c1,c2"}) == ("b1", "c1", "c2")
    assert _resources("/bridges", {"type": "mixing", "bridgeId": "b2"}) == ("b2",)
    assert _resources("/channels/c1/snoop", {"app": "hotline", "snoopId": "s1"}) == ("c1", "s1")
    assert _resources("/asterisk/ping", {}) == ()
    assert _resources("/channels", {}) == ()


def _lanes(*waiting: int, usable: bool = True) -> list[_Lane]:
    lanes = []
    for i, n in enumerate(waiting):
        lane = _Lane(f"l{i}")
        lane.ws = SimpleNamespace(closed=False)  # type: ignore[assignment]
        lane.rest = usable
        lane.pending = {f"r{j}": None for j in range(n)}  # type: ignore[misc]
        lanes.append(lane)
    return lanes


def test_the_lane_with_the_fewest_waiting_requests_wins_the_first_of_equals() -> None:
    lanes = _lanes(2, 1, 1)
    assert pick_lane(lanes, ()) is lanes[1]
    assert pick_lane(lanes, ("c9",)) is lanes[1]
    lanes = _lanes(0, 0)
    assert pick_lane(lanes, ()) is lanes[0]


def test_a_request_follows_one_in_flight_about_the_same_resource_even_on_a_busier_lane() -> None:
    lanes = _lanes(3, 0, 0)
    lanes[0].busy["seat-1"] = 1
    assert pick_lane(lanes, ("seat-1",)) is lanes[0]
    assert pick_lane(lanes, ("hold-general", "seat-1")) is lanes[0]
    assert pick_lane(lanes, ("seat-2",)) is lanes[1]


def test_unusable_lanes_are_skipped_and_none_means_http() -> None:
    lanes = _lanes(0, 5)
    lanes[0].ws.closed = True  # type: ignore[union-attr]
    assert pick_lane(lanes, ()) is lanes[1]
    lanes[1].rest = False  # the probe not answered (yet, or an older Asterisk)
    assert pick_lane(lanes, ()) is None
    lanes[1].rest = True
    lanes[1].ws = None
    assert pick_lane(lanes, ()) is None
    assert pick_lane([], ("c1",)) is None
