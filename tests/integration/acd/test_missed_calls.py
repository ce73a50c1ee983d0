"""Missed calls are called back (漏接回拨): once per number, by a seat, through the trunk."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from acd.core import SeatLoggedIn
from acd.voice.missed import MissedCalls
from acd.voice.provision import provision
from acd.voice.seats import SeatDevice
from ivr.core.callbacks import MissedCallPlanner
from tests.integration.acd.voice_harness import next_port, start_sipp, voice_stack
from tests.integration.asterisk import SIPP_DIR

pytestmark = pytest.mark.integration


async def test_two_abandons_from_one_number_give_one_call_back_that_a_seat_makes(settings, sessions, tmp_path):
    missed = MissedCalls(MissedCallPlanner(window=dt.timedelta(hours=1), grace=dt.timedelta(0)), tick_s=0.2)
    async with voice_stack(settings, sessions, missed=missed) as s:

        async def until(ok, what: str) -> None:  # type: ignore[no-untyped-def]
            for _ in range(200):  # the planner's ticks are 0.2 s apart; a loaded machine is slower
                if ok():
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(what)

        def covers() -> list[str]:
            head = s.voice.calls[missed.created[0]].offers[0]
            return list(head.get("for", []))

        caller = await s.call("13800000061", hold_ms=1000)
        assert await caller.wait(20) == 0, caller.out
        await until(lambda: len(missed.created) == 1, "no call-back for the first missed call")
        caller = await s.call("13800000061", hold_ms=1000)
        assert await caller.wait(20) == 0, caller.out
        await until(lambda: len(covers()) == 2, f"the second missed call not joined to the call-back: {covers()}")
        assert len(missed.created) == 1
        contact = missed.created[0]
        assert s.acd.core.contact_position(contact)["state"] == "callback"
        citizen, trunk_log = await s.trunk(tmp_path)
        port = next_port()
        seat = await start_sipp(str(SIPP_DIR / "seat_hangup.xml"), None, port, "-d", "1000")
        s.sipps.append(seat)
        dev = SeatDevice("1801", contact=f"sip:seat1801@127.0.0.1:{port}")
        s.voice.set_device(dev)
        await provision(settings, [dev], s.ami, s.ari)
        await s.acd.feed(SeatLoggedIn(now=s.acd.now(), seat_id="1801", skills=(("general", 1),), ready=True))
        assert await seat.wait(30) == 0, seat.out
        assert await citizen.wait(15) == 0, citizen.out
        rec = await s.record(lambda r: r.contact_id == contact)
    assert trunk_log.read_text().count("INVITE sip:13800000061@") == 1
    events = [o.get("event") for o in rec["offers"] if "event" in o]
    assert events[0] == "missed_call_callback" and "callback_answered" in events
    assert len(rec["offers"][0]["for"]) == 2  # both missed calls are answered by this one call-back
    assert rec["seat"] == "1801"
