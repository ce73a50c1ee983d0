"""Keep a citizen's picture or voice file under ``<data_dir>/channels/media``, named by content hash."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import logging
import os
import time
from pathlib import Path

from prometheus_client import Counter

from channels.core.mediatype import check_media

logger = logging.getLogger(__name__)


class DiskFull(OSError):
    """The disk (or the account's quota) had no room for the file: nothing was kept."""

    def __str__(self) -> str:
        return "存储空间不足"


NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
FULL = Counter("hotline_disk_full_total", "files not kept because the disk or quota was full", ["what"])
_said_at = [float("-inf")]  # one log line a minute while the disk stays full


def store_media(
    data_dir: Path, content_type: str, content: bytes, allowed: tuple[str, ...], max_bytes: int, day: dt.date
) -> Path:
    """Write the file atomically and return its path; ValueError when type or size is refused,
    ``DiskFull`` when there is no room (the half-written file removed, one line a minute)."""
    ext = check_media(content_type, content, allowed, max_bytes)
    digest = hashlib.sha256(content).hexdigest()
    folder = data_dir / "channels" / "media" / day.strftime("%Y%m%d")
    path = folder / f"{digest}{ext}"
    tmp = path.with_suffix(ext + ".tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with tmp.open("wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno not in NO_SPACE:
            raise
        FULL.labels("media").inc()
        now = time.monotonic()
        if now - _said_at[0] >= 60:
            _said_at[0] = now
            logger.error("disk full: pictures and voice files are refused", extra={"folder": str(folder)})
        raise DiskFull(exc.errno, str(exc)) from None
    return path
