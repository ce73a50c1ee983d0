"""The login edge's own helpers."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from hotline.login import HASH_NICENESS, _lowly


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have their own priority on Linux only")
def test_a_password_is_hashed_at_a_lower_cpu_priority_than_the_event_loop() -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def hashing_thread() -> None:
        seen.append(_lowly(os.getpriority, os.PRIO_PROCESS, threading.get_native_id()))

    worker = threading.Thread(target=hashing_thread)
    worker.start()
    worker.join()
    assert seen == [min(19, base + HASH_NICENESS)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the loop's thread untouched
