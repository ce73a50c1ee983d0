"""The ordinary busy hour: fewer seats than callers, and the periodic position / expected-wait
announcements playing to the callers at the head of the queue while seats answer.

Asterisk plays a prompt to a channel in a bridge synchronously on that channel's command
queue: until it ends (the announcement with the call-back offer lasts about 15 s) every other
command for the channel — the move into the seat's bridge above all — waits behind it, and so
does every later request on the same ARI websocket. These tests place real SIP callers and
seats (sipp) on the sandbox Asterisk and check that every caller reaches a seat exactly once,
in order, that no seat that answered is ever counted as not answering, and that a call whose
seat hangs up first always ends.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.core import QueueConfig, QueueConfigured, SeatLoggedIn
from acd.core.config import AcdSettings
from acd.voice.ivr import IvrRunner
from acd.voice.provision import provision
from acd.voice.seats import SeatDevice
from hotline.storage import Interaction
from ivr.service import IvrService
from ivr.settings import IvrSettings
from tests.integration.acd import sipp_trace
from tests.integration.acd.voice_harness import VoiceStack, next_port, start_sipp, voice_stack
from tests.integration.asterisk import SIPP_DIR

pytestmark = pytest.mark.integration
CALLERS = 20
SEATS = 4


async def _queue_with_announcements(s: VoiceStack, every_s: float) -> None:
    await s.acd.feed(
        QueueConfigured(
            now=s.acd.now(),
            queue=QueueConfig(
                name="general",
                skills=(("general", 1),),
                ring_timeout_s=6.0,
                announce_every_s=every_s,
                widen_on_projection=False,
                widen_after_s=(None, None, None, None),
            ),
        )
    )


async def _seat_phones(  # type: ignore[no-untyped-def]
    s: VoiceStack, settings, tmp_path: Path, talk_ms: int, calls: int, seats: int = SEATS
) -> list[Path]:
    """Desk phones that ring 300 ms, answer, talk ``talk_ms`` and hang up; logged in ready."""
    logs, devices = [], []
    for n in range(seats):
        seat_id, port, log = f"17{n:02d}", next_port(), tmp_path / f"seat{n}.log"
        sp = await start_sipp(
            str(SIPP_DIR / "seat_hangup.xml"),
            None,
            port,
            "-d",
            str(talk_ms),
            "-m",
            str(calls),
            "-trace_msg",
            "-message_file",
            str(log),
            timeout=120,
        )
        s.sipps.append(sp)
        logs.append(log)
        devices.append(SeatDevice(seat_id, contact=f"sip:seat{seat_id}@127.0.0.1:{port}"))
    await provision(settings, devices, s.ami, s.ari)
    for dev in devices:
        s.voice.set_device(dev)
        await s.acd.feed(SeatLoggedIn(now=s.acd.now(), seat_id=dev.seat_id, skills=(("general", 1),), ready=True))
    return logs


async def test_scarce_seats_with_announcements_answer_every_caller_once_in_order(settings, sessions, tmp_path):
    acd_settings = AcdSettings(wrap_up_s={"voice": 1.0, "chat": 0.0})
    async with voice_stack(settings, sessions, acd_settings=acd_settings) as s:
        await _queue_with_announcements(s, every_s=2.0)
        seat_logs = await _seat_phones(s, settings, tmp_path, talk_ms=1000, calls=CALLERS)
        callers, numbers = [], []
        for n in range(CALLERS):
            number = f"138000177{n:02d}"
            sp = await start_sipp(
                str(SIPP_DIR / "caller.xml"),
                s.sip_target,
                next_port(),
                "-s",
                "12345",
                "-key",
                "caller",
                number,
                timeout=120,
            )
            s.sipps.append(sp)
            callers.append(sp)
            numbers.append(number)
            await asyncio.sleep(0.25)
        results = await asyncio.gather(*(sp.wait(150) for sp in callers))
        seat_states = {f"17{n:02d}": s.acd.core.seat_state(f"17{n:02d}")["state"] for n in range(SEATS)}
        await s.records.flush()
        async with sessions() as db:
            records = {r.caller: (r.ended_at, r.data) for r in (await db.execute(select(Interaction))).scalars()}
        announced = sum(1 for _, data in records.values() for o in data["offers"] if o.get("event") == "announcement")

    assert results == [0] * CALLERS, [sp.out[-400:] for sp, rc in zip(callers, results, strict=True) if rc]
    # Each caller rang a seat exactly once, and the seats were rung in the callers' order.
    rung = []
    for log in seat_logs:
        for m in sipp_trace.read(log):
            if m.direction == "received" and m.first_line.startswith("INVITE"):
                rung.append((m.at, sipp_trace.caller_number(m)))
    assert sorted(n for _, n in rung) == sorted(numbers)
    assert [n for _, n in sorted(rung)] == numbers
    assert set(records) == set(numbers)
    for number, (ended_at, data) in records.items():
        assert ended_at is not None, number
        outcomes = [o.get("outcome") for o in data["offers"] if "seat" in o]
        assert outcomes == ["answered"], (number, data["offers"])
    # The queue really announced while seats were scarce (what the stall needed to happen).
    assert announced >= 3
    # A seat that answered is never counted as not answering: all ready (or wrapping up) again.
    assert set(seat_states.values()) <= {"ready", "wrap_up"}, seat_states


async def test_calls_whose_seats_hang_up_first_end_after_the_survey_while_others_hear_announcements(
    settings, sessions, tmp_path
):
    flow = Path(__file__).with_name("flows") / "quick_survey.toml"
    ivr = IvrRunner(
        IvrService(
            IvrSettings(
                flow=flow,
                prompts_dir=settings.data_dir / "prompts",
                override_dir=settings.data_dir / "prompts-override",
            )
        ),
        sounds_dir=settings.asterisk.sounds_dir,
    )
    acd_settings = AcdSettings(wrap_up_s={"voice": 1.0, "chat": 0.0})
    async with voice_stack(settings, sessions, survey=ivr.survey, acd_settings=acd_settings) as s:
        await _queue_with_announcements(s, every_s=1.0)
        await _seat_phones(s, settings, tmp_path, talk_ms=1000, calls=8, seats=2)
        callers = []
        for n in range(6):
            number = f"138000178{n:02d}"
            sp = await start_sipp(
                str(SIPP_DIR / "caller.xml"), s.sip_target, next_port(), "-s", "12345", "-key", "caller", number
            )
            s.sipps.append(sp)
            callers.append(sp)
            await asyncio.sleep(0.3)
        # Nobody rates the call: the survey gives up and the engine hangs up (the caller gets BYE).
        results = await asyncio.gather(*(sp.wait(60) for sp in callers))
        assert results == [0] * 6, [sp.out[-400:] for sp in callers]
        await s.records.flush()
        async with sessions() as db:
            rows = (await db.execute(select(Interaction))).scalars().all()
        left = dict(s.voice.calls)
    assert not left
    assert len(rows) == 6
    for row in rows:
        assert row.ended_at is not None, row.data
        assert row.data["hangup_side"] == "seat" and row.data["answered"] is not None, row.data
        assert [o.get("outcome") for o in row.data["offers"] if "seat" in o] == ["answered"], row.data["offers"]
