"""Queue definitions as data: a TOML file of ``[[queue]]`` tables, checked at load."""

from __future__ import annotations

import tomllib
from pathlib import Path

from acd.core import QueueConfig

DEFAULT = Path(__file__).with_name("city.toml")


class QueueFileError(ValueError):
    pass


def load_queues(path: Path = DEFAULT) -> list[QueueConfig]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QueueFileError(f"{path}: {exc}") from None
    entries = data.get("queue")
    if not isinstance(entries, list) or not entries:
        raise QueueFileError(f"{path}: no [[queue]] tables")
    out = []
    for i, entry in enumerate(entries, 1):
        try:
            out.append(QueueConfig.from_dict(entry))
        except (TypeError, ValueError) as exc:
            raise QueueFileError(f"{path}: queue #{i} ({entry.get('name', '?')}): {exc}") from None
    names = [q.name for q in out]
    if len(set(names)) != len(names):
        raise QueueFileError(f"{path}: a queue name appears twice")
    return out
