"""The voice side's public face: what the console and supervisors may ask of it (one typed
protocol), and the value types other features hand it (a seat's device).

The console holds ``ctx.deps.voice`` and calls these; every method raises
``VoiceError`` with a message fit for the seat (Chinese) when the action cannot be done.
Targets: ``seat:<id>``, ``queue:<name>`` or ``number:<digits>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
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


_SEAT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_URI = re.compile(r"^sip:[A-Za-z0-9_.+-]+@[0-9A-Za-z.-]+(:[0-9]{1,5})?$")


@dataclass(frozen=True)
class SeatDevice:
    seat_id: str
    kind: str = "desk"  # desk | webrtc | cloud
    contact: str | None = None  # a static SIP URI for a desk phone that does not register
    number: str | None = None  # a cloud seat's external number
    browser: bool = False  # a cloud seat at a home browser rather than a phone

    def __post_init__(self) -> None:
        if not _SEAT_ID.match(self.seat_id):
            raise ValueError(f"seat id {self.seat_id!r}: letters, digits, _ and - only (1-32)")
        if self.kind not in ("desk", "webrtc", "cloud"):
            raise ValueError(f"seat {self.seat_id}: kind must be desk, webrtc or cloud")
        if self.kind == "cloud" and not self.browser and not (self.number and _NUMBER.match(self.number)):
            raise ValueError(f"seat {self.seat_id}: a cloud seat needs an external number (digits)")
        if self.contact is not None and not _URI.match(self.contact):
            raise ValueError(f"seat {self.seat_id}: contact must look like sip:user@host:port")

    @property
    def endpoint_name(self) -> str:
        return f"seat{self.seat_id}"

    def dial_string(self) -> str:
        if self.kind == "cloud" and not self.browser:
            return f"PJSIP/{self.number}@trunk-out"
        return f"PJSIP/{self.endpoint_name}"

    @property
    def formats(self) -> str | None:
        # Browsers speak opus; ARI would offer PCMU first without this.
        return "opus,ulaw" if self.kind == "webrtc" or self.browser else None
