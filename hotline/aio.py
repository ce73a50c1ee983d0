"""The event loop the engine runs on: uvloop where it is installed (the default), else asyncio's.

uvloop's loop moves the engine's socket reads and writes (ARI, AMI, Socket.IO, HTTP) out of
Python; on `hotline bench voice` phase 1 it took about half a millisecond off the engine's
median delay from a caller's INVITE to the seat's. The setting ``event_loop = "asyncio"``
keeps the standard loop (the tests run on it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], loop: str = "uvloop") -> T:
    """``asyncio.run`` on the chosen loop."""
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            logger.warning("uvloop is not installed: running on asyncio's own event loop")
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(main)
    return asyncio.run(main)
