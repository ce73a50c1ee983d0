"""The voice side's event dispatch: one call's events in order, different calls side by side,
(re)connections as barriers. Events are fed as Asterisk would send them; nothing is answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from acd.ari.client import CONNECTED, AriClient
from acd.service import AcdService
from acd.voice.calls import Call, SeatLeg
from acd.voice.service import VoiceService
from hotline.bus import Bus


def _service() -> VoiceService:
    ari = AriClient("http://127.0.0.1:9/ari", "u", "p", "hotline")  # never reached in these tests
    return VoiceService(ari, AcdService(Bus()))


def _ev(kind: str, channel: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "channel": {"id": channel}, **extra}


def test_a_calls_channels_share_its_key_and_strangers_keep_their_own() -> None:
    v = _service()
    call = Call(contact_id="c1", channel_id="c1", caller="139", arrived=0.0)
    call.leg = SeatLeg(channel_id="seat-c1-1", seat_id="s1", started=0.0)
    v.by_channel["c1"] = call
    v.legs["seat-c1-1"] = call
    assert v._key_of(_ev("StasisStart", "c1", args=["inbound"])) == "c1"
    assert v._key_of(_ev("StasisStart", "seat-c1-9", args=["seat", "c1", "s1"])) == "c1"  # before it is known
    assert v._key_of(_ev("ChannelDestroyed", "seat-c1-1")) == "c1"
    assert v._key_of({"type": "PlaybackFinished", "playback": {"target_uri": "channel:c1"}}) == "c1"
    assert v._key_of(_ev("ChannelDestroyed", "other")) == "other"
    assert v._key_of({"type": "StasisStart", "channel": "not a dict"}) == ""


async def test_one_calls_events_wait_for_each_other_while_another_call_goes_ahead() -> None:
    v = _service()
    done: list[str] = []
    release_a = asyncio.Event()

    async def on_event(event: dict[str, Any]) -> None:
        name = event.get("name", event["type"])
        if name == "a1":
            await release_a.wait()  # the first event of call A waits on Asterisk
        done.append(name)

    async def events() -> AsyncIterator[dict[str, Any]]:
        yield _ev("StasisStart", "A", name="a1", args=["inbound"])
        yield _ev("ChannelDestroyed", "A", name="a2")
        yield _ev("StasisStart", "B", name="b1", args=["inbound"])
        await asyncio.sleep(0.05)
        assert done == ["b1"]  # B went ahead; A's second event waits for its first
        release_a.set()
        await asyncio.sleep(0.05)
        yield {"type": CONNECTED, "name": "connected"}  # a barrier: everything before it is finished

    v.on_event = on_event  # type: ignore[method-assign]
    v.ari.events = lambda **_: events()  # type: ignore[method-assign]
    await asyncio.wait_for(v._run(), 5)
    assert done == ["b1", "a1", "a2", "connected"]
    assert v._chains == {}  # finished chains are forgotten


async def test_a_handler_that_fails_does_not_stop_the_next_event_of_its_call() -> None:
    v = _service()
    done: list[str] = []

    async def on_event(event: dict[str, Any]) -> None:
        if event["name"] == "boom":
            raise RuntimeError("handler bug")
        done.append(event["name"])

    async def events() -> AsyncIterator[dict[str, Any]]:
        yield _ev("StasisStart", "A", name="boom", args=["inbound"])
        yield _ev("ChannelDestroyed", "A", name="after")

    v.on_event = on_event  # type: ignore[method-assign]
    v.ari.events = lambda **_: events()  # type: ignore[method-assign]
    await v._run()
    await v._drain()
    assert done == ["after"]
