"""The voice side's event dispatch: one call's events in order, different calls side by side,
(re)connections as barriers. Events are fed as Asterisk would send them; nothing is answered."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.ari.client import CONNECTED, AriClient
from acd.service import AcdService
from acd.voice.core.call import Call, SeatLeg
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


async def _settled(v: VoiceService) -> None:
    while pending := [t for t in v._handlers() if not t.done()]:
        await asyncio.wait(pending)


async def test_one_calls_events_wait_for_each_other_while_another_call_goes_ahead() -> None:
    v = _service()
    done: list[str] = []
    release_a = asyncio.Event()
    release_reconcile = asyncio.Event()

    async def on_event(event: dict[str, Any]) -> None:
        name = event.get("name", event["type"])
        if name == "a1":
            await release_a.wait()  # the first event of call A waits on Asterisk
        if name == "connected":
            await release_reconcile.wait()  # reconciliation lists channels and bridges
        done.append(name)

    v.on_event = on_event  # type: ignore[method-assign]
    v._dispatch(_ev("StasisStart", "A", name="a1", args=["inbound"]))
    v._dispatch(_ev("ChannelDestroyed", "A", name="a2"))
    v._dispatch(_ev("StasisStart", "B", name="b1", args=["inbound"]))
    await asyncio.sleep(0.05)
    assert done == ["b1"]  # B went ahead; A's second event waits for its first
    # a (re)connection is a barrier: it waits for everything before it, everything after waits for it
    v._dispatch({"type": CONNECTED, "name": "connected"})
    v._dispatch(_ev("StasisStart", "C", name="c1", args=["inbound"]))
    await asyncio.sleep(0.05)
    assert done == ["b1"]
    release_a.set()
    await asyncio.sleep(0.05)
    assert done == ["b1", "a1", "a2"]  # C still waits for the reconciliation
    release_reconcile.set()
    await asyncio.wait_for(_settled(v), 5)
    assert done == ["b1", "a1", "a2", "connected", "c1"]
    assert v._chains == {}  # finished chains are forgotten


async def test_a_handler_that_fails_does_not_stop_the_next_event_of_its_call() -> None:
    v = _service()
    done: list[str] = []

    async def on_event(event: dict[str, Any]) -> None:
        if event["name"] == "boom":
            raise RuntimeError("handler bug")
        done.append(event["name"])

    v.on_event = on_event  # type: ignore[method-assign]
    v._dispatch(_ev("StasisStart", "A", name="boom", args=["inbound"]))
    v._dispatch(_ev("ChannelDestroyed", "A", name="after"))
    await asyncio.wait_for(_settled(v), 5)
    assert done == ["after"]


async def test_stop_cancels_handlers_still_waiting_and_the_reconciliation() -> None:
    v = _service()
    never = asyncio.Event()

    async def on_event(event: dict[str, Any]) -> None:
        await never.wait()

    v.on_event = on_event  # type: ignore[method-assign]
    v._dispatch(_ev("StasisStart", "A", args=["inbound"]))
    v._dispatch({"type": CONNECTED})
    v._dispatch(_ev("StasisStart", "B", args=["inbound"]))
    tasks = v._handlers()
    assert len(tasks) == 3
    await v.stop()
    assert all(t.cancelled() for t in tasks)


class _SlowRecords:
    """A records store whose database does not answer."""

    async def open_callbacks(self, since: float, limit: int = 10_000) -> list[Any]:
        await asyncio.sleep(3600)
        return []


def test_a_database_that_does_not_answer_delays_the_start_by_the_timeout_only(caplog: Any) -> None:
    v = _service()
    v.records = _SlowRecords()  # type: ignore[assignment]
    v.resume_timeout_s = 0.05

    async def go() -> None:
        async with asyncio.timeout(2):
            await v._resume_callbacks()

    asyncio.run(go())
    assert v.resumed == []
    (logged,) = [r for r in caplog.records if "not resumed: records unreadable" in r.getMessage()]
    assert logged.cause == "TimeoutError"
