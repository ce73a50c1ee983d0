"""How each seat is reached, and the PJSIP sections that make those seats exist in Asterisk.

A seat is a desk SIP phone or a browser (WebRTC) on its own endpoint ``seat<id>``, or a cloud
seat reached at an external number through the outbound trunk.
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.voice.api import SeatDevice, sip_credentials


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


def seat_dial_string(device: SeatDevice, server: str | None) -> str:
    """Where to ring a seat: its phone's endpoint on this Asterisk, or, when the phone is
    registered on the peer ``server``, that endpoint's name over the trunk to it
    (``PJSIP/seat<id>@peer-<server>``: the peer rings its own ``seat<id>``). A cloud seat's number
    goes out of this server's trunk wherever anything is registered. ``server`` None or "": here."""
    if (device.kind == "cloud" and not device.browser) or not server:
        return device.dial_string()
    return f"PJSIP/{device.endpoint_name}@peer-{server}"
