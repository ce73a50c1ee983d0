"""sipp for ``hotline bench voice``: the scenarios (the seats' ring and talk tree drawn from the
caller numbers) and the processes."""

from __future__ import annotations

import asyncio
import random
import re
import socket
from pathlib import Path

from bench.voice.plan import DRAW_BITS
from hotline.errors import CommandError

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(template: str, values: dict[str, int | str]) -> str:
    text = (SCENARIOS / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    if re.search(r"@[A-Z_]+@", text):
        raise CommandError(f"{template}: a placeholder was left unfilled")
    return text


_REPLY = """  <send{attrs}>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:]{tag}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>{extra}
    ]]>
  </send>
"""
_SDP = """
      P-Asserted-Identity: "answered" <sip:10000@[local_ip]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=sendrecv"""
_EREG_INVITE = """    <action>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" check_it="true" assign_to="contact_uri"/>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" check_it="true" assign_to="invite_cseq"/>
    </action>
"""
_EREG_ACK = """    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="from_hdr"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="to_hdr"/>
    </action>
"""


def _reply(
    status: str, *, jump: str = "", test: str = "", tag: bool = True, sdp: bool = False, retrans: bool = False
) -> str:
    attrs = (' retrans="500"' if retrans else "") + (f' next="{jump}" test="{test}"' if jump else "")
    extra = _SDP if sdp else "\n      Content-Length: 0"
    return _REPLY.format(attrs=attrs, status=status, tag=";tag=[pid]S[call_number]" if tag else "", extra=extra)


def _ereg_draws() -> str:
    # bit k is set when the k-th draw digit after the prefix of the caller number is 1
    return "".join(
        f'      <ereg regexp="sip:13[89]{"[01]" * k}1" search_in="hdr" header="From:" check_it="false"'
        f' assign_to="b{k}"/>\n'
        for k in range(DRAW_BITS)
    )


def seat_tree(answer_ms: tuple[int, int], talk_ms: tuple[int, int]) -> str:
    """The ring and talk waits of seat.xml: 8 ring times and 32 talk times, spread evenly over
    the ranges and chosen by the draw digits of the caller number (``caller_numbers``), so each
    is uniform over its grid and the same caller meets the same seat behaviour on both engines."""
    ring = [answer_ms[0] + (i + 0.5) * (answer_ms[1] - answer_ms[0]) / 8 for i in range(8)]
    talk = [talk_ms[0] + (i + 0.5) * (talk_ms[1] - talk_ms[0]) / 32 for i in range(32)]
    # Which talk time goes with which ring time: a fixed shuffle, so the two are not ordered alike.
    order = random.Random(7).sample(range(32), 32)
    ereg = _EREG_INVITE.replace("    </action>\n", _ereg_draws() + "    </action>\n")
    out = [f'  <recv request="INVITE" crlf="true" next="r1" test="b0">\n{ereg}  </recv>\n']
    for b0 in "01":
        out.append(f'  <label id="r{b0}"/>\n' + _reply("100 Trying", jump=f"r{b0}1", test="b1", tag=False))
        for b1 in "01":
            out.append(f'  <label id="r{b0}{b1}"/>\n' + _reply("180 Ringing", jump=f"r{b0}{b1}1", test="b2"))
            for b2 in "01":
                leaf = f"{b0}{b1}{b2}"
                wait = max(1, round(ring[int(leaf, 2)]))
                out.append(
                    f'  <label id="r{leaf}"/>\n  <recv request="CANCEL" timeout="{wait}" ontimeout="a{leaf}"'
                    ' next="cancelled"/>\n'
                )
    for number in range(8):
        name = f"{number:03b}"
        out.append(f'  <label id="a{name}"/>\n' + _reply("200 OK", jump=f"t{name}1", test="b3", sdp=True, retrans=True))
        for b3 in "01":
            out.append(
                f'  <label id="t{name}{b3}"/>\n  <recv request="ACK" crlf="true" next="t{name}{b3}1"'
                f' test="b4">\n{_EREG_ACK}  </recv>\n'
            )
            for b4 in "01":
                index = order[number * 4 + int(b3 + b4, 2)]
                out.append(
                    f'  <label id="t{name}{b3}{b4}"/>\n  <recv request="BYE" timeout="{max(1, round(talk[index]))}"'
                    ' ontimeout="hangup" next="far_bye"/>\n'
                )
    return "".join(out)


async def start(argv: list[str], out: Path, nice: int = 0) -> asyncio.subprocess.Process:
    niced = ["nice", "-n", str(nice)] if nice else []
    with out.open("wb") as fh:
        return await asyncio.create_subprocess_exec(
            *niced, "sipp", *argv, stdin=asyncio.subprocess.DEVNULL, stdout=fh, stderr=asyncio.subprocess.STDOUT
        )
