"""An originate to a seat that ARI does not answer in time is not a refused one: Asterisk may still
create the leg (at 100 calls/s it did, 5 s late, and the seat answered a call the engine had already
given to another seat). The offer keeps its leg until the core's ring timer cancels it; a definite
refusal still fails the offer at once."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.ari.client import AriClient, AriNoAnswer, AriNotFound
from acd.core import CancelOffer, Offer, OfferFailed
from acd.service import AcdService
from acd.voice.core.call import Call
from acd.voice.core.states import OFFERED, QUEUED
from acd.voice.seats import SeatDevice
from acd.voice.service import VoiceService
from hotline.bus import Bus


class Ari(AriClient):
    def __init__(self, originate_error: Exception) -> None:
        super().__init__("http://127.0.0.1:9/ari", "u", "p", "hotline")  # never reached
        self.originate_error = originate_error
        self.hung_up: list[str] = []

    async def originate(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        raise self.originate_error

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hung_up.append(channel_id)


def _service(error: Exception, ari: Ari | None = None) -> tuple[VoiceService, Ari, list[Any]]:
    ari = ari or Ari(error)
    v = VoiceService(ari, AcdService(Bus()))
    fed: list[Any] = []

    async def feed(event: Any) -> None:
        fed.append(event)

    v.acd.feed = feed  # type: ignore[method-assign]
    v.set_device(SeatDevice("s1", contact="sip:seats1@127.0.0.1:5099"))
    call = Call(contact_id="c1", channel_id="c1", caller="13900000001", arrived=0.0)
    call.move("enqueue")  # the core offers only a caller waiting in a queue
    v.calls["c1"] = call
    v.by_channel["c1"] = call
    return v, ari, fed


async def test_an_unanswered_originate_keeps_the_offer_until_the_ring_timer_cancels_it() -> None:
    v, ari, fed = _service(AriNoAnswer(0, "no answer within 5.0 s", "POST", "/channels"))
    await v._offer(Offer("c1", "s1", "voice", 15.0, "test"))
    call = v.calls["c1"]
    assert call.state == OFFERED and call.leg is not None and call.leg.seat_id == "s1"
    assert v.legs[call.leg.channel_id] is call  # a late leg is recognised and bridged
    assert fed == []  # the seat is not counted unreachable (nor paused) for the engine's own backlog
    leg = call.leg.channel_id
    await v._cancel(CancelOffer("c1", "s1", "no answer within 15 s"))
    assert ari.hung_up == [leg] and call.leg is None and call.state != OFFERED


async def test_a_refused_originate_fails_the_offer_at_once() -> None:
    v, _ari, fed = _service(AriNotFound(404, "endpoint not found", "POST", "/channels"))
    await v._offer(Offer("c1", "s1", "voice", 15.0, "test"))
    call = v.calls["c1"]
    assert call.leg is None and call.state != OFFERED and v.legs == {}
    assert [type(e) for e in fed] == [OfferFailed] and fed[0].cause == "unreachable"
    assert call.offers[-1]["outcome"] == "unreachable"


class SlowBridgeAri(Ari):
    """Answers the originate; the talk bridge's creation waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(AriNotFound(404, "unused", "POST", "/channels"))
        self.bridging = asyncio.Event()
        self.go_on = asyncio.Event()
        self.calls_made: list[tuple[str, Any]] = []

    async def originate(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.calls_made.append(("originate", kwargs.get("channel_id")))

    async def create_bridge(self, kind: str, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        self.bridging.set()
        await self.go_on.wait()
        self.calls_made.append(("create_bridge", kwargs.get("bridge_id")))
        return {}

    async def add_to_bridge(self, bridge_id: str, channel_ids: Any, *, role: str | None = None) -> None:
        self.calls_made.append(("add_to_bridge", (bridge_id, channel_ids)))

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.calls_made.append(("destroy_bridge", bridge_id))


async def test_a_seat_answering_as_the_core_cancels_its_offer_is_not_put_through() -> None:
    """The core's ring timer ends the offer while the seat's answer is being bridged: the call
    stays waiting (the core may offer it elsewhere), the late bridge and leg are undone, and
    the core hears no acceptance for an offer it no longer holds."""
    ari = SlowBridgeAri()
    v, _, fed = _service(AriNotFound(404, "unused", "POST", "/channels"), ari)
    call = v.calls["c1"]
    v.holding["general"] = "hold-general"
    call.queue = "general"
    await v._offer(Offer("c1", "s1", "voice", 15.0, "test"))
    assert call.leg is not None
    leg = call.leg.channel_id
    answering = asyncio.create_task(v._seat_answered(leg))
    await ari.bridging.wait()
    await v._cancel(CancelOffer("c1", "s1", "no answer within 15 s"))
    ari.go_on.set()
    await answering
    assert call.state == QUEUED and call.leg is None and call.talk_bridge is None
    assert fed == []  # neither OfferAccepted nor a second OfferFailed
    assert ("destroy_bridge", f"talk-{leg}") in ari.calls_made
    assert ari.calls_made[-1] == ("add_to_bridge", ("hold-general", "c1"))  # back on hold
    assert ari.hung_up.count(leg) >= 1
    assert call.offers[-1]["outcome"].startswith("cancelled")
