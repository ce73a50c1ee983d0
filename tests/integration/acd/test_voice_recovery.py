"""Restarts: of the engine (callers waiting in Asterisk keep their place) and of Asterisk
(the engine reconnects, counts nothing twice, and takes calls again)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import func, select

from acd.ari.client import AriClient
from acd.core import QueueConfigured
from acd.core.config import AcdSettings
from acd.core.engine import Acd
from acd.service import AcdService
from acd.voice.service import VoiceService
from hotline import sandbox
from hotline.bus import Bus
from hotline.storage import Interaction
from tests.integration.acd.voice_harness import harness_queues, voice_stack

pytestmark = pytest.mark.integration


async def rows(sessions) -> list[Interaction]:
    async with sessions() as s:
        return list((await s.execute(select(Interaction))).scalars())


async def test_restarted_engine_adopts_a_waiting_caller_at_its_original_place(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        caller = await s.call("13800000031", hold_ms=12000)
        for _ in range(50):
            if s.voice.calls and next(iter(s.voice.calls.values())).enqueued:
                break
            await asyncio.sleep(0.1)
        first = next(iter(s.voice.calls.values()))
        original_enqueue = first.enqueued
        # The engine dies: its ARI connection goes, Asterisk keeps the caller in the holding bridge.
        await s.voice.stop()
        await s.ari.close()
        await asyncio.sleep(1.0)

        a = settings.asterisk
        ari2 = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
        acd2 = AcdService(Bus(), Acd(AcdSettings(wrap_up_s={"voice": 0.5, "chat": 0.0})))
        for q in harness_queues():
            await acd2.feed(QueueConfigured(now=acd2.now(), queue=q))
        voice2 = VoiceService(ari2, acd2, records=s.records)
        acd2.start()
        voice2.start()
        try:
            await asyncio.wait_for(voice2.connected.wait(), 10)
            for _ in range(50):
                if first.contact_id in voice2.calls:
                    break
                await asyncio.sleep(0.1)
            adopted = voice2.calls.get(first.contact_id)
            assert adopted is not None, "the waiting caller was not rebuilt"
            assert adopted.enqueued == pytest.approx(original_enqueue, abs=0.01)
            pos = acd2.core.contact_position(first.contact_id)
            assert pos["position"] == 1
            # A seat comes: the adopted caller is served, and the wait counts from the first enqueue.
            s.voice = voice2
            s.acd = acd2
            phones = await s.seats(("1301", "seat_answer.xml", {"general": 2}))
            assert await caller.wait(30) == 0, caller.out
            assert await phones["1301"].wait(10) == 0
            rec = await s.record()
            assert rec["seat"] == "1301"
            assert rec["enqueued"] == pytest.approx(original_enqueue, abs=0.01)
            assert rec["wait_s"] >= 1.0
            assert len(await rows(sessions)) == 1  # one record per call, however many engines saw it
        finally:
            await voice2.stop()
            await acd2.stop()
            with contextlib.suppress(Exception):
                await ari2.close()


async def test_a_caller_who_hung_up_while_the_engine_was_down_is_closed_once_as_unanswered(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        caller = await s.call("13800000034", hold_ms=2500)
        for _ in range(50):
            if s.voice.calls and next(iter(s.voice.calls.values())).enqueued:
                break
            await asyncio.sleep(0.1)
        first = next(iter(s.voice.calls.values()))
        await s.records.flush()  # what the dead engine had written: a caller waiting
        await s.voice.stop()
        await s.ari.close()
        await caller.wait(15)  # the citizen gives up while no engine watches
        stored = await s.records.get(first.contact_id)
        assert stored is not None and stored.ended_at is None

        a = settings.asterisk
        ari2 = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
        acd2 = AcdService(Bus(), Acd(AcdSettings()))
        for q in harness_queues():
            await acd2.feed(QueueConfigured(now=acd2.now(), queue=q))
        voice2 = VoiceService(ari2, acd2, records=s.records)
        acd2.start()
        voice2.start()
        try:
            await asyncio.wait_for(voice2.connected.wait(), 10)
            for _ in range(50):
                if voice2.reconciled:
                    break
                await asyncio.sleep(0.1)
            await s.records.flush()
            closed = await s.records.get(first.contact_id)
            assert closed is not None and closed.ended_at is not None
            data = closed.data
            assert data["state"] == "ended" and data["ended_unseen"] is True
            assert data["answered"] is None and data["enqueued"] == pytest.approx(first.enqueued, abs=0.01)
            assert first.contact_id not in voice2.calls and acd2.core.queue_snapshot("general")["waiting"] == 0
            assert len(await rows(sessions)) == 1
        finally:
            await voice2.stop()
            await acd2.stop()
            with contextlib.suppress(Exception):
                await ari2.close()


async def test_a_call_talking_at_the_engines_death_is_served_again_and_counted_answered_once(settings, sessions):
    async with voice_stack(settings, sessions) as s:
        await s.seats(("1501", "seat_answer.xml", {"general": 2}))
        caller = await s.call("13800000035", hold_ms=12000)
        await s.talking("1501")
        first = next(iter(s.voice.calls.values()))
        answered = sum(r["answered"] for r in s.acd.core.interval_stats() if r["channel"] == "voice")
        assert answered == 1
        await s.records.flush()
        await s.voice.stop()
        await s.ari.close()

        a = settings.asterisk
        ari2 = AriClient(a.ari_url, a.ari_user, a.ari_password, a.app_name)
        acd2 = AcdService(Bus(), Acd(AcdSettings(wrap_up_s={"voice": 0.5, "chat": 0.0})))
        for q in harness_queues():
            await acd2.feed(QueueConfigured(now=acd2.now(), queue=q))
        voice2 = VoiceService(ari2, acd2, records=s.records)
        acd2.start()
        voice2.start()
        try:
            await asyncio.wait_for(voice2.connected.wait(), 10)
            for _ in range(50):
                if first.contact_id in voice2.calls:
                    break
                await asyncio.sleep(0.1)
            assert first.contact_id in voice2.calls, "the caller cut from the seat was not adopted"
            s.voice, s.acd = voice2, acd2
            await s.seats(("1502", "seat_answer.xml", {"general": 2}))
            await s.talking("1502")
            # Counted before the death as offered and answered: the new engine counts neither again.
            rows = [r for r in acd2.core.interval_stats() if r["channel"] == "voice"]
            assert sum(r["answered"] for r in rows) == 0 and sum(r["offered"] for r in rows) == 0
            assert await caller.wait(30) == 0, caller.out
            rec = await s.record()
            assert rec["seat"] == "1502" and rec["enqueued"] == pytest.approx(first.enqueued, abs=0.01)
        finally:
            await voice2.stop()
            await acd2.stop()
            with contextlib.suppress(Exception):
                await ari2.close()


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
