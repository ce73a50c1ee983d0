"""How each seat is reached, and the PJSIP sections that make those seats exist in Asterisk.

A seat is a desk SIP phone or a browser (WebRTC) on its own endpoint ``seat<id>``, or a cloud
seat reached at an external number through the outbound trunk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from acd.voice.api import sip_credentials

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


def render_seats(devices: list[SeatDevice], secret_key: str, passwords: Mapping[str, str] | None = None) -> str:
    """pjsip_seats.conf: one endpoint, auth and aor per seat that has an endpoint of its own
    (``passwords``: each signed-in seat's password of the session; others get their stable one)."""
    out = ["; written by the engine from its seat roster; edits here are overwritten", ""]
    for d in devices:
        if d.kind == "cloud" and not d.browser:
            continue  # reached through trunk-out
        user, password = sip_credentials(secret_key, d.seat_id)
        password = (passwords or {}).get(d.seat_id, password)
        template = "seat-webrtc-endpoint" if (d.kind == "webrtc" or d.browser) else "seat-desk-endpoint"
        out += [
            f"[{user}](seat-auth)",
            f"username={user}",
            f"password={password}",
            "",
            f"[{user}](seat-aor)",
            *([f"contact={d.contact}", "qualify_frequency=0"] if d.contact else []),
            "",
            f"[{user}]({template})",
            f"auth={user}",
            f"aors={user}",
            f'callerid="座席{d.seat_id}" <{d.seat_id}>',
            "",
        ]
    return "\n".join(out)
