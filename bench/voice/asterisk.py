"""The Asterisk side of ``hotline bench voice``: the callers' and seats' PJSIP endpoints, the
app_queue dialplan and the options of its ``[bench]`` queue, written into Asterisk's
configuration folder while the bench runs (the project's files ``#tryinclude`` them), and what
Asterisk says about the run (its CPU, its announcements)."""

from __future__ import annotations

import asyncio
import re
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


QUEUE_OPTIONS = "queues_bench.conf"
NO_QUEUE_OPTIONS = "; hotline bench voice: no waiting experience in this run\n"


def render_queue_waiting(every_s: float, sounds_dir: str) -> str:
    """The options of app_queue's [bench] queue for the city's waiting experience: music on
    hold; position and expected wait at the city's interval; the call-back offer at the same
    interval. app_queue speaks its own prompts: those that have a hotline prompt of the same
    meaning are mapped to it, its numbers stay Asterisk's (English) digits: the sandbox has no
    Chinese ones, and a missing hold-time number would end the caller's stay in the queue
    (``say_position`` returns that error like a hang-up)."""
    if every_s <= 0:
        return NO_QUEUE_OPTIONS
    every = max(1, round(every_s))
    prompt = sounds_dir.rstrip("/")
    return "\n".join(
        [
            "; written by `hotline bench voice` for its phase 2; continues queues.conf's [bench]",
            "musicclass=default",
            f"announce-frequency={every}",
            # Without it a caller whose position changed hears it again after 15 s (the default).
            f"min-announce-frequency={every}",
            "announce-position=yes",
            "announce-holdtime=yes",
            f"periodic-announce={prompt}/callback_offer",
            f"periodic-announce-frequency={every}",
            f"queue-youarenext={prompt}/position_next",  # 您是下一位，请稍候。
            f"queue-thereare={prompt}/position_before",  # 您前面还有 (app_queue then says its own position)
            f"queue-callswaiting={prompt}/position_after",  # 位
            f"queue-holdtime={prompt}/wait_before",  # 预计等待约
            f"queue-minute={prompt}/word_minutes",  # 分钟
            f"queue-minutes={prompt}/word_minutes",
            f"queue-seconds={prompt}/word_miao",
            "queue-thankyou=",  # the engine says no thanks: nothing here either
            "",
        ]
    )


async def set_queue_options(ami: Any, etc: Path, text: str) -> bool:
    """Write the [bench] queue's extra options and reload app_queue if they changed."""
    path = etc / QUEUE_OPTIONS
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    tmp = etc / f".{QUEUE_OPTIONS}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    await ami.reload("app_queue.so")
    await asyncio.sleep(0.5)
    return True


def queue_options_included(etc: Path) -> bool:
    """Whether the running configuration reads the bench's queue options (older sandboxes do not)."""
    try:
        return QUEUE_OPTIONS in (etc / "queues.conf").read_text(encoding="utf-8")
    except OSError:
        return False


_TOLD = re.compile(r"Told \S+ in bench their queue position")
_PERIODIC = re.compile(r"Playing periodic announcement")


def app_queue_announcements(log: str) -> dict[str, int]:
    """app_queue's announcements in a stretch of Asterisk's verbose log (level 3): position
    and expected wait ("Told <channel> in bench their queue position"), and the periodic
    call-back offer ("Playing periodic announcement", which names no channel)."""
    return {"position": len(_TOLD.findall(log)), "callback_offer": len(_PERIODIC.findall(log))}


async def settle(ami: Any, limit_s: float = 15.0) -> None:
    """Wait until no task queue inside Asterisk is above its low-water mark: a reload of a few
    hundred seat endpoints fills the device-state queue past its high-water mark, and while one
    is there PJSIP ignores every new INVITE (the global overload alert), so the first calls would
    measure the reload."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        try:
            msg = await ami.action({"Action": "Command", "Command": "core show taskprocessors"}, as_list=False)
        except Exception:
            return
        output = msg.get("Output") or []
        if not any(busy(line) for line in (output if isinstance(output, list) else [output])):
            return
        await asyncio.sleep(0.25)


def busy(line: str) -> bool:
    """A line of ``core show taskprocessors`` whose queue is above its low-water mark."""
    cols = line.split()
    if len(cols) < 8 or not cols[2].isdigit() or not cols[4].isdigit():
        return False
    return int(cols[2]) > int(cols[4])  # In Queue > Low water
