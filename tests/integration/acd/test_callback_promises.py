"""Call-backs the engine promises without a key press in the queue: past a queue's longest wait
(overflow "callback", the city's default), and from the IVR's call-back node (after hours). Each
promise must reach the citizen's number through a seat, and the seat must be free afterwards.

Both were broken: the overflow hung the citizen up without giving the ACD the number (the seat
was later bridged into silence and stayed busy for ever), and the IVR's node only wrote the
number on the call's record (no call-back was ever made)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from acd.core import QueueConfigured, SeatLoggedIn
from acd.voice.provision import provision
from acd.voice.seats import SeatDevice
from tests.integration.acd import sipp_trace
from tests.integration.acd.test_callback_and_survey import press_then_wait_for_bye
from tests.integration.acd.test_ivr_calls import CITY_FLOW, NATIONAL_DAY, runner
from tests.integration.acd.voice_harness import (
    VoiceStack,
    harness_queues,
    next_port,
    restarted,
    start_sipp,
    voice_stack,
)
from tests.integration.asterisk import SIPP_DIR

pytestmark = pytest.mark.integration


async def _seat_calls_back(s: VoiceStack, tmp_path: Path, seat_id: str, number: str) -> None:
    """A seat logs in; the call-back must reach ``number`` beyond the trunk and free the seat."""
    citizen, trunk_log = await s.trunk(tmp_path)
    port = next_port()
    seat_log = tmp_path / "seat.log"
    seat = await start_sipp(
        str(SIPP_DIR / "seat_hangup.xml"), None, port, "-d", "1500", "-trace_msg", "-message_file", str(seat_log)
    )
    s.sipps.append(seat)
    dev = SeatDevice(seat_id, contact=f"sip:seat{seat_id}@127.0.0.1:{port}")
    s.voice.set_device(dev)
    await provision(s.settings, [dev], s.ami, s.ari)
    await s.acd.feed(SeatLoggedIn(now=s.acd.now(), seat_id=seat_id, skills=(("general", 1),), ready=True))
    assert await citizen.wait(30) == 0, citizen.out  # the citizen's phone rang and was answered
    assert await seat.wait(15) == 0, seat.out
    assert f"INVITE sip:{number}@" in trunk_log.read_text()
    offered = [m for m in sipp_trace.read(seat_log) if m.direction == "received" and m.first_line.startswith("INVITE")]
    assert [sipp_trace.caller_number(m) for m in offered] == [number]
    for _ in range(100):  # the seat is free again: wrap-up, then ready; never stuck on the call
        view = s.acd.core.seat(seat_id)
        if view is not None and view.state in ("wrap_up", "ready") and not s.acd.core.all_contacts():
            return
        await asyncio.sleep(0.1)
    view = s.acd.core.seat(seat_id)
    pytest.fail(f"seat {seat_id} still {view.state if view else None}; contacts {s.acd.core.all_contacts()}")


async def test_a_caller_past_the_longest_wait_is_called_back_and_the_seat_is_freed(settings, sessions, tmp_path):
    async with voice_stack(settings, sessions) as s:
        general = dataclasses.replace(harness_queues()[0], max_wait_s=3.0, overflow="callback")
        await s.acd.feed(QueueConfigured(now=s.acd.now(), queue=general))
        caller = await start_sipp(
            str(SIPP_DIR / "caller.xml"), s.sip_target, next_port(), "-s", "12345", "-key", "caller", "13800000061"
        )
        s.sipps.append(caller)
        assert await caller.wait(30) == 0, caller.out  # promised, confirmed and released by the engine
        contact = next(iter(s.voice.calls))
        assert s.acd.core.contact_position(contact)["state"] == "callback"
        await _seat_calls_back(s, tmp_path, "1801", "13800000061")
        rec = await s.record(lambda r: r.caller == "13800000061")
    events = [o.get("event") for o in rec["offers"] if "event" in o]
    assert events == ["overflow", "callback_requested", "callback_answered"]
    assert rec["seat"] == "1801"


async def test_a_call_back_chosen_in_the_after_hours_menu_is_made_when_a_seat_is_free(settings, sessions, tmp_path):
    ivr = runner(settings, CITY_FLOW, NATIONAL_DAY)
    async with voice_stack(settings, sessions, ivr=ivr.run) as s:
        # The welcome (8.2 s), the after-hours notice (3.9 s) and the menu (11.9 s) play first: the
        # key is pressed in the menu's answer window, then the confirmation and number are said.
        caller = await start_sipp(
            str(press_then_wait_for_bye(tmp_path, "2", 25000)),
            s.sip_target,
            next_port(),
            "-s",
            "12345",
            "-key",
            "caller",
            "13800000062",
            timeout=70,
        )
        s.sipps.append(caller)
        assert await caller.wait(75) == 0, caller.out  # 国庆节 10:00: the after-hours menu; 2 = call-back
        contact = next(iter(s.voice.calls))
        assert s.acd.core.contact_position(contact)["state"] == "callback"
        await _seat_calls_back(s, tmp_path, "1802", "13800000062")
        rec = await s.record(lambda r: r.caller == "13800000062")
    assert "callback" in {step["node"] for step in rec["ivr"]["path"]}
    events = [o.get("event") for o in rec["offers"] if "event" in o]
    assert events == ["callback_requested", "callback_answered"]
    assert rec["seat"] == "1802"


async def test_a_call_back_promised_before_the_engine_stopped_is_made_after_the_restart(settings, sessions, tmp_path):
    """The engine stops with a call-back promised: the citizen is off the line, so Asterisk holds
    nothing of it, and it used to be lost with the engine's memory. The restarted engine finds it
    in the interaction records, the ACD holds it again at its first enqueue time, and a seat
    makes it."""
    async with voice_stack(settings, sessions) as s:
        general = dataclasses.replace(harness_queues()[0], max_wait_s=3.0, overflow="callback")
        await s.acd.feed(QueueConfigured(now=s.acd.now(), queue=general))
        caller = await start_sipp(
            str(SIPP_DIR / "caller.xml"), s.sip_target, next_port(), "-s", "12345", "-key", "caller", "13800000063"
        )
        s.sipps.append(caller)
        assert await caller.wait(30) == 0, caller.out  # promised, confirmed and released by the engine
        contact = next(iter(s.voice.calls))
        enqueued = s.voice.calls[contact].enqueued
        for _ in range(50):  # what outlives the engine: the stored record, not its memory
            stored = await s.records.get(contact)
            if stored is not None and stored.data.get("state") == "callback":
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the promised call-back was never stored")
        # The engine is gone; a new one starts on the same database and Asterisk.
        await s.die()
        async with restarted(settings, s, [general, *harness_queues()[1:]]) as (voice2, acd2):
            assert voice2.resumed == [contact]
            assert acd2.core.contact_position(contact)["state"] == "callback"
            assert acd2.core.contact(contact).enq == pytest.approx(enqueued, abs=0.01)
            await _seat_calls_back(s, tmp_path, "1803", "13800000063")
            rec = await s.record(lambda r: r.caller == "13800000063")
    events = [o.get("event") for o in rec["offers"] if "event" in o]
    assert events == ["overflow", "callback_requested", "callback_resumed", "callback_answered"]
    assert rec["seat"] == "1803" and rec["enqueued"] == pytest.approx(enqueued, abs=0.01)
