"""Which websocket an ARI request goes on: the resources it names, and the lane choice."""

from __future__ import annotations

from types import SimpleNamespace

from acd.ari.client import STALL_S, _Lane, _resources, pick_lane

NOW = 1000.0


def test_resources_come_from_the_path_and_from_id_parameters() -> None:
    assert _resources("/channels/c1/answer", {}) == ("c1",)
    assert _resources("/channels", {"endpoint": "PJSIP/s1", "channelId": "seat-1"}) == ("seat-1",)
    # A bridge ties nothing: a queue's holding bridge is shared by all its callers.
    assert _resources("/bridges/b1/addChannel", {"channel": "c1,c2"}) == ("c1", "c2")
    assert _resources("/bridges", {"type": "mixing", "bridgeId": "b2"}) == ()
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
    assert pick_lane(lanes, (), NOW) is lanes[1]
    assert pick_lane(lanes, ("c9",), NOW) is lanes[1]
    lanes = _lanes(0, 0)
    assert pick_lane(lanes, (), NOW) is lanes[0]


def test_a_request_follows_one_in_flight_about_the_same_resource_even_on_a_busier_lane() -> None:
    lanes = _lanes(3, 0, 0)
    lanes[0].busy["seat-1"] = 1
    assert pick_lane(lanes, ("seat-1",), NOW) is lanes[0]
    assert pick_lane(lanes, ("seat-1", "hold-general"), NOW) is lanes[0]
    assert pick_lane(lanes, ("seat-2",), NOW) is lanes[1]


def test_unusable_lanes_are_skipped_and_none_means_http() -> None:
    lanes = _lanes(0, 5)
    lanes[0].ws.closed = True  # type: ignore[union-attr]
    assert pick_lane(lanes, (), NOW) is lanes[1]
    lanes[1].rest = False  # the probe not answered (yet, or an older Asterisk)
    assert pick_lane(lanes, (), NOW) is None
    lanes[1].rest = True
    lanes[1].ws = None
    assert pick_lane(lanes, (), NOW) is None
    assert pick_lane([], ("c1",), NOW) is None


def test_a_lane_stuck_behind_a_slow_request_takes_no_new_ones_but_keeps_its_channels() -> None:
    lanes = _lanes(1, 2, 3)
    lanes[0].since["r0"] = NOW - 2 * STALL_S  # e.g. a move of a channel that hears a prompt
    lanes[0].busy["caller-1"] = 1
    lanes[1].since = {"r0": NOW - STALL_S / 2, "r1": NOW}
    assert pick_lane(lanes, (), NOW) is lanes[1]
    assert pick_lane(lanes, ("caller-2",), NOW) is lanes[1]
    # Requests about the stuck channel stay behind it, in order.
    assert pick_lane(lanes, ("caller-1",), NOW) is lanes[0]
    for lane in lanes[1:]:
        lane.since["r0"] = NOW - 2 * STALL_S
    assert pick_lane(lanes, (), NOW) is None  # every websocket stuck: the request goes by HTTP
