"""What the console and supervisors may ask of the voice side, as one typed protocol.

The console holds ``ctx.deps.voice`` and calls these; every method raises
``VoiceError`` with a message fit for the seat (Chinese) when the action cannot be done.
Targets: ``seat:<id>``, ``queue:<name>`` or ``number:<digits>``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal, Protocol

EmergencyService = Literal["police", "fire", "ambulance", "traffic"]
SnoopMode = Literal["listen", "whisper", "barge"]


class VoiceError(Exception):
    """An action the voice side refused; str(exc) is shown to the seat."""


class VoiceControl(Protocol):
    async def hangup(self, seat_id: str) -> None: ...
    async def hold(self, seat_id: str) -> None: ...
    async def unhold(self, seat_id: str) -> None: ...
    async def mute(self, seat_id: str, on: bool) -> None: ...
    async def dtmf(self, seat_id: str, digits: str) -> None: ...
    async def transfer(self, seat_id: str, target: str, attended: bool = False) -> None: ...
    async def complete_transfer(self, seat_id: str) -> None: ...
    async def emergency_transfer(self, seat_id: str, service: EmergencyService) -> None: ...
    async def three_party(self, seat_id: str, number: str) -> None: ...
    async def leave_three_party(self, seat_id: str) -> None: ...
    async def snoop(self, supervisor_endpoint: str, seat_id: str, mode: SnoopMode) -> str: ...
    async def stop_snoop(self, snoop_id: str) -> None: ...
    def call_of(self, seat_id: str) -> dict[str, object] | None: ...


def sip_credentials(secret_key: str, seat_id: str) -> tuple[str, str]:
    """The SIP username and password of a seat's endpoint, derived so nothing extra is stored.

    The console hands them to the seat's own browser after login; Asterisk's pjsip_seats.conf
    is rendered with the same values.
    """
    password = hmac.new(secret_key.encode(), f"sip:{seat_id}".encode(), hashlib.sha256).hexdigest()[:24]
    return f"seat{seat_id}", password
