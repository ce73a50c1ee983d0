"""Read sipp's message traces (-trace_msg): every SIP message with the time sipp saw it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

_HEADER = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$")


@dataclass
class Message:
    at: float  # epoch seconds
    direction: str  # sent | received
    first_line: str
    headers: dict[str, str]


def read(path: Path) -> list[Message]:
    out: list[Message] = []
    lines = path.read_text(errors="replace").splitlines()
    i = 0
    while i < len(lines):
        m = _HEADER.match(lines[i])
        if not m:
            i += 1
            continue
        at = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        direction = "sent" if "sent" in lines[i + 1] else "received"
        j = i + 2
        while j < len(lines) and not lines[j].strip():
            j += 1
        first = lines[j].strip() if j < len(lines) else ""
        headers: dict[str, str] = {}
        j += 1
        while j < len(lines) and lines[j].strip() and not _HEADER.match(lines[j]):
            name, _, value = lines[j].partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
            j += 1
        out.append(Message(at, direction, first, headers))
        i = j
    return out


def caller_number(msg: Message) -> str:
    m = re.search(r"sip:([^@>;]+)@", msg.headers.get("from", ""))
    return m.group(1) if m else ""
