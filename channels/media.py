"""Keep a citizen's picture or voice file under ``<data_dir>/channels/media``, named by content hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from pathlib import Path

from channels.core.mediatype import check_media

logger = logging.getLogger(__name__)


def store_media(
    data_dir: Path, content_type: str, content: bytes, allowed: tuple[str, ...], max_bytes: int, day: dt.date
) -> Path:
    """Write the file atomically and return its path; ValueError when type or size is refused."""
    ext = check_media(content_type, content, allowed, max_bytes)
    digest = hashlib.sha256(content).hexdigest()
    folder = data_dir / "channels" / "media" / day.strftime("%Y%m%d")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}{ext}"
    if not path.exists():
        tmp = path.with_suffix(ext + ".tmp")
        with tmp.open("wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    return path
