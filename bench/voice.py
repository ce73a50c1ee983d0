"""``hotline bench voice``: this engine against Asterisk's own Queue() on the same SIP traffic.

sipp plays both sides on loopback: one caller sipp per run and one UAS for all seats (static
PJSIP contacts ``sip:seatbenchNNN@127.0.0.1:PORT``). Each phase runs once through this engine
(AcdService + VoiceService in a process of its own, ``bench.voice_engine``, built like the
integration harness and run like ``hotline run``: the bench's own work never shares its loop) and once
through ``Queue(bench)`` with the same seats as members. Every number comes from the sipp
message traces (both sipps share Asterisk's clock):

- phase 1, seats always free: delay from the caller's INVITE to the seat's INVITE, paired by
  the caller number PJSIP copies into the seat leg's From; failed = calls never connected.
- phase 2, scarce seats at ``--load`` of capacity, Poisson arrivals, patient ``--patience`` s:
  15-second answer rate (DOMAIN.md: answered by a seat within 15 s of arrival / all calls),
  abandons, wasted rings (a seat rung for a caller who hung up) and the re-use gap (a seat
  freed while a caller waited unoffered -> that seat's next INVITE).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import math
import os
import random
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline import aio
from hotline.commands.bench import machine
from hotline.errors import CommandError

SCENARIOS = Path(__file__).resolve().parent / "voice_scenarios"
ENGINES = ("engine", "app_queue")
LAUNCH_RATE = 500  # calls/s at which sipp creates the (paused) calls before the first INVITE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--phases", default="1,2", help="phases to run: 1, 2 or 1,2 (default)")
    a("--engines", default="engine,app_queue", help="engine, app_queue or both (default)")
    a("--rates", default="20,50", help="phase 1 new calls per second; the first one goes in the summary")
    a("--phase1-seconds", type=float, default=60.0, help="phase 1 length per rate (default 60)")
    a("--repeat", type=int, default=1, help="phase 1 runs per rate and engine, alternating (summary: medians)")
    a("--seats1", type=int, default=200, help="phase 1 seats; raised if the rate would keep >80%% busy")
    a("--answer-min", type=float, default=1.0, help="seat answers after uniform [min, max] s (default 1-3)")
    a("--answer-max", type=float, default=3.0)
    a("--talk1", type=float, default=3.0, help="phase 1 talk seconds (default 3)")
    a("--phase2-minutes", type=float, default=20.0, help="phase 2 arrivals last this long (default 20)")
    a("--seats2", type=int, default=50, help="phase 2 seats (default 50)")
    a("--talk2-min", type=float, default=20.0, help="phase 2 talk uniform [min, max] s (default 20-60)")
    a("--talk2-max", type=float, default=60.0)
    a("--load", type=float, default=0.9, help="phase 2 offered load / capacity (default 0.9)")
    a("--patience", type=float, default=40.0, help="phase 2 caller patience in s (default 40)")
    a("--seed", type=int, default=12345, help="random seed of the phase 2 arrivals")
    a("--keep", default="", help="keep the sipp traces in this folder")
    a("--no-records", action="store_true", help="run the engine without writing interaction records")
    a(
        "--load-nice",
        type=int,
        default=0,
        help="niceness of the sipp callers and seats (default 0: they compete with Asterisk and the"
        " engine as equals; 10 lets the load yield the cores, as phones on other machines would)",
    )


@dataclass(frozen=True)
class Plan:
    """One run: who routes, how many seats, when each caller dials, how seats behave."""

    engine: str
    label: str
    seats: int
    starts_ms: tuple[int, ...]
    answer_ms: tuple[int, int]
    talk_ms: tuple[int, int]
    patience_ms: int


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CommandError(f"{name} must be numbers separated by commas, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise CommandError(f"{name} needs at least one positive number, got {text!r}")
    return values


def _check(args: argparse.Namespace) -> tuple[list[int], list[str], list[float]]:
    phases = sorted({int(x) for x in _floats(args.phases, "--phases")})
    if not set(phases) <= {1, 2}:
        raise CommandError("--phases takes 1, 2 or 1,2")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or any(e not in ENGINES for e in engines):
        raise CommandError(f"--engines takes {', '.join(ENGINES)} (comma separated), got {args.engines!r}")
    rates = _floats(args.rates, "--rates")
    positive = (
        "phase1_seconds",
        "repeat",
        "seats1",
        "talk1",
        "phase2_minutes",
        "seats2",
        "load",
        "patience",
        "talk2_min",
    )
    for name in positive:
        if getattr(args, name) <= 0:
            raise CommandError(f"--{name.replace('_', '-')} must be positive")
    if not 0 <= args.answer_min <= args.answer_max or args.talk2_max < args.talk2_min:
        raise CommandError("--answer-min <= --answer-max and --talk2-min <= --talk2-max, all >= 0")
    if args.load >= 1.5 or args.seats1 > 999 or args.seats2 > 999:
        raise CommandError("--load must be below 1.5 and seats at most 999")
    if not 0 <= args.load_nice <= 19:
        raise CommandError("--load-nice takes 0 (as Asterisk) to 19 (lowest)")
    return phases, engines, rates


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def plans(args: argparse.Namespace, phases: list[int], engines: list[str], rates: list[float]) -> list[Plan]:
    out: list[Plan] = []
    answer = (_ms(args.answer_min), _ms(args.answer_max))
    if 1 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + args.talk1
        for rate in rates:
            n = max(1, int(rate * args.phase1_seconds))
            seats = max(args.seats1, math.ceil(rate * hold / 0.8))  # "always free": at most 80% busy
            lead = n / LAUNCH_RATE + 1
            starts = tuple(_ms(lead + i / rate) for i in range(n))
            for r in range(args.repeat):
                # On a shared machine the tails drift with whatever else runs: repeats alternate
                # which engine goes first, and each pair shares its seat draws.
                label = f"p1@{rate:g}" + (f"#{r + 1}" if args.repeat > 1 else "")
                for engine in engines if r % 2 == 0 else engines[::-1]:
                    # Patience is long here: every call must reach a seat, or it failed.
                    out.append(Plan(engine, label, seats, starts, answer, (_ms(args.talk1),) * 2, 60_000))
    if 2 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + (args.talk2_min + args.talk2_max) / 2
        rate = args.load * args.seats2 / hold
        rng = random.Random(args.seed)
        t, times = 0.0, []
        while t < args.phase2_minutes * 60:
            times.append(t)
            t += rng.expovariate(rate)
        lead = len(times) / LAUNCH_RATE + 1
        starts = tuple(_ms(lead + x) for x in times)
        talk = (_ms(args.talk2_min), _ms(args.talk2_max))
        for engine in engines:
            out.append(Plan(engine, "p2", args.seats2, starts, answer, talk, _ms(args.patience)))
    return out


def rtp_sessions_needed(args: argparse.Namespace, phases: list[int], rates: list[float]) -> int:
    """The most RTP sessions Asterisk holds at once in these runs: every call up has two legs
    (caller and seat, each with its RTP); phase 1 keeps ``rate × (ring + talk + 1 s)`` calls up,
    phase 2 its seats busy and the callers waiting (at most a patience's worth of arrivals)."""
    need = 0
    if 1 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + args.talk1 + 1.0
        need = max(need, math.ceil(2 * max(rates) * hold))
    if 2 in phases:
        hold = (args.answer_min + args.answer_max) / 2 + (args.talk2_min + args.talk2_max) / 2
        arrivals = args.load * args.seats2 / hold
        need = max(need, 2 * args.seats2 + math.ceil(arrivals * args.patience))
    return need


# -- sipp traces --------------------------------------------------------------------------------
_HEAD = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$", re.M)
_FROM_USER = re.compile(r"^From:[^<\n]*<sip:([^@>;]+)", re.M | re.I)
_TO_USER = re.compile(r"^To:[^<\n]*<sip:([^@>;]+)", re.M | re.I)
_CALL_ID = re.compile(r"^Call-ID:\s*(\S+)", re.M | re.I)
_CSEQ = re.compile(r"^CSeq:\s*\d+\s+(\w+)", re.M | re.I)
_PAI = re.compile(r"^P-Asserted-Identity:[^<\n]*<sip:([^@>;]+)", re.M | re.I)


@dataclass
class Msg:
    t: float
    sent: bool
    first: str
    call_id: str
    cseq: str
    from_user: str
    to_user: str
    pai: str


def read_trace(path: Path) -> list[Msg]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    heads = list(_HEAD.finditer(text))
    out = []
    for i, h in enumerate(heads):
        body = text[h.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        lines = [x for x in body.strip().splitlines() if x.strip()]
        if len(lines) < 2:
            continue
        t = dt.datetime.strptime(h.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC).timestamp()

        def grab(rx: re.Pattern[str], body: str = body) -> str:
            m = rx.search(body)
            return m.group(1) if m else ""

        out.append(
            Msg(
                t,
                "sent" in lines[0],
                lines[1].strip(),
                grab(_CALL_ID),
                grab(_CSEQ).upper(),
                grab(_FROM_USER),
                grab(_TO_USER),
                grab(_PAI),
            )
        )
    return out


@dataclass
class CallerCall:
    number: str
    invite: float
    connected: float | None = None
    abandoned: float | None = None


@dataclass
class SeatCall:
    seat: str
    number: str
    invite: float
    answered: float | None = None
    cancelled: float | None = None
    freed: float | None = None


@dataclass
class Traces:
    callers: dict[str, CallerCall] = field(default_factory=dict)  # by number
    seat_calls: list[SeatCall] = field(default_factory=list)


def parse(caller_msgs: list[Msg], seat_msgs: list[Msg]) -> Traces:
    tr = Traces()
    by_cid: dict[str, CallerCall] = {}
    for m in caller_msgs:
        call = by_cid.get(m.call_id)
        if call is None:
            if m.sent and m.first.startswith("INVITE "):
                by_cid[m.call_id] = tr.callers[m.from_user] = CallerCall(m.from_user, m.t)
            continue
        # The re-INVITE with the connected line; app_queue's for a ringing seat shows 12345.
        if not m.sent and m.first.startswith("INVITE ") and m.pai not in ("", "12345") and call.connected is None:
            call.connected = m.t
        elif m.sent and m.first.startswith("BYE ") and call.abandoned is None and call.connected is None:
            call.abandoned = m.t
    legs: dict[str, SeatCall] = {}
    for m in seat_msgs:
        leg = legs.get(m.call_id)
        if leg is None:
            if not m.sent and m.first.startswith("INVITE "):
                seat = m.first.split()[1].split("@")[0].removeprefix("sip:").removeprefix("seat")
                legs[m.call_id] = SeatCall(seat, m.from_user, m.t)
                tr.seat_calls.append(legs[m.call_id])
            continue
        if m.sent and m.first.startswith("SIP/2.0 200") and m.cseq == "INVITE" and leg.answered is None:
            leg.answered = m.t
        elif not m.sent and m.first.startswith("CANCEL ") and leg.cancelled is None:
            leg.cancelled = leg.freed = m.t
        elif m.first.startswith("BYE ") and leg.freed is None:
            leg.freed = m.t  # the seat hung up (sent) or the caller did (received)
    return tr


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 2)


def phase1_metrics(tr: Traces, failed_sipp: int) -> dict[str, Any]:
    first: dict[str, float] = {}
    for leg in tr.seat_calls:
        first[leg.number] = min(first.get(leg.number, leg.invite), leg.invite)
    delays = [first[n] - c.invite for n, c in tr.callers.items() if n in first]
    never = sum(1 for c in tr.callers.values() if c.connected is None)
    return {
        "calls": len(tr.callers),
        "p50_ms": _pct(delays, 50),
        "p99_ms": _pct(delays, 99),
        "max_ms": _pct(delays, 100),
        "failed": max(never, failed_sipp),
        "seat_cancels": sum(1 for leg in tr.seat_calls if leg.cancelled is not None),
    }


def phase2_metrics(tr: Traces, failed_sipp: int, target_s: float = 15.0) -> dict[str, Any]:
    answer: dict[str, float] = {}
    offered: dict[str, float] = {}
    for leg in tr.seat_calls:
        offered[leg.number] = min(offered.get(leg.number, leg.invite), leg.invite)
        if leg.answered is not None:
            answer[leg.number] = min(answer.get(leg.number, leg.answered), leg.answered)
    waits, abandons = [], 0
    for n, c in tr.callers.items():
        a = answer.get(n)
        if a is not None and (c.abandoned is None or a < c.abandoned):
            waits.append(a - c.invite)
        elif c.abandoned is not None:
            abandons += 1
    calls = len(tr.callers)
    abandoned_at = {n: c.abandoned for n, c in tr.callers.items() if c.abandoned is not None}
    wasted = sum(1 for leg in tr.seat_calls if leg.answered is None and leg.number in abandoned_at)
    # Callers waiting without a seat ringing for them: (arrival, first seat INVITE or abandon).
    unserved = sorted((c.invite, min(offered.get(n, math.inf), c.abandoned or math.inf)) for n, c in tr.callers.items())
    gaps = []
    by_seat: dict[str, list[SeatCall]] = {}
    for leg in tr.seat_calls:
        by_seat.setdefault(leg.seat, []).append(leg)
    for legs in by_seat.values():
        legs.sort(key=lambda x: x.invite)
        for prev, nxt in itertools.pairwise(legs):
            t = prev.freed
            if t is None or nxt.invite < t:
                continue
            if any(a < t < b for a, b in unserved if a < t):
                gaps.append(nxt.invite - t)
    return {
        "calls": calls,
        "answered": len(waits),
        "sl15": round(sum(1 for w in waits if w <= target_s) / calls, 4) if calls else None,
        "wait_p50_s": None if not waits else round(sorted(waits)[len(waits) // 2], 3),
        "abandons": abandons,
        "wasted_rings": wasted,
        "reuse_gap_p50_ms": _pct(gaps, 50),
        "reuse_gap_p90_ms": _pct(gaps, 90),
        "reuse_gaps": len(gaps),
        "failed": failed_sipp,
    }


# -- Asterisk configuration ---------------------------------------------------------------------
def seat_ids(n: int) -> list[str]:
    return [f"bench{i:03d}" for i in range(1, n + 1)]


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


DRAW_BITS = 5  # 3 pick one of 8 ring times, 2 one of 4 talk times for that ring time (32 in all)


def caller_numbers(plan: Plan) -> list[str]:
    """One number per call: a prefix per engine, the call's ring and talk draw as five 0/1
    digits, then its index. The draws come from the run's label, so the engine and app_queue
    get the same seat behaviour for the same caller: the phase-2 comparison is paired."""
    rng = random.Random(f"seat-draws-{plan.label}")
    prefix = "139" if plan.engine == "engine" else "138"
    return [f"{prefix}{rng.getrandbits(DRAW_BITS):0{DRAW_BITS}b}{i + 1:06d}" for i in range(len(plan.starts_ms))]


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


# -- running -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    phases, engines, rates = _check(args)
    if shutil.which("sipp") is None:
        raise CommandError("sipp is not installed: apt-get install sip-tester (make test installs it)")
    from hotline import sandbox
    from hotline.settings import load_settings

    settings = load_settings()
    a = settings.asterisk
    ports = (a.rtp_end - a.rtp_start + 1) // 2  # one even port (RTP) and the next (RTCP) per session
    need = rtp_sessions_needed(args, phases, rates)
    if need > ports:
        # Past the range Asterisk refuses the calls ("couldn't allocate a port for RTP"): both
        # engines would fail them, and the numbers would measure the range, not the routing.
        raise CommandError(
            f"these runs hold about {need} RTP sessions at once, but Asterisk's RTP ports "
            f"{a.rtp_start}-{a.rtp_end} give {ports}: widen asterisk.rtp_end (and restart the sandbox) "
            "or lower --rates"
        )
    if not settings.asterisk.external and sandbox.ari_info(settings, timeout=2) is None:
        sandbox.up(settings)  # the benchmark needs its Asterisk; bring the sandbox up like `sandbox up`
    if sandbox.ari_info(settings, timeout=2) is None:
        raise CommandError(f"Asterisk ARI at {settings.asterisk.ari_url} does not answer: run 'hotline sandbox up'")
    todo = plans(args, phases, engines, rates)
    load_before = os.getloadavg()
    if args.keep:
        folder = Path(args.keep)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--keep {args.keep}: cannot create the folder ({exc.strerror})") from None
        result = aio.run(_run(args, settings, todo, folder, engines, rates), settings.event_loop)
    else:
        with tempfile.TemporaryDirectory(prefix="hotline-bench-voice-") as tmp:
            result = aio.run(_run(args, settings, todo, Path(tmp), engines, rates), settings.event_loop)
    # Other work on the machine shows in the tails: say how busy it was.
    result["machine"]["load_avg_1m"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    return result


async def _run(
    args: argparse.Namespace, settings: Any, todo: list[Plan], work: Path, engines: list[str], rates: list[float]
) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from acd.ami import Ami, AmiError
    from acd.voice.provision import config_dir

    etc = config_dir(settings)
    if etc is None or not etc.is_dir():
        raise CommandError(
            "the benchmark writes pjsip_bench.conf into Asterisk's configuration folder: use the sandbox, "
            "or set HOTLINE_ASTERISK__CONFIG_DIR for an external Asterisk"
        )
    a = settings.asterisk
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password, timeout=a.request_timeout)
    try:
        await ami.connect()
    except AmiError as exc:
        raise CommandError(f"AMI at {a.host}:{a.ami_port}: {exc}") from None
    # The bench only sends actions: AMI's event stream (every channel's every change) would
    # cost this process, which also runs the engine, a tenth of its loop at 20 calls/s.
    with contextlib.suppress(AmiError):
        await ami.action({"Action": "Events", "EventMask": "off"}, as_list=False)
    ports = {"engine": free_udp_port(), "app_queue": free_udp_port(), "seats": free_udp_port()}
    seats = max(p.seats for p in todo)
    results: dict[str, dict[str, Any]] = {}
    console = Console(stderr=True)
    try:
        await _configure(ami, etc, render_pjsip(ports, seats), EXTENSIONS)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            for plan in todo:
                total = plan.starts_ms[-1] / 1000 + (plan.answer_ms[1] + plan.talk_ms[1]) / 1000
                task = progress.add_task(f"{plan.label} {plan.engine}", total=total, note="")
                results[f"{plan.label}/{plan.engine}"] = await _one(
                    plan, settings, ami, ports, work, progress, task, not args.no_records, args.load_nice
                )
                progress.update(task, completed=total, note=_note(results[f"{plan.label}/{plan.engine}"]))
    finally:
        with contextlib.suppress(Exception):
            await _configure(ami, etc, "; hotline bench voice: not running\n", "; hotline bench voice: not running\n")
        await ami.close()
    return summary(args, results, engines, rates)


def _note(r: dict[str, Any]) -> str:
    if "sl15" in r:
        return f"sl15 {r['sl15']} gap p50 {r['reuse_gap_p50_ms']} ms abandons {r['abandons']}"
    return f"p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms failed {r['failed']}"


async def _configure(ami: Any, etc: Path, pjsip: str, extensions: str) -> None:
    for name, text in (("pjsip_bench.conf", pjsip), ("extensions_bench.conf", extensions)):
        tmp = etc / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(etc / name)
    await ami.reload("res_pjsip.so")
    await ami.reload("pbx_config.so")
    await asyncio.sleep(0.5)  # the reload finishes asynchronously inside Asterisk


async def _sipp(argv: list[str], out: Path, nice: int = 0) -> asyncio.subprocess.Process:
    niced = ["nice", "-n", str(nice)] if nice else []
    with out.open("wb") as fh:
        return await asyncio.create_subprocess_exec(
            *niced, "sipp", *argv, stdin=asyncio.subprocess.DEVNULL, stdout=fh, stderr=asyncio.subprocess.STDOUT
        )


async def _one(
    plan: Plan,
    settings: Any,
    ami: Any,
    ports: dict[str, int],
    work: Path,
    progress: Any,
    task: Any,
    records: bool = True,
    nice: int = 0,
) -> dict[str, Any]:
    run_dir = work / f"{plan.label.replace('@', '-')}-{plan.engine}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "caller.xml").write_text(
        fill("caller.xml", {"PATIENCE_MS": plan.patience_ms, "RING_WAIT_MS": plan.answer_ms[1] + 1000}),
        encoding="utf-8",
    )
    tree = seat_tree(plan.answer_ms, plan.talk_ms)
    (run_dir / "seat.xml").write_text(fill("seat.xml", {"TREE": tree}), encoding="utf-8")
    n = len(plan.starts_ms)
    inf = ["SEQUENTIAL"] + [f"{num};{ms}" for num, ms in zip(caller_numbers(plan), plan.starts_ms, strict=True)]
    (run_dir / "calls.csv").write_text("\n".join(inf) + "\n")
    seat_proc = await _sipp(
        [
            "-sf",
            str(run_dir / "seat.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(ports["seats"]),
            "-nostdin",
            "-l",
            "5000",
            "-trace_msg",
            "-message_file",
            str(run_dir / "seat_messages.log"),
        ],
        run_dir / "seat_out.txt",
        nice,
    )
    stack = None
    try:
        if plan.engine == "engine":
            stack = await EngineProcess.start(plan.seats, ports["seats"], run_dir, records)
        else:
            for seat in seat_ids(plan.seats):
                await ami.action(
                    {"Action": "QueueAdd", "Queue": "bench", "Interface": f"PJSIP/seat{seat}"}, as_list=False
                )
        duration = plan.starts_ms[-1] / 1000 + (plan.patience_ms + plan.talk_ms[1] + plan.answer_ms[1]) / 1000
        caller = await _sipp(
            [
                f"127.0.0.1:{settings.asterisk.sip_port}",
                "-sf",
                str(run_dir / "caller.xml"),
                "-inf",
                str(run_dir / "calls.csv"),
                "-i",
                "127.0.0.1",
                "-p",
                str(ports[plan.engine]),
                "-m",
                str(n),
                "-l",
                str(n + 10),
                "-r",
                str(LAUNCH_RATE),
                "-nostdin",
                "-timeout",
                f"{int(duration + 120)}s",
                "-trace_msg",
                "-message_file",
                str(run_dir / "caller_messages.log"),
            ],
            run_dir / "caller_out.txt",
            nice,
        )
        started = time.monotonic()
        while caller.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caller.wait(), 1.0)
            progress.update(task, completed=time.monotonic() - started)
            if time.monotonic() - started > duration + 180:
                # An overloaded run can leave sipp waiting past its own -timeout: end it;
                # the calls it never finished count as failed.
                caller.terminate()
                await caller.wait()
        await asyncio.sleep(1.0)  # the seats' last BYE transactions
    finally:
        if stack is not None:
            await stack.stop()
        elif plan.engine == "app_queue":
            for seat in seat_ids(plan.seats):
                with contextlib.suppress(Exception):
                    await ami.action(
                        {"Action": "QueueRemove", "Queue": "bench", "Interface": f"PJSIP/seat{seat}"}, as_list=False
                    )
        if seat_proc.returncode is None:
            seat_proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(seat_proc.wait(), 10)
        if seat_proc.returncode is None:
            seat_proc.kill()
    out = (run_dir / "caller_out.txt").read_text(errors="replace")
    failed = [int(x) for x in re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)]
    tr = parse(read_trace(run_dir / "caller_messages.log"), read_trace(run_dir / "seat_messages.log"))
    if not tr.callers:
        raise CommandError(f"no call reached Asterisk in {plan.label} {plan.engine}; see {run_dir}/caller_out.txt")
    metrics = (
        phase1_metrics(tr, failed[-1] if failed else 0)
        if plan.label.startswith("p1")
        else (phase2_metrics(tr, failed[-1] if failed else 0))
    )
    metrics["seats"] = plan.seats
    return metrics


class EngineProcess:
    """The engine of a run in a process of its own (``python -m bench.voice_engine``), as
    ``hotline run`` would have it: the bench's progress bar, its sipp supervision and its trace
    parsing never share the engine's event loop or its interpreter lock."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, seats: int, seat_port: int, run_dir: Path, records: bool = True) -> EngineProcess:
        log = run_dir / "engine.log"
        argv = [sys.executable, "-m", "bench.voice_engine", "--seats", str(seats), "--seat-port", str(seat_port)]
        argv += ["--run-dir", str(run_dir)] + ([] if records else ["--no-records"])
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err
            )
        engine = cls(proc)
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await engine.stop()
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise CommandError("the benchmark's engine did not start: " + (" | ".join(tail) or "no output"))
        return engine

    async def stop(self) -> None:
        """Close its stdin: it stops like ``hotline run`` on a signal (records flushed)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def summary(
    args: argparse.Namespace, results: dict[str, dict[str, Any]], engines: list[str], rates: list[float]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keys = ("p50_ms", "p99_ms", "failed", "sl15", "reuse_gap_p50_ms")
    first = f"p1@{rates[0]:g}"
    for engine in ENGINES:
        # the first rate's runs (one, or --repeat): the median of their p50s and p99s
        runs = [
            r
            for label, r in results.items()
            if label.split("#")[0].split("/")[0] == first and label.endswith(f"/{engine}")
        ]
        p1: dict[str, Any] = {}
        if runs:
            p1 = {
                "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
                "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
                "failed": sum(r["failed"] for r in runs),
            }
        p2 = results.get(f"p2/{engine}", {})
        out[engine] = {k: (p1.get(k) if k in ("p50_ms", "p99_ms", "failed") else p2.get(k)) for k in keys}
    e, q = out["engine"]["p99_ms"], out["app_queue"]["p99_ms"]
    out["p99_ratio"] = round(e / q, 2) if e is not None and q else None
    if args.repeat > 1:  # each pair's own ratio, to see the spread
        out["p99_ratios"] = [
            round(results[f"{first}#{r + 1}/engine"]["p99_ms"] / results[f"{first}#{r + 1}/app_queue"]["p99_ms"], 2)
            for r in range(args.repeat)
            if f"{first}#{r + 1}/engine" in results and f"{first}#{r + 1}/app_queue" in results
        ]
    out["machine"] = machine()
    out["phase1"] = {label: r for label, r in results.items() if label.startswith("p1")}
    out["phase2"] = {label: r for label, r in results.items() if label.startswith("p2")}
    hold2 = (args.answer_min + args.answer_max) / 2 + (args.talk2_min + args.talk2_max) / 2
    out["params"] = {
        "rates": rates,
        "phase1_seconds": args.phase1_seconds,
        "repeat": args.repeat,
        "seats1": args.seats1,
        "answer_s": [args.answer_min, args.answer_max],
        "talk1_s": args.talk1,
        "phase2_minutes": args.phase2_minutes,
        "seats2": args.seats2,
        "talk2_s": [args.talk2_min, args.talk2_max],
        "load": args.load,
        "arrivals_per_s": round(args.load * args.seats2 / hold2, 4),
        "patience_s": args.patience,
        "sl_target_s": 15.0,
        "sl_formula": "answered by a seat within 15 s of the INVITE / all calls (abandons included)",
        "engines": engines,
        "engine_records": not args.no_records,
        "load_nice": args.load_nice,
        "seed": args.seed,
    }
    return out
