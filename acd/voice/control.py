"""What a seat or a supervisor does to a live call: hang up, hold, mute, DTMF, transfers
(blind, attended, one-click to 110/119/120/122), three-party calls and supervisor snoops.

A transfer away from the seat releases the seat only once the far end has answered, so a
citizen in trouble is never left alone with a ringing line; if the far end does not answer,
the seat still has the citizen.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Protocol

from acd.ari.client import AriClient, AriError
from acd.service import AcdService
from acd.voice.api import EmergencyService, SeatDevice, SnoopMode, VoiceError
from acd.voice.core import events as ev
from acd.voice.core.call import Call
from acd.voice.core.commands import VoiceCommand
from acd.voice.core.machine import step
from acd.voice.core.states import TALKING

logger = logging.getLogger(__name__)
_NUMBER_OK = set("0123456789+")


class VoiceHost(Protocol):
    """What call control needs of the voice adapter (``VoiceService``)."""

    ari: AriClient
    acd: AcdService
    calls: dict[str, Call]
    legs: dict[str, Call]
    devices: dict[str, SeatDevice]
    trunk_numbers: dict[str, str]
    recording_queues: frozenset[str]
    moh_class: str
    clock: Callable[[], float]

    def trunk_endpoint(self, number: str) -> str: ...
    def seat_dial(self, device: SeatDevice) -> str: ...
    async def drop_channel(self, channel_id: str, reason: str = "normal") -> None: ...
    async def carry_out(self, call: Call, commands: list[VoiceCommand]) -> None: ...
    def call_of(self, seat_id: str) -> dict[str, object] | None: ...


class CallControl:
    """The seat's and supervisors' actions on a live call. What each does to the call is the
    voice core's (acd/voice/core/machine.py); this places the calls to other parties and the snoops
    on Asterisk and carries out the core's commands through the adapter."""

    def __init__(self, voice: VoiceHost) -> None:
        self.v = voice
        # snoop id -> (the call's contact id, the barging supervisor's channel or ""); the snoops
        # themselves are the call's (Call.snoops), a barging supervisor one of its parties.
        self.snoops: dict[str, tuple[str, str]] = {}
        self._started: set[str] = set()
        self._seq = itertools.count(1)

    # -- helpers -------------------------------------------------------------------------------
    def _talking(self, seat_id: str) -> Call:
        for call in self.v.calls.values():
            if call.seat_id == seat_id and call.state == TALKING and call.leg is not None:
                return call
        raise VoiceError("该座席当前没有通话")

    @staticmethod
    def _number(number: str) -> str:
        n = number.strip()
        if not n or len(n) > 20 or any(ch not in _NUMBER_OK for ch in n):
            raise VoiceError("号码格式不正确")
        return n

    # -- seat actions --------------------------------------------------------------------------
    async def hangup(self, seat_id: str) -> None:
        call = self._talking(seat_id)
        assert call.leg is not None
        await self.v.ari.hangup(call.leg.channel_id)

    async def hold(self, seat_id: str) -> None:
        call = self._talking(seat_id)
        if call.hold_started is not None:
            raise VoiceError("通话已在保持中")
        await self.v.ari.start_moh(call.channel_id, self.v.moh_class)
        step(call, ev.Held(self.v.clock()))

    async def unhold(self, seat_id: str) -> None:
        call = self._talking(seat_id)
        if call.hold_started is None:
            raise VoiceError("通话未处于保持")
        with contextlib.suppress(AriError):
            await self.v.ari.stop_moh(call.channel_id)
        step(call, ev.Unheld(self.v.clock()))

    async def mute(self, seat_id: str, on: bool) -> None:
        call = self._talking(seat_id)
        assert call.leg is not None
        if on:
            await self.v.ari.mute(call.leg.channel_id, "in")
        else:
            await self.v.ari.unmute(call.leg.channel_id, "in")

    async def dtmf(self, seat_id: str, digits: str) -> None:
        if not digits or len(digits) > 32 or any(d not in "0123456789*#ABCD" for d in digits):
            raise VoiceError("按键只能是 0-9 * # A-D")
        call = self._talking(seat_id)
        # To the party the seat dialled (an IVR at the far end), else to the citizen.
        target = next(
            (p.channel_id for p in call.parties.values() if p.answered is not None and p.role != "citizen"),
            call.channel_id,
        )
        await self.v.ari.send_dtmf(target, digits)

    async def transfer(self, seat_id: str, target: str, attended: bool = False) -> None:
        call = self._talking(seat_id)
        kind, _, value = target.partition(":")
        if kind == "number":
            await self._dial_out(call, self._number(value), "attended" if attended else "transfer")
        elif kind == "queue":
            if self.v.acd.core.queue_config(value) is None:
                raise VoiceError("没有这个队列")
            requeued = ev.Requeued(self.v.clock(), value, record=value in self.v.recording_queues)
            await self.v.carry_out(call, step(call, requeued))
        elif kind == "seat":
            device = self.v.devices.get(value)
            if device is None:
                raise VoiceError("没有这个座席")
            # Rung where its phone is registered: here, or over the trunk to a peer.
            await self._dial_out(call, self.v.seat_dial(device), "attended" if attended else "transfer", raw=True)
        else:
            raise VoiceError("转接目标应为 seat:工号、queue:队列 或 number:号码")

    async def complete_transfer(self, seat_id: str) -> None:
        call = self._talking(seat_id)
        await self.v.carry_out(call, step(call, ev.TransferCompleted(self.v.clock())))

    async def emergency_transfer(self, seat_id: str, service: EmergencyService) -> None:
        number = self.v.trunk_numbers.get(service)
        if number is None:
            raise VoiceError("未知的紧急服务")
        call = self._talking(seat_id)
        await self._dial_out(call, number, "transfer")

    async def three_party(self, seat_id: str, number: str) -> None:
        call = self._talking(seat_id)
        await self._dial_out(call, self._number(number), "three_party")

    async def leave_three_party(self, seat_id: str) -> None:
        call = self._talking(seat_id)
        await self.v.carry_out(call, step(call, ev.ThreePartyLeft(self.v.clock())))

    def call_of(self, seat_id: str) -> dict[str, object] | None:
        return self.v.call_of(seat_id)

    # -- supervisors ---------------------------------------------------------------------------
    async def snoop(self, supervisor_endpoint: str, seat_id: str, mode: SnoopMode) -> str:
        if mode not in ("listen", "whisper", "barge"):
            raise VoiceError("监听方式应为 listen、whisper 或 barge")
        call = self._talking(seat_id)
        assert call.leg is not None
        n = next(self._seq)
        snoop_id = f"snoop-{call.contact_id}-{n}"
        sup_id = f"sup-{call.contact_id}-{n}"
        bridge_id = f"snoopbr-{call.contact_id}-{n}"
        if mode == "barge":
            # The supervisor joins the call's own bridge as a party: all three hear each other.
            await self._originate(
                call, sup_id, "barge", supervisor_endpoint, supervisor_endpoint, '"12345 强插" <12345>'
            )
            self.snoops[snoop_id] = (call.contact_id, sup_id)
            return snoop_id
        whisper = "out" if mode == "whisper" else "none"
        step(call, ev.SnoopStarted(self.v.clock(), snoop_id, mode, supervisor_endpoint, sup_id, bridge_id))
        self.snoops[snoop_id] = (call.contact_id, "")
        try:
            await self.v.ari.create_bridge("mixing", bridge_id=bridge_id, name=f"snoop {seat_id}")
            await self.v.ari.snoop(
                call.leg.channel_id, spy="both", whisper=whisper, snoop_id=snoop_id, app_args="snoop"
            )
            # The snoop channel may be bridged only once it is in our application (its StasisStart).
            if snoop_id in self._started:
                await self.snoop_started(snoop_id)
            await self.v.ari.originate(
                supervisor_endpoint,
                channel_id=sup_id,
                app_args=f"supervisor,{snoop_id}",
                caller_id='"12345 监听" <12345>',
                timeout=30,
            )
        except AriError as exc:
            self.snoops.pop(snoop_id, None)
            await self.v.carry_out(call, step(call, ev.SnoopStopped(self.v.clock(), snoop_id)))
            raise VoiceError("监听失败") from exc
        return snoop_id

    def _snoop(self, snoop_id: str) -> tuple[Call | None, str]:
        contact, barge = self.snoops.get(snoop_id, ("", ""))
        return self.v.calls.get(contact), barge

    async def snoop_started(self, channel_id: str) -> None:
        call, _ = self._snoop(channel_id)
        snoop = call.snoops.get(channel_id) if call is not None else None
        if snoop is None:
            self._started.add(channel_id)  # the event came before snoop() had its answer
            return
        self._started.discard(channel_id)
        with contextlib.suppress(AriError):
            await self.v.ari.add_to_bridge(snoop.bridge_id, channel_id)

    async def supervisor_answered(self, channel_id: str, snoop_id: str) -> None:
        call, _ = self._snoop(snoop_id)
        snoop = call.snoops.get(snoop_id) if call is not None else None
        if snoop is None:
            await self.v.drop_channel(channel_id)
            return
        with contextlib.suppress(AriError):
            await self.v.ari.add_to_bridge(snoop.bridge_id, channel_id)

    async def stop_snoop(self, snoop_id: str) -> None:
        """End a snoop; one that ended with its call (or its seat leaving it) is already over."""
        if snoop_id not in self.snoops:
            raise VoiceError("没有这个监听")
        call, barge = self._snoop(snoop_id)
        del self.snoops[snoop_id]
        if barge:
            await self.v.drop_channel(barge)  # its end is a party leaving the call
        elif call is not None:
            await self.v.carry_out(call, step(call, ev.SnoopStopped(self.v.clock(), snoop_id)))

    # -- legs to other parties -------------------------------------------------------------------
    async def _dial_out(self, call: Call, target: str, role: str, raw: bool = False) -> None:
        endpoint = target if raw else self.v.trunk_endpoint(target)
        shown = call.caller or "12345"
        leg_id = f"x-{call.contact_id}-{next(self._seq)}"
        await self._originate(call, leg_id, role, target, endpoint, f'"{shown}" <{shown}>')

    async def _originate(self, call: Call, leg_id: str, role: str, number: str, endpoint: str, caller_id: str) -> None:
        """Call a party into the talk; the core refuses a second transfer or three-party call."""
        step(call, ev.PartyDialled(self.v.clock(), leg_id, role, number))
        self.v.legs[leg_id] = call
        try:
            await self.v.ari.originate(
                endpoint,
                channel_id=leg_id,
                app_args=f"extra,{call.contact_id},{role}",
                caller_id=caller_id,
                timeout=30 if role == "barge" else 40,
            )
        except AriError as exc:
            await self.v.carry_out(call, step(call, ev.PartyRefused(self.v.clock(), leg_id)))
            raise VoiceError(f"呼叫 {number} 失败") from exc
