"""Pressing 1 while waiting: the citizen is called back at the original place in line; and the
satisfaction survey after the seat hangs up, answered with a real key press."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.core import SeatLoggedIn
from acd.voice.provision import provision
from acd.voice.seats import SeatDevice
from tests.integration.acd import sipp_trace
from tests.integration.acd.test_ivr_calls import runner
from tests.integration.acd.voice_harness import next_port, start_sipp, voice_stack
from tests.integration.asterisk import SIPP_DIR

pytestmark = pytest.mark.integration
DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{digit}.pcap"


def press_then_wait_for_bye(tmp_path: Path, digit: str, after_ms: int) -> Path:
    """caller.xml with one RFC 4733 key press, then waiting for the far end's BYE."""
    text = (SIPP_DIR / "caller.xml").read_text()
    press = (
        f'  <pause milliseconds="{after_ms}"/>\n  <nop><action><exec play_pcap_audio='
        f'"{DTMF_PCAP.format(digit=digit)}"/></action></nop>\n  <recv request="BYE"/>'
    )
    path = tmp_path / f"press_{digit}_{after_ms}.xml"
    path.write_text(text.replace('  <recv request="BYE"/>', press, 1))
    return path


async def test_callback_keeps_the_place_and_a_later_caller_does_not_overtake(settings, sessions, tmp_path):
    async with voice_stack(settings, sessions) as s:
        first = await start_sipp(
            str(press_then_wait_for_bye(tmp_path, "1", 1200)),
            s.sip_target,
            next_port(),
            "-s",
            "12345",
            "-key",
            "caller",
            "13800000041",
        )
        s.sipps.append(first)
        assert await first.wait(30) == 0, first.out  # confirmed and released by the engine
        assert s.acd.core.contact_position(next(iter(s.voice.calls)))["state"] == "callback"
        later = await start_sipp(
            str(SIPP_DIR / "caller.xml"), s.sip_target, next_port(), "-s", "12345", "-key", "caller", "13800000042"
        )
        s.sipps.append(later)
        citizen, trunk_log = await s.trunk(tmp_path)
        seat_log = tmp_path / "seat.log"
        port = next_port()
        seat = await start_sipp(
            str(SIPP_DIR / "seat_hangup.xml"),
            None,
            port,
            "-d",
            "1500",
            "-m",
            "2",
            "-trace_msg",
            "-message_file",
            str(seat_log),
        )
        s.sipps.append(seat)
        dev = SeatDevice("1601", contact=f"sip:seat1601@127.0.0.1:{port}")
        s.voice.set_device(dev)
        await provision(settings, [dev], s.ami, s.ari)
        await s.acd.feed(SeatLoggedIn(now=s.acd.now(), seat_id="1601", skills=(("general", 1),), ready=True))
        assert await citizen.wait(30) == 0, citizen.out  # the call-back reached the citizen's number
        assert await later.wait(30) == 0, later.out
        assert await seat.wait(10) == 0, seat.out
        first_rec = await s.record(lambda r: r.caller == "13800000041")
    offered = [
        sipp_trace.caller_number(m)
        for m in sipp_trace.read(seat_log)
        if m.direction == "received" and m.first_line.startswith("INVITE")
    ]
    assert offered == ["13800000041", "13800000042"]  # the call-back first: it kept its place
    assert "INVITE sip:13800000041@" in trunk_log.read_text()
    events = [o.get("event") for o in first_rec["offers"] if "event" in o]
    assert events == ["callback_requested", "callback_answered"]
    assert first_rec["seat"] == "1601"


async def test_survey_after_the_seat_hangs_up_stores_the_rating(settings, sessions, tmp_path, caplog):
    ivr = runner(settings)
    async with voice_stack(settings, sessions, survey=ivr.survey) as s:
        port = next_port()
        seat = await start_sipp(str(SIPP_DIR / "seat_hangup.xml"), None, port, "-d", "1000")
        s.sipps.append(seat)
        dev = SeatDevice("1701", contact=f"sip:seat1701@127.0.0.1:{port}")
        s.voice.set_device(dev)
        await provision(settings, [dev], s.ami, s.ari)
        await s.acd.feed(SeatLoggedIn(now=s.acd.now(), seat_id="1701", skills=(("general", 1),), ready=True))
        caller = await start_sipp(
            str(press_then_wait_for_bye(tmp_path, "2", 3500)),
            s.sip_target,
            next_port(),
            "-s",
            "12345",
            "-key",
            "caller",
            "13800000051",
        )
        s.sipps.append(caller)
        assert await seat.wait(20) == 0, seat.out
        assert await caller.wait(40) == 0, caller.out
        rec = await s.record()
    assert rec["hangup_side"] == "seat"
    assert rec["survey"]["rating"] == "基本满意" and rec["survey"]["digit"] == "2"
    # The survey ended by its own hang-up (thanks, then goodbye), not by an error on the way.
    assert not [r for r in caplog.records if r.getMessage() == "survey failed"], caplog.text[-3000:]
