"""A citizen who hangs up while the engine is putting them on hold (the IVR just handed the call to
the queue): the call ends once, as an abandon, and its record keeps its end. Once, Asterisk's 400
for the vanished channel let the enqueue go on and write the call again without its end."""

from __future__ import annotations

from typing import Any

from acd.ari.client import AriClient, AriError
from acd.core import QueueConfig, QueueConfigured
from acd.service import AcdService
from acd.voice.core.call import Call
from acd.voice.core.states import ENDED
from acd.voice.records import RecordStore
from acd.voice.service import VoiceService
from hotline.bus import Bus


class _Ari(AriClient):
    """Asterisk as the engine meets it here: the caller hangs up while being moved into the
    holding bridge, and the move is answered 400 (the channel is gone)."""

    def __init__(self, voice: list[VoiceService], call: Call) -> None:
        super().__init__("http://127.0.0.1:9/ari", "u", "p", "hotline")  # never reached
        self.voice, self.call = voice, call

    async def create_bridge(self, *_a: Any, **_k: Any) -> dict[str, Any]:
        return {}

    async def bridge_moh(self, *_a: Any, **_k: Any) -> None:
        return None

    async def add_to_bridge(self, *_a: Any, **_k: Any) -> None:
        await self.voice[0]._citizen_gone(self.call, 16)  # StasisEnd, handled meanwhile
        raise AriError(400, "Channel not found", "POST", "/bridges/hold-general/addChannel")

    async def set_var(self, *_a: Any, **_k: Any) -> None:
        raise AssertionError("the place of a call that ended was marked")

    async def hangup(self, *_a: Any, **_k: Any) -> None:
        return None


class _Records(RecordStore):
    def __init__(self) -> None:
        self.rows: list[tuple[str, float | None, dict[str, Any]]] = []

    def put(self, contact_id: str, caller: str, arrived: float, ended: float | None, data: dict[str, Any]) -> None:
        self.rows.append((contact_id, ended, data))


async def test_a_citizen_gone_while_being_held_ends_once_and_is_never_written_unended_again() -> None:
    call = Call(contact_id="c1", channel_id="c1", caller="13800000001", arrived=0.0)
    holder: list[VoiceService] = []
    records = _Records()
    acd = AcdService(Bus())
    await acd.feed(QueueConfigured(now=acd.now(), queue=QueueConfig(name="general", skills=(("general", 1),))))
    voice = VoiceService(_Ari(holder, call), acd, records=records)
    holder.append(voice)
    voice.calls["c1"] = voice.by_channel["c1"] = call
    await voice.enqueue(call, {"queue": "general"})
    assert call.state == ENDED and "c1" not in voice.calls
    assert records.rows, "the call was never written"
    last_id, last_end, last_data = records.rows[-1]
    assert last_id == "c1" and last_end is not None and last_data["state"] == ENDED
    assert all(end is not None for _, end, data in records.rows if data["state"] == ENDED)
    assert acd.core.contact("c1") is None  # the ACD forgot it: abandoned, nothing left to offer
