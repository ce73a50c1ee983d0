"""The IVR on the sandbox Asterisk: real RFC 4733 DTMF from sipp steers the caller, the prompt's
audio reaches the caller, and the path lands on the interaction record."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from acd.voice.ivr import IvrRunner
from ivr import plugin as ivr_plugin
from ivr.service import IvrService
from ivr.settings import IvrSettings
from tests.integration.acd.voice_harness import next_port, start_sipp, voice_stack
from tests.integration.asterisk import SIPP_DIR

pytestmark = pytest.mark.integration
FLOW = Path(__file__).with_name("flows") / "menu.toml"
DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{digit}.pcap"


def runner(settings, flow: Path = FLOW, at: float | None = None) -> IvrRunner:
    """The IVR on ``flow``; ``at``: its clock stands still at that moment (for time-of-day branches)."""
    ivr_settings = IvrSettings(
        flow=flow, prompts_dir=settings.data_dir / "prompts", override_dir=settings.data_dir / "prompts-override"
    )
    service = IvrService(ivr_settings)
    if at is None:
        return IvrRunner(service, sounds_dir=settings.asterisk.sounds_dir)
    return IvrRunner(service, sounds_dir=settings.asterisk.sounds_dir, clock=lambda: at)


CITY_FLOW = Path(__file__).resolve().parents[3] / "ivr" / "flows" / "city.toml"
# 国庆节 10:00 China time, a Thursday: the city flow's after-hours branch.
NATIONAL_DAY = dt.datetime(2026, 10, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()


def dtmf_caller(tmp_path: Path, digit: str, after_ms: int) -> Path:
    """The caller scenario with a real RFC 4733 key press played from sipp's own pcap files."""
    if not Path(DTMF_PCAP.format(digit=digit)).exists():
        pytest.fail(f"sipp's DTMF recordings are missing ({DTMF_PCAP}): the sip-tester package ships them")
    text = (SIPP_DIR / "caller_hangup.xml").read_text()
    press = (
        f'  <pause milliseconds="{after_ms}"/>\n  <nop><action><exec play_pcap_audio='
        f'"{DTMF_PCAP.format(digit=digit)}"/></action></nop>\n  <pause/>'
    )
    path = tmp_path / f"caller_dtmf_{digit}.xml"
    path.write_text(text.replace("  <pause/>", press, 1))
    return path


async def test_pressing_2_reaches_the_business_desk(settings, sessions, tmp_path):
    ivr = runner(settings)
    async with voice_stack(settings, sessions, ivr=ivr.run) as s:
        phones = await s.seats(
            ("1101", "seat_answer.xml", {"general": 5}), ("1102", "seat_answer.xml", {"business": 1})
        )
        scenario = dtmf_caller(tmp_path, "2", 800)
        caller = await start_sipp(
            str(scenario), s.sip_target, next_port(), "-s", "12345", "-key", "caller", "13800000021", "-d", "3000"
        )
        assert await caller.wait(30) == 0, caller.out
        assert await phones["1102"].wait(10) == 0
        rec = await s.record()
        assert phones["1101"].proc.returncode is None
    assert rec["queue"] == "business" and rec["seat"] == "1102"
    assert rec["ivr"]["flow"] == "test-menu"
    steps = rec["ivr"]["path"]
    assert steps[0]["node"] == "menu" and steps[0].get("digits") == "2"
    assert rec["ivr_path"][0] == "menu:2"


async def test_no_key_follows_the_timeout_branch_to_a_seat(settings, sessions):
    ivr = runner(settings)
    async with voice_stack(settings, sessions, ivr=ivr.run) as s:
        phones = await s.seats(("1201", "seat_answer.xml", {"general": 5}))
        caller = await s.call("13800000022", hold_ms=9000)
        assert await phones["1201"].wait(25) == 0
        assert await caller.wait(25) == 0
        rec = await s.record()
    assert rec["queue"] == "general" and rec["seat"] == "1201"
    assert [step["node"] for step in rec["ivr"]["path"]][:2] == ["menu", "q_general"]


async def test_the_generated_prompt_reaches_the_caller_as_rtp(settings, sessions):
    ivr = runner(settings)
    async with voice_stack(settings, sessions, ivr=ivr.run) as s:
        # sipp echoes every RTP packet it receives: what Asterisk gets back reached the caller.
        caller = await start_sipp(
            str(SIPP_DIR / "caller_hangup.xml"),
            s.sip_target,
            next_port(),
            "-s",
            "12345",
            "-key",
            "caller",
            "13800000023",
            "-d",
            "2500",
            "-rtp_echo",
        )
        stats = None
        for _ in range(40):
            await asyncio.sleep(0.1)
            if s.voice.calls:
                cid = next(iter(s.voice.calls))
                await asyncio.sleep(1.5)
                stats = await s.ari.rtp_statistics(cid)
                break
        assert await caller.wait(20) == 0
    assert stats is not None
    assert stats["txcount"] > 20  # the prompt went out
    assert stats["rxcount"] > 20  # and came back from the caller's side


async def test_hot_reload_during_a_live_call_keeps_that_call_on_its_flow(settings, sessions, tmp_path):
    flow = tmp_path / "menu.toml"
    flow.write_text(FLOW.read_text())
    service = IvrService(
        IvrSettings(
            flow=flow, prompts_dir=settings.data_dir / "prompts", override_dir=settings.data_dir / "prompts-override"
        )
    )
    ivr = IvrRunner(service, sounds_dir=settings.asterisk.sounds_dir)
    async with voice_stack(settings, sessions, ivr=ivr.run) as s:
        phones = await s.seats(
            ("1901", "seat_answer.xml", {"general": 5}), ("1902", "seat_answer.xml", {"business": 1})
        )
        scenario = dtmf_caller(tmp_path, "2", 1500)
        first = await start_sipp(
            str(scenario), s.sip_target, next_port(), "-s", "12345", "-key", "caller", "13800000091", "-d", "2500"
        )
        for _ in range(50):  # the first caller is in the menu
            if s.voice.calls:
                break
            await asyncio.sleep(0.05)
        # The operator changes the menu while that call is in it: 2 now goes to the general desk.
        flow.write_text(
            FLOW.read_text().replace('{ 1 = "q_general", 2 = "q_business" }', '{ 1 = "q_business", 2 = "q_general" }')
        )
        assert service.reload() is None
        assert await first.wait(30) == 0, first.out
        assert await phones["1902"].wait(10) == 0  # the call in progress kept the flow it started with
        second = await start_sipp(
            str(scenario), s.sip_target, next_port(), "-s", "12345", "-key", "caller", "13800000092", "-d", "2500"
        )
        assert await second.wait(30) == 0, second.out
        assert await phones["1901"].wait(10) == 0  # a new call takes the new flow
        # A broken file is refused and the flow in service stays.
        flow.write_text('[flow]\nname = "broken"\nstart = "nowhere"\n')
        error = service.reload()
        assert error is not None and any(issue.line for issue in error.issues)
        assert service.describe()["name"] == "test-menu"


async def test_a_call_on_national_day_takes_the_city_flows_after_hours_branch(settings, sessions):
    ivr = runner(settings, CITY_FLOW, NATIONAL_DAY)
    async with voice_stack(settings, sessions, ivr=ivr.run) as s:
        caller = await s.call("13800000093", hold_ms=4000)
        assert await caller.wait(30) == 0, caller.out
        rec = await s.record()
    steps = {step["node"]: step for step in rec["ivr"]["path"]}
    assert steps["working_day"].get("note") == "no"  # 国庆节: a public holiday, 10:00 on a Thursday
    assert "after_hours" in steps and "main_menu" not in steps


async def test_a_surge_announcement_is_spoken_to_new_callers_before_the_menu(settings, sessions):
    from acd.voice.announcement import Announcement
    from hotline import sandbox

    ivr = runner(settings)
    async with voice_stack(settings, sessions, ivr=ivr.run) as s:
        notice = Announcement(
            s.voice, s.acd.bus, sandbox.paths(settings).root / "usr/share/asterisk/sounds/hotline", ivr_plugin.speak
        )
        await s.acd.bus.publish("ivr.announcement", {"text": "因突发事件来电较多，请耐心等待。", "active": True})
        assert s.voice.notice is not None and notice.voice is s.voice
        caller = await s.call("13800000094", hold_ms=10000)
        assert await caller.wait(30) == 0, caller.out
        rec = await s.record()
        await s.acd.bus.publish("ivr.announcement", {"text": None, "active": False})
        assert s.voice.notice is None
    assert rec["offers"][0]["event"] == "announcement"
    assert rec["ivr"]["path"][0]["node"] == "menu"  # the menu came after the announcement
