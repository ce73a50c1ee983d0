"""Restarts: of the engine (callers waiting in Asterisk keep their place) and of Asterisk
(the engine reconnects, counts nothing twice, and takes calls again)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from sqlalchemy import func, select

from acd.core import SeatLoggedIn, SeatLoggedOut
from acd.service import AcdService
from acd.voice.core.call import Call
from acd.voice.service import VoiceService
from hotline import sandbox
from hotline.storage import Interaction
from tests.integration.acd.voice_harness import restarted, voice_stack

pytestmark = pytest.mark.integration


async def queued(s) -> Call:  # type: ignore[no-untyped-def]
    """The first call once it waits in a queue (its enqueue time set)."""
    for _ in range(50):
        if s.voice.calls and next(iter(s.voice.calls.values())).enqueued:
            break
        await asyncio.sleep(0.1)
    return next(iter(s.voice.calls.values()))


async def rows(sessions) -> list[Interaction]:
    async with sessions() as s:
        return list((await s.execute(select(Interaction))).scalars())


async def test_restarted_engine_adopts_a_waiting_caller_at_its_original_place(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        caller = await s.call("13800000031", hold_ms=12000)
        first = await queued(s)
        original_enqueue = first.enqueued
        await s.die()  # Asterisk keeps the caller in the holding bridge
        await asyncio.sleep(1.0)
        async with restarted(settings, s) as (voice2, acd2):
            adopted = voice2.calls.get(first.contact_id)
            assert adopted is not None, "the waiting caller was not rebuilt"
            assert adopted.enqueued == pytest.approx(original_enqueue, abs=0.01)
            pos = acd2.core.contact_position(first.contact_id)
            assert pos["position"] == 1
            # A seat comes: the adopted caller is served, and the wait counts from the first enqueue.
            phones = await s.seats(("1301", "seat_answer.xml", {"general": 2}))
            assert await caller.wait(30) == 0, caller.out
            assert await phones["1301"].wait(10) == 0
            rec = await s.record()
            assert rec["seat"] == "1301"
            assert rec["enqueued"] == pytest.approx(original_enqueue, abs=0.01)
            assert rec["wait_s"] >= 1.0
            assert len(await rows(sessions)) == 1  # one record per call, however many engines saw it


async def test_a_caller_in_the_menu_when_the_engine_died_hears_it_again_and_reaches_a_seat(settings, sessions):
    """A caller still in the menu (no place in line yet) at the stop is not left in silence:
    the new engine starts the menu again for them, and they reach a seat; one record."""
    from tests.integration.acd.test_ivr_calls import runner

    async with voice_stack(settings, sessions, ivr=runner(settings).run) as s:
        caller = await s.call("13800000041", hold_ms=30000)
        for _ in range(50):
            if s.voice.calls:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # answered, the menu's prompt playing
        first = next(iter(s.voice.calls.values()))
        assert first.enqueued is None, "the caller was already in line: not the case under test"
        await s.die()
        await asyncio.sleep(0.5)
        async with restarted(settings, s, ivr=runner(settings).run) as (voice2, _acd2):
            assert first.contact_id in voice2.calls, "the caller in the menu was not taken up again"
            phones = await s.seats(("1301", "seat_answer.xml", {"general": 2}))
            assert await phones["1301"].wait(40) == 0
            rec = await s.record()
            assert rec["seat"] == "1301" and rec["queue"] == "general", rec
            assert [step["node"] for step in rec["ivr"]["path"]][:2] == ["menu", "q_general"], rec
            assert len(await rows(sessions)) == 1
            assert caller.proc.returncode in (None, 0), caller.out


async def test_a_caller_taken_over_in_the_greeting_then_in_the_menu_goes_on_from_where_it_was(
    settings, sessions, caplog
):
    """The record keeps where in the menu the caller is and the id of the prompt playing there.
    Taken over while the greeting plays (Asterisk plays it on meanwhile), the next engine waits
    for its end instead of playing it again; taken over in the menu, the next one asks the menu
    again, not the greeting. The first engine's clock says day, the others' night: started
    again, the caller would take the night branch. One record, each node once on its path."""
    import datetime as dt
    from pathlib import Path

    from tests.integration.acd.test_ivr_calls import runner

    flow = Path(__file__).parent / "flows" / "greeting_menu.toml"
    cst = dt.timezone(dt.timedelta(hours=8))
    day = dt.datetime(2026, 11, 26, 10, 0, tzinfo=cst).timestamp()
    night = dt.datetime(2026, 11, 26, 23, 0, tzinfo=cst).timestamp()

    async def reached(s, node: str) -> Call:  # type: ignore[no-untyped-def]
        for _ in range(200):
            for call in s.voice.calls.values():
                where = (call.ivr_record or {}).get("resume") or {}
                if where.get("node") == node and where.get("playback"):
                    return call
            await asyncio.sleep(0.1)
        raise AssertionError(f"the caller did not reach {node}")

    async def taken_over(voice: VoiceService) -> list[tuple[object, object]]:
        """What the new engine said of the caller it took over: the node and its prompt's fate."""
        assert first.contact_id in voice.calls, "the caller in the menu was not taken up again"
        for _ in range(50):
            lines = [r for r in caplog.records if r.getMessage() == "IVR goes on after a takeover"]
            if lines:
                return [(getattr(r, "node", None), getattr(r, "prompt", None)) for r in lines]
            await asyncio.sleep(0.1)
        return []

    caplog.set_level(logging.INFO, logger="acd.voice.ivr")
    async with voice_stack(settings, sessions, ivr=runner(settings, flow, at=day).run) as s:
        caller = await s.call("13800000042", hold_ms=60000)
        first = await reached(s, "greeting")
        await s.die()
        caplog.clear()
        async with restarted(settings, s, ivr=runner(settings, flow, at=night).run) as (voice2, _acd2):
            assert await taken_over(voice2) == [("greeting", "playing")]
            await reached(s, "menu")
            await s.die()
            caplog.clear()
            async with restarted(settings, s, ivr=runner(settings, flow, at=night).run) as (voice3, _acd3):
                assert [node for node, _ in await taken_over(voice3)] == ["menu"]
                await s.seats(("1301", "seat_answer.xml", {"general": 2}))
                for _ in range(300):
                    call = voice3.calls.get(first.contact_id)
                    if call is not None and call.seat_id == "1301" and call.answered:
                        break
                    await asyncio.sleep(0.1)
                assert call is not None and call.seat_id == "1301" and call.queue == "general", call
                rec = call.record()
                path = [step["node"] for step in rec["ivr"]["path"]]
                assert path == ["hours", "greeting", "menu", "q_general"], rec
                assert "resume" not in rec["ivr"]
                await s.records.flush()
                assert len(await rows(sessions)) == 1
                assert caller.proc.returncode in (None, 0), caller.out


async def test_a_caller_who_hung_up_while_the_engine_was_down_is_closed_once_as_unanswered(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        caller = await s.call("13800000034", hold_ms=2500)
        first = await queued(s)
        await s.die()  # what the dead engine had written: a caller waiting
        await caller.wait(15)  # the citizen gives up while no engine watches
        stored = await s.records.get(first.contact_id)
        assert stored is not None and stored.ended_at is None
        async with restarted(settings, s) as (voice2, acd2):
            await s.records.flush()
            closed = await s.records.get(first.contact_id)
            assert closed is not None and closed.ended_at is not None
            data = closed.data
            assert data["state"] == "ended" and data["ended_unseen"] is True
            assert data["answered"] is None and data["enqueued"] == pytest.approx(first.enqueued, abs=0.01)
            assert first.contact_id not in voice2.calls and acd2.core.queue_snapshot("general")["waiting"] == 0
            assert len(await rows(sessions)) == 1


def voice_rows(acd: AcdService) -> dict[str, float]:
    rows = [r for r in acd.core.interval_stats() if r["channel"] == "voice"]
    return {k: sum(r[k] for r in rows) for k in ("offered", "answered", "handled")}


async def test_a_citizen_talking_when_the_engine_died_goes_on_talking_to_the_same_seat(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        phones = await s.seats(("1501", "seat_answer.xml", {"general": 2}))
        caller = await s.call("13800000035", hold_ms=8000)
        await s.talking("1501")
        first = next(iter(s.voice.calls.values()))
        await s.die()
        async with restarted(settings, s) as (voice2, acd2):
            call = voice2.calls.get(first.contact_id)
            assert call is not None and call.state == "talking" and call.seat_id == "1501"
            assert call.enqueued == pytest.approx(first.enqueued) and call.answered == pytest.approx(first.answered)
            assert acd2.core.detached == {"1501": [first.contact_id]}
            # The seat signs in again: busy on its call from the first moment, offered nothing else.
            await acd2.feed(SeatLoggedIn(now=acd2.now(), seat_id="1501", skills=(("general", 2),), ready=True))
            assert acd2.core.seat_state("1501")["voice"] == first.contact_id
            assert acd2.core.seat_state("1501")["state"] == "busy"
            assert await caller.wait(30) == 0, caller.out  # the citizen talked on and hung up
            assert await phones["1501"].wait(10) == 0, phones["1501"].out  # never cut from the seat
            rec = await s.record()
            assert rec["seat"] == "1501" and rec["answered"] == pytest.approx(first.answered)
            assert [o.get("event") for o in rec["offers"] if "event" in o][-1] == "resumed"
            # Offered and answered before the death: counted then, not again; handled once now.
            assert voice_rows(acd2) == {"offered": 0, "answered": 0, "handled": 1}
            for _ in range(50):
                if acd2.core.seat_state("1501")["state"] in ("wrap_up", "ready"):
                    break
                await asyncio.sleep(0.1)
            assert acd2.core.seat_state("1501")["state"] in ("wrap_up", "ready")


async def test_a_citizen_whose_seat_hung_up_while_the_engine_was_down_is_served_again_counted_once(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        await s.seats(("1503", "seat_hangup.xml", {"general": 2}))  # hangs up 2 s after answering
        caller = await s.call("13800000036", hold_ms=15000)
        await s.talking("1503")
        first = next(iter(s.voice.calls.values()))
        assert voice_rows(s.acd)["answered"] == 1
        await s.die()
        await asyncio.sleep(2.5)  # the seat hangs up while no engine watches: the citizen is alone
        async with restarted(settings, s) as (voice2, acd2):
            assert first.contact_id in voice2.calls, "the citizen left alone in the talk was not adopted"
            await s.seats(("1504", "seat_answer.xml", {"general": 2}))
            await s.talking("1504")
            # Offered and answered before the death: the second answer counts neither again.
            assert voice_rows(acd2) == {"offered": 0, "answered": 0, "handled": 0}
            assert await caller.wait(30) == 0, caller.out
            rec = await s.record()
            assert rec["seat"] == "1504" and rec["enqueued"] == pytest.approx(first.enqueued, abs=0.01)


async def test_asterisk_restart_ends_calls_once_and_the_engine_takes_calls_again(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        caller = await s.call("13800000032", hold_ms=20000)
        for _ in range(50):
            if s.voice.calls and next(iter(s.voice.calls.values())).in_acd:
                break
            await asyncio.sleep(0.1)
        assert s.acd.core.queue_snapshot("general")["waiting"] == 1
        await asyncio.to_thread(sandbox.stop, settings)
        for _ in range(100):
            if not s.voice.connected.is_set():
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(sandbox.up, settings)
        await asyncio.wait_for(s.voice.connected.wait(), 30)
        await s.records.flush()
        with contextlib.suppress(Exception):
            await caller.wait(5)
        # The lost call is finished exactly once, and the ACD forgot it.
        assert s.voice.calls == {}
        assert s.acd.core.queue_snapshot("general")["waiting"] == 0
        recs = await rows(sessions)
        assert len(recs) == 1 and recs[0].ended_at is not None
        abandoned = sum(r["abandoned"] for r in s.acd.core.live_stats()["totals"] if r.get("channel") == "voice")
        assert abandoned == 1
        # And the engine works again on the restarted Asterisk.
        phones = await s.seats(("1401", "seat_answer.xml", {"general": 2}))
        again = await s.call("13800000033", hold_ms=2000)
        assert await again.wait(20) == 0, again.out
        assert await phones["1401"].wait(10) == 0
        async with sessions() as db:
            assert (await db.execute(select(func.count()).select_from(Interaction))).scalar_one() == 2


async def test_an_asterisk_crash_ends_a_talk_and_a_wait_once_and_frees_the_seat(settings, sessions):
    """kill -9 of Asterisk (no hang-up events, the ARI connection just drops) while one citizen
    talks to a seat and another waits: after Asterisk is back, each call is closed once with its
    outcome (the talk answered, the wait abandoned), the seat is free again, and calls go on."""
    import os
    import signal

    async with voice_stack(settings, sessions) as s:
        await s.seats(("1601", "seat_answer.xml", {"general": 2}))
        talker = await s.call("13800000041", hold_ms=30000)
        await s.talking("1601")
        waiter = await s.call("13800000042", hold_ms=30000)
        for _ in range(100):
            if s.acd.core.queue_snapshot("general")["waiting"] == 1:
                break
            await asyncio.sleep(0.1)
        assert s.acd.core.queue_snapshot("general")["waiting"] == 1
        pid = sandbox.pid_alive(sandbox.paths(settings))
        assert pid
        os.kill(pid, signal.SIGKILL)  # a crash: nothing is hung up, nothing is said
        for _ in range(100):
            if not s.voice.connected.is_set():
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(sandbox.stop, settings)  # what the crash left mounted
        await asyncio.to_thread(sandbox.up, settings)
        await asyncio.wait_for(s.voice.connected.wait(), 30)
        await s.records.flush()
        for proc in (talker, waiter):
            with contextlib.suppress(Exception):
                await proc.wait(5)
        assert s.voice.calls == {}
        assert s.acd.core.queue_snapshot("general")["waiting"] == 0
        seat = s.acd.core.seat("1601")
        assert seat is not None and seat.voice is None, "the seat still holds the call Asterisk lost"
        recs = sorted(await rows(sessions), key=lambda r: r.arrived_at)
        assert len(recs) == 2 and all(r.ended_at is not None for r in recs)
        assert recs[0].data.get("seat") == "1601" and recs[0].data.get("answered")
        assert not recs[1].data.get("answered")
        totals = [r for r in s.acd.core.live_stats()["totals"] if r.get("channel") == "voice"]
        assert (sum(r["answered"] for r in totals), sum(r["abandoned"] for r in totals)) == (1, 1)
        # The engine takes calls again on the restarted Asterisk (1601's test phone was left
        # inside its finished scenario: a fresh phone, 1602, answers).
        await s.acd.feed(SeatLoggedOut(now=s.acd.now(), seat_id="1601"))
        phones = await s.seats(("1602", "seat_answer.xml", {"general": 2}))
        again = await s.call("13800000043", hold_ms=2000)
        assert await again.wait(20) == 0, again.out
        assert await phones["1602"].wait(10) == 0
