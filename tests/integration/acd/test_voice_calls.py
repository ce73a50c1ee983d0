"""Calls to 12345 through the sandbox Asterisk into the ACD and out to sipp seats."""

from __future__ import annotations

import asyncio

import pytest

from acd.core import SeatNotReady
from tests.integration.acd.voice_harness import voice_stack

pytestmark = pytest.mark.integration


async def test_call_is_routed_by_skill_to_the_business_desk_and_recorded(settings, sessions):
    async def ivr(_voice, call):
        call.ivr_path.append("menu:2")
        return {"queue": "business"}

    async with voice_stack(settings, sessions, ivr=ivr) as s:
        phones = await s.seats(
            ("1001", "seat_answer.xml", {"general": 3}), ("1002", "seat_answer.xml", {"business": 2})
        )
        caller = await s.call("13800000001", hold_ms=2500)
        assert await caller.wait() == 0, caller.out
        assert await phones["1002"].wait() == 0, phones["1002"].out
        rec = await s.record()
        assert phones["1001"].proc.returncode is None  # the general seat was never rung
    assert rec["caller"] == "13800000001"
    assert rec["seat"] == "1002"
    assert rec["queue"] == "business"
    assert rec["ivr_path"] == ["menu:2"]
    assert rec["hangup_side"] == "citizen"
    assert [o["seat"] for o in rec["offers"]] == ["1002"] and rec["offers"][0]["outcome"] == "answered"
    assert 0.2 <= rec["wait_s"] < 5
    assert rec["talk_s"] > 1.0


async def test_unanswered_seat_is_ronad_and_the_next_seat_answers(settings, sessions):
    from acd.core.config import AcdSettings

    acd_settings = AcdSettings(rona_limit=1, wrap_up_s={"voice": 0.5, "chat": 0.0})
    async with voice_stack(settings, sessions, acd_settings=acd_settings, ring_timeout_s=2.0) as s:
        phones = await s.seats(("2001", "seat_noanswer.xml", {"general": 5}))
        later = await s.seats(("2002", "seat_answer.xml", {"general": 1}))
        caller = await s.call("13800000002", hold_ms=5000)
        assert await caller.wait() == 0, caller.out
        assert await phones["2001"].wait() == 0, phones["2001"].out  # got CANCEL
        assert await later["2002"].wait() == 0, later["2002"].out
        rec = await s.record()
        state = s.acd.core.seat_state("2001")
    assert [o["seat"] for o in rec["offers"]] == ["2001", "2002"]
    assert rec["offers"][0]["outcome"].startswith("cancelled")
    assert rec["offers"][1]["outcome"] == "answered"
    assert rec["seat"] == "2002"
    assert state["state"] == "not_ready" and state["reason"] == "no_answer"


async def test_busy_seat_fails_the_offer_and_the_call_goes_on(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        phones = await s.seats(("3001", "seat_busy.xml", {"general": 5}))
        later = await s.seats(("3002", "seat_answer.xml", {"general": 1}))
        caller = await s.call("13800000003", hold_ms=3000)
        assert await caller.wait() == 0, caller.out
        assert await phones["3001"].wait() == 0, phones["3001"].out
        assert await later["3002"].wait() == 0
        rec = await s.record()
    assert [(o["seat"], o["outcome"]) for o in rec["offers"]] == [("3001", "busy"), ("3002", "answered")]


async def test_caller_who_hangs_up_while_waiting_is_an_abandon(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        caller = await s.call("13800000004", hold_ms=1500)
        assert await caller.wait() == 0, caller.out
        rec = await s.record()
        totals = s.acd.core.live_stats()["totals"]
    assert rec["answered"] is None and rec["seat"] is None and rec["offers"] == []
    assert rec["hangup_side"] == "citizen"
    general = [row for row in totals if row.get("queue") == "general" and row.get("channel") == "voice"]
    assert general and general[0]["abandoned"] == 1 and general[0]["answered"] == 0


async def test_caller_who_hangs_up_while_the_seat_rings_cancels_the_ring(settings, sessions):
    async with voice_stack(settings, sessions, ring_timeout_s=10.0) as s:
        phones = await s.seats(("4001", "seat_noanswer.xml", {"general": 5}))
        caller = await s.call("13800000005", hold_ms=1500)
        assert await caller.wait() == 0, caller.out
        assert await phones["4001"].wait() == 0, phones["4001"].out  # the ring was cancelled
        rec = await s.record()
        state = s.acd.core.seat_state("4001")
    assert rec["offers"][0]["outcome"] in ("abandoned_ringing", "cancelled: citizen hung up")
    assert state["state"] == "ready"  # a citizen's hang-up is not the seat's fault


async def test_seat_that_hangs_up_ends_the_call_and_goes_to_wrap_up(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        phones = await s.seats(("5001", "seat_hangup.xml", {"general": 2}))
        caller = await s.call("13800000006", scenario="caller.xml")
        assert await phones["5001"].wait() == 0, phones["5001"].out
        assert await caller.wait() == 0, caller.out
        rec = await s.record()
        await asyncio.sleep(0.1)
        seen = s.acd.core.seat_state("5001")["state"]
    assert rec["hangup_side"] == "seat"
    assert seen in ("wrap_up", "ready")


async def test_not_ready_seat_is_never_offered(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        phones = await s.seats(("6001", "seat_answer.xml", {"general": 5}))
        await s.acd.feed(SeatNotReady(now=s.acd.now(), seat_id="6001", reason="meal"))
        caller = await s.call("13800000007", hold_ms=1500)
        assert await caller.wait() == 0
        rec = await s.record()
        assert phones["6001"].proc.returncode is None
    assert rec["offers"] == []


async def test_calls_of_a_recorded_queue_are_recorded_and_linked_to_their_record(settings, sessions):
    async with voice_stack(settings, sessions, recording_queues=frozenset({"general"})) as s:
        phones = await s.seats(("6101", "seat_answer.xml", {"general": 1}))
        caller = await s.call("13800000008", hold_ms=2500)
        assert await caller.wait(20) == 0, caller.out
        assert await phones["6101"].wait(10) == 0
        rec = await s.record()
        stored = await s.ari.stored_recording(rec["recording"])
    assert rec["recording"] == f"call-{rec['contact']}"
    assert stored["name"] == rec["recording"] and stored["format"] == "wav"
