"""The Asterisk side of ``hotline bench voice``: the callers' and seats' PJSIP endpoints and the
app_queue dialplan, written into Asterisk's configuration folder while the bench runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench.voice.plan import seat_ids


def render_pjsip(ports: dict[str, int], seats: int) -> str:
    """Caller endpoints matched by source port, and static seats on one UAS."""
    out = ["; written by `hotline bench voice` while it runs; emptied when it ends", ""]
    for name, context in (("engine", "from-pstn"), ("app_queue", "bench-voice-app-queue")):
        # send_connected_line: the caller learns that a seat answered (its patience ends),
        # by the same re-INVITE for both engines.
        out += [
            f"[bench-caller-{name}]",
            "type=endpoint",
            "transport=transport-udp",
            f"context={context}",
            "disallow=all",
            "allow=ulaw",
            "direct_media=no",
            "rtp_symmetric=yes",
            "send_connected_line=yes",
            "send_pai=yes",
            "trust_id_outbound=yes",
            "",
            f"[bench-caller-{name}]",
            "type=identify",
            f"endpoint=bench-caller-{name}",
            f"match=127.0.0.1:{ports[name]}",
            "",
        ]
    for seat in seat_ids(seats):
        # No callerid: app_queue would show the ringing member to the caller by a re-INVITE
        # that the caller would take for the answer. trust_id_inbound: the 200 OK's identity is.
        out += [
            f"[seat{seat}]",
            "type=aor",
            f"contact=sip:seat{seat}@127.0.0.1:{ports['seats']}",
            "qualify_frequency=0",
            "",
            f"[seat{seat}](seat-desk-endpoint)",
            f"aors=seat{seat}",
            "trust_id_inbound=yes",
            "",
        ]
    return "\n".join(out)


EXTENSIONS = """; written by `hotline bench voice` while it runs; emptied when it ends
[bench-voice-app-queue]
exten => 12345,1,Answer(,i)
 same => n,Queue(bench,,,,600)
 same => n,Hangup()
"""


async def configure(ami: Any, etc: Path, pjsip: str, extensions: str) -> None:
    for name, text in (("pjsip_bench.conf", pjsip), ("extensions_bench.conf", extensions)):
        tmp = etc / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(etc / name)
    await ami.reload("res_pjsip.so")
    await ami.reload("pbx_config.so")
    await asyncio.sleep(0.5)  # the reload finishes asynchronously inside Asterisk
