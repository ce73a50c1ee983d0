"""Loading flow files, with hot reload that keeps the running flow when a new file is bad.

A ``Flow`` is immutable: a call keeps the object it started with, so swapping ``current``
never changes a call in progress.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ivr.core.errors import FlowError, Issue
from ivr.core.flow import Flow
from ivr.core.flowfile import parse_flow
from ivr.prompts import PromptResolver, load_catalog

logger = logging.getLogger(__name__)


def known_prompts(resolver: PromptResolver | None = None) -> set[str]:
    """Names a flow may use: the prompt list, plus any recording an operator dropped in."""
    names = set(load_catalog())
    if resolver is not None:
        names |= resolver.available()
    return names


def load_flow(path: Path, *, prompts: set[str] | None = None, queues: set[str] | None = None) -> Flow:
    """Read and check one flow file; FlowError with file:line: reason on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FlowError([Issue(str(path), 1, f"cannot read flow file: {reason}")]) from None
    return parse_flow(text, str(path), prompts=prompts, queues=queues)


class FlowStore:
    """The flow in service for one hotline."""

    def __init__(self, path: Path, *, prompts: set[str] | None = None, queues: set[str] | None = None) -> None:
        self.path = path
        self.prompts = prompts
        self.queues = queues
        self._lock = threading.Lock()
        self._mtime_ns = self._stat()
        self._current = load_flow(path, prompts=prompts, queues=queues)  # no flow at all is fatal at start

    @property
    def current(self) -> Flow:
        return self._current

    def _stat(self) -> int:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return -1

    def reload(self) -> FlowError | None:
        """Load the file again; on error keep the flow in service and return the error."""
        mtime = self._stat()
        try:
            flow = load_flow(self.path, prompts=self.prompts, queues=self.queues)
        except FlowError as exc:
            logger.warning("flow %s not reloaded, the previous one stays in service: %s", self.path, exc)
            self._mtime_ns = mtime  # do not retry the same bad file on every poll
            return exc
        with self._lock:
            old, self._current, self._mtime_ns = self._current, flow, mtime
        if old.version != flow.version:
            logger.info("flow %s reloaded: version %s -> %s", self.path, old.version, flow.version)
        return None

    def reload_if_changed(self) -> FlowError | None:
        """For a poller: reload only when the file's modification time moved."""
        if self._stat() == self._mtime_ns:
            return None
        return self.reload()
