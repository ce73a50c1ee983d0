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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd.ari.client import AriError
from acd.core import ContactEnded
from acd.voice.api import EmergencyService, SnoopMode, VoiceError
from acd.voice.core.call import Call
from acd.voice.core.states import TALKING

if TYPE_CHECKING:
    from acd.voice.service import VoiceService

logger = logging.getLogger(__name__)
_NUMBER_OK = set("0123456789+")


@dataclass
class ExtraLeg:
    channel_id: str
    call: Call
    role: str  # transfer | attended | three_party | barge
    number: str
    started: float
    answered: float | None = None


@dataclass
class Snoop:
    snoop_id: str
    snoop_channel: str
    supervisor_channel: str
    bridge_id: str
    seat_id: str
    mode: str


class CallControl:
    def __init__(self, voice: VoiceService) -> None:
        self.v = voice
        self.extras: dict[str, ExtraLeg] = {}
        self.snoops: dict[str, Snoop] = {}
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

    def _event(self, call: Call, what: str, **data: Any) -> None:
        call.offers.append({"event": what, "at": self.v.clock(), **data})

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
        call.hold_started = self.v.clock()

    async def unhold(self, seat_id: str) -> None:
        call = self._talking(seat_id)
        if call.hold_started is None:
            raise VoiceError("通话未处于保持")
        with contextlib.suppress(AriError):
            await self.v.ari.stop_moh(call.channel_id)
        call.hold_total += self.v.clock() - call.hold_started
        call.hold_started = None

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
        target = next((x.channel_id for x in self.extras.values() if x.call is call and x.answered), call.channel_id)
        await self.v.ari.send_dtmf(target, digits)

    async def transfer(self, seat_id: str, target: str, attended: bool = False) -> None:
        call = self._talking(seat_id)
        kind, _, value = target.partition(":")
        if kind == "number":
            await self._dial_out(call, self._number(value), "attended" if attended else "transfer")
        elif kind == "queue":
            if self.v.acd.core.queue_config(value) is None:
                raise VoiceError("没有这个队列")
            await self._requeue(call, value)
        elif kind == "seat":
            device = self.v.devices.get(value)
            if device is None:
                raise VoiceError("没有这个座席")
            await self._dial_out(call, device.dial_string(), "attended" if attended else "transfer", raw=True)
        else:
            raise VoiceError("转接目标应为 seat:工号、queue:队列 或 number:号码")

    async def complete_transfer(self, seat_id: str) -> None:
        call = self._talking(seat_id)
        leg = next((x for x in self.extras.values() if x.call is call and x.role == "attended"), None)
        if leg is None or leg.answered is None:
            raise VoiceError("转接方尚未接听")
        await self.seat_leaves(call, "attended transfer")

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
        if not any(x.call is call and x.role == "three_party" and x.answered for x in self.extras.values()):
            raise VoiceError("三方通话尚未建立")
        await self.seat_leaves(call, "left three-party call")

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
            # The supervisor joins the call's own bridge: all three hear each other.
            self.extras[sup_id] = ExtraLeg(sup_id, call, "barge", supervisor_endpoint, self.v.clock())
            await self.v.ari.originate(
                supervisor_endpoint,
                channel_id=sup_id,
                app_args=f"extra,{call.contact_id},barge",
                caller_id='"12345 强插" <12345>',
                timeout=30,
            )
            self.snoops[snoop_id] = Snoop(snoop_id, "", sup_id, call.talk_bridge or "", seat_id, mode)
            return snoop_id
        whisper = "out" if mode == "whisper" else "none"
        await self.v.ari.create_bridge("mixing", bridge_id=bridge_id, name=f"snoop {seat_id}")
        self.snoops[snoop_id] = Snoop(snoop_id, snoop_id, sup_id, bridge_id, seat_id, mode)
        await self.v.ari.snoop(call.leg.channel_id, spy="both", whisper=whisper, snoop_id=snoop_id, app_args="snoop")
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
        self._event(call, "snoop", mode=mode, supervisor=supervisor_endpoint)
        return snoop_id

    async def snoop_started(self, channel_id: str) -> None:
        snoop = self.snoops.get(channel_id)
        if snoop is None:
            self._started.add(channel_id)  # the event came before snoop() had its answer
            return
        self._started.discard(channel_id)
        with contextlib.suppress(AriError):
            await self.v.ari.add_to_bridge(snoop.bridge_id, channel_id)

    async def supervisor_answered(self, channel_id: str, snoop_id: str) -> None:
        snoop = self.snoops.get(snoop_id)
        if snoop is None:
            await self.v.drop_channel(channel_id)
            return
        with contextlib.suppress(AriError):
            await self.v.ari.add_to_bridge(snoop.bridge_id, channel_id)

    async def stop_snoop(self, snoop_id: str) -> None:
        snoop = self.snoops.pop(snoop_id, None)
        if snoop is None:
            raise VoiceError("没有这个监听")
        for ch in (snoop.snoop_channel, snoop.supervisor_channel):
            if ch:
                await self.v.drop_channel(ch)
        if snoop.mode != "barge":
            with contextlib.suppress(AriError):
                await self.v.ari.destroy_bridge(snoop.bridge_id)

    # -- legs to other parties -------------------------------------------------------------------
    async def _dial_out(self, call: Call, target: str, role: str, raw: bool = False) -> None:
        if any(x.call is call and x.role in ("transfer", "attended", "three_party") for x in self.extras.values()):
            raise VoiceError("已有一个正在进行的转接或三方通话")
        leg_id = f"x-{call.contact_id}-{next(self._seq)}"
        endpoint = target if raw else self.v.trunk_endpoint(target)
        leg = ExtraLeg(leg_id, call, role, target, self.v.clock())
        self.extras[leg_id] = leg
        self._event(call, role, to=target)
        try:
            await self.v.ari.originate(
                endpoint,
                channel_id=leg_id,
                app_args=f"extra,{call.contact_id},{role}",
                caller_id=f'"{call.caller or "12345"}" <{call.caller or "12345"}>',
                timeout=40,
            )
        except AriError as exc:
            self.extras.pop(leg_id, None)
            raise VoiceError(f"呼叫 {target} 失败") from exc

    async def extra_answered(self, channel_id: str) -> None:
        leg = self.extras.get(channel_id)
        call = leg.call if leg else None
        if leg is None or call is None or call.talk_bridge is None or call.state != TALKING:
            await self.v.drop_channel(channel_id)
            return
        leg.answered = self.v.clock()
        await self.v.ari.add_to_bridge(call.talk_bridge, channel_id)
        call.extra_legs[leg.role] = channel_id
        self._event(call, f"{leg.role}_answered", to=leg.number)
        if leg.role == "transfer":
            await self.seat_leaves(call, f"transferred to {leg.number}")

    async def extra_gone(self, channel_id: str) -> bool:
        """An extra leg ended; True if it was one of ours. The citizen alone in the call is hung up."""
        leg = self.extras.pop(channel_id, None)
        if leg is None:
            return False
        call = leg.call
        call.extra_legs.pop(leg.role, None)
        if leg.answered is None:
            self._event(call, f"{leg.role}_failed", to=leg.number)
            return True
        if (
            call.seat_id is None
            and call.state == TALKING
            and not any(x.call is call and x.answered for x in self.extras.values())
        ):
            await self.v.drop_channel(call.channel_id)
        return True

    async def seat_leaves(self, call: Call, why: str) -> None:
        """The seat drops out; the citizen stays with the other party. The seat's contact ends."""
        leg = call.leg
        if leg is None:
            return
        self._event(call, "seat_left", reason=why, seat=call.seat_id)
        call.leg = None
        self.v.legs.pop(leg.channel_id, None)
        if call.in_core:
            call.in_core = False
            with contextlib.suppress(ValueError):
                await self.v.acd.feed(ContactEnded(now=self.v.acd.now(), contact_id=call.contact_id))
        call.seat_id = None
        await self.v.drop_channel(leg.channel_id)

    async def _requeue(self, call: Call, queue: str) -> None:
        """Back into a queue at the original enqueue time (the citizen's place is kept)."""
        leg = call.leg
        self._event(call, "requeue", to=queue)
        if call.in_core:
            call.in_core = False
            with contextlib.suppress(ValueError):
                await self.v.acd.feed(ContactEnded(now=self.v.acd.now(), contact_id=call.contact_id))
        call.leg = None
        call.seat_id = None
        if leg is not None:
            self.v.legs.pop(leg.channel_id, None)
            await self.v.drop_channel(leg.channel_id)
        if call.talk_bridge:
            with contextlib.suppress(AriError):
                await self.v.ari.remove_from_bridge(call.talk_bridge, call.channel_id)
            with contextlib.suppress(AriError):
                await self.v.ari.destroy_bridge(call.talk_bridge)
            call.talk_bridge = None
        call.answered = None
        await self.v.enqueue(call, {"queue": queue}, enqueued_at=call.enqueued)

    async def citizen_gone(self, call: Call) -> None:
        for leg in [x for x in self.extras.values() if x.call is call]:
            self.extras.pop(leg.channel_id, None)
            await self.v.drop_channel(leg.channel_id)
