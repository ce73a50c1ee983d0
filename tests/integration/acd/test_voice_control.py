"""Seat and supervisor actions on live calls through the sandbox: one-click 110, three-party
calls, cloud seats through the trunk, supervisor listen."""

from __future__ import annotations

import asyncio

import pytest

from acd.voice.api import VoiceError
from acd.voice.seats import SeatDevice
from tests.integration.acd.voice_harness import voice_stack

pytestmark = pytest.mark.integration


def events(rec):
    return [o.get("event") for o in rec["offers"] if "event" in o]


async def test_one_click_transfer_to_110_releases_the_seat_once_110_answers(settings, sessions, tmp_path):
    async with voice_stack(settings, sessions) as s:
        phones = await s.seats(("7001", "seat_answer.xml", {"general": 3}))
        police, log = await s.trunk(tmp_path)
        caller = await s.call("13800000011", hold_ms=6000)
        await s.talking("7001")
        await s.voice.control.emergency_transfer("7001", "police")
        assert await phones["7001"].wait(15) == 0  # the seat got BYE: released
        assert await caller.wait(20) == 0
        assert await police.wait(15) == 0, police.out  # 110 got the hang-up
        rec = await s.record()
    assert "INVITE sip:110@" in log.read_text()
    assert events(rec)[:3] == ["transfer", "transfer_answered", "seat_left"]
    assert rec["hangup_side"] == "citizen"


async def test_three_party_call_that_the_seat_leaves(settings, sessions, tmp_path):
    async with voice_stack(settings, sessions) as s:
        phones = await s.seats(("7002", "seat_answer.xml", {"general": 3}))
        other, log = await s.trunk(tmp_path)
        caller = await s.call("13800000012", hold_ms=7000)
        await s.talking("7002")
        with pytest.raises(VoiceError):
            await s.voice.control.leave_three_party("7002")  # nobody else there yet
        await s.voice.control.three_party("7002", "87654321")
        for _ in range(100):
            party = next(iter(s.voice.calls.values())).party("three_party")
            if party is not None and party.answered is not None:
                break
            await asyncio.sleep(0.05)
        bridge = next(b for b in await s.ari.bridges() if b["id"].startswith("talk-"))
        assert len(bridge["channels"]) == 3  # citizen, seat, third party
        await s.voice.control.leave_three_party("7002")
        assert await phones["7002"].wait(15) == 0
        bridge = next(b for b in await s.ari.bridges() if b["id"].startswith("talk-"))
        assert len(bridge["channels"]) == 2
        assert await caller.wait(20) == 0
        assert await other.wait(15) == 0
        rec = await s.record()
    assert "INVITE sip:87654321@" in log.read_text()
    assert events(rec) == ["three_party", "three_party_answered", "seat_left"]


async def test_cloud_seat_is_reached_at_its_external_number_through_the_trunk(settings, sessions, tmp_path):
    from acd.core import QueueConfig, QueueConfigured, SeatLoggedIn

    async with voice_stack(settings, sessions) as s:
        # Cloud seats are the last widening step: with no on-site seat, the projected wait
        # breaks the 15 s target at once and the call widens to them.
        await s.acd.feed(QueueConfigured(now=s.acd.now(), queue=QueueConfig(name="general", skills=(("general", 1),))))
        home, log = await s.trunk(tmp_path)
        s.voice.set_device(SeatDevice("8001", kind="cloud", number="13900000009"))
        await s.acd.feed(
            SeatLoggedIn(
                now=s.acd.now(), seat_id="8001", skills=(("general", 2),), kind="cloud", ring_delay_s=2.0, ready=True
            )
        )
        caller = await s.call("13800000013", hold_ms=2500)
        assert await caller.wait(20) == 0
        assert await home.wait(15) == 0
        rec = await s.record()
    text = log.read_text()
    assert "INVITE sip:13900000009@" in text
    assert 'From: "13800000013"' in text  # the seat sees the citizen's number
    assert rec["seat"] == "8001" and rec["offers"][0]["outcome"] == "answered"
    assert "cloud" in rec["offers"][0]["reason"] or "level" in rec["offers"][0]["reason"]


async def test_supervisor_listens_through_a_snoop_channel(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        await s.seats(("7003", "seat_answer.xml", {"general": 3}))
        supervisor = await s.supervisor_phone("9901")
        caller = await s.call("13800000014", hold_ms=6000)
        await s.talking("7003")
        snoop_id = await s.voice.control.snoop("PJSIP/seat9901", "7003", "listen")
        for _ in range(100):
            names = [c["name"] for c in await s.ari.channels()]
            bridges = {b["id"]: b["channels"] for b in await s.ari.bridges()}
            if any(n.startswith("Snoop/") for n in names) and any(
                k.startswith("snoopbr-") and len(v) == 2 for k, v in bridges.items()
            ):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"no snoop bridge with supervisor: {names} {bridges}")
        talk = next(v for k, v in bridges.items() if k.startswith("talk-"))
        assert len(talk) == 2  # listening does not join the call itself
        await s.voice.control.stop_snoop(snoop_id)
        assert await supervisor.wait(10) == 0
        assert await caller.wait(20) == 0
        with pytest.raises(VoiceError):
            await s.voice.control.snoop("PJSIP/seat9901", "7003", "peek")  # type: ignore[arg-type]


async def test_a_supervisor_listening_in_is_hung_up_when_the_call_ends(settings, sessions):
    """Not left alone in a silent bridge once the citizen hangs up; stopping afterwards is fine."""
    async with voice_stack(settings, sessions) as s:
        await s.seats(("7005", "seat_answer.xml", {"general": 3}))
        supervisor = await s.supervisor_phone("9902")
        caller = await s.call("13800000016", hold_ms=5000)
        await s.talking("7005")
        snoop_id = await s.voice.control.snoop("PJSIP/seat9902", "7005", "listen")
        assert await caller.wait(20) == 0  # the citizen hangs up
        assert await supervisor.wait(10) == 0  # and the engine hangs up the supervisor's phone
        for _ in range(50):
            if not any(b["id"].startswith("snoopbr-") for b in await s.ari.bridges()):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the snoop bridge outlived the call")
        await s.voice.control.stop_snoop(snoop_id)  # the console's stop after the end: no error
        with pytest.raises(VoiceError):
            await s.voice.control.stop_snoop(snoop_id)


async def test_actions_on_a_seat_without_a_call_are_refused(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        with pytest.raises(VoiceError, match="没有通话"):
            await s.voice.control.hold("nobody")
        await s.seats(("7004", "seat_answer.xml", {"general": 3}))
        caller = await s.call("13800000015", hold_ms=3000)
        await s.talking("7004")
        with pytest.raises(VoiceError, match="号码格式"):
            await s.voice.control.three_party("7004", "12;3")
        # Toll fraud: nothing outside the allowed patterns goes out through the trunk.
        for number in ("00441234567", "16800000000", "12300"):
            with pytest.raises(VoiceError, match="不在允许外呼的范围内"):
                await s.voice.control.three_party("7004", number)
            with pytest.raises(VoiceError, match="不在允许外呼的范围内"):
                await s.voice.control.transfer("7004", f"number:{number}")
        with pytest.raises(VoiceError):
            await s.voice.control.dtmf("7004", "12x")
        await s.voice.control.hold("7004")
        with pytest.raises(VoiceError):
            await s.voice.control.hold("7004")
        await asyncio.sleep(0.3)
        await s.voice.control.unhold("7004")
        assert await caller.wait(20) == 0
        rec = await s.record()
    assert rec["hold_s"] >= 0.3
