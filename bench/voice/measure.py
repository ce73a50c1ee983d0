"""What the bench reads besides the sipp traces: processes' CPU time from ``/proc``, the engine's
interaction records, and the lines that say what was lost."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process, all its threads (``/proc/<pid>/stat`` fields 14
    and 15); None when it is gone or unknown."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def per_call_ms(before: float | None, after: float | None, calls: int) -> float | None:
    if before is None or after is None or calls <= 0:
        return None
    return round((after - before) * 1000 / calls, 3)


def engine_announcements(records_db: Path) -> dict[str, int] | None:
    """Announcements the engine played (its interaction records list each one in the call's
    ``offers`` as ``{"event": "announcement"}``): how many, and to how many callers."""
    if not records_db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{records_db}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT data FROM interactions").fetchall()
    except sqlite3.Error:
        return None
    played = callers = 0
    for (data,) in rows:
        record: dict[str, Any] = json.loads(data) if isinstance(data, str) else data
        n = sum(1 for o in record.get("offers") or () if isinstance(o, dict) and o.get("event") == "announcement")
        played += n
        callers += 1 if n else 0
    return {"played": played, "callers": callers}


def loss_lines(where: str, lost: dict[str, str], doubled: list[str]) -> list[str]:
    """One line per lost or doubled caller, naming the run (engine and phase) and the number."""
    lines = [f"voice {where}: caller {number} {why}" for number, why in sorted(lost.items())]
    lines += [f"voice {where}: caller {number} answered by two seats at once" for number in doubled]
    return lines
