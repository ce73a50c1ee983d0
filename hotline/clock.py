"""The engine's time: the wall clock, except that it never steps.

The ACD, the voice calls, the IVR, the chats and the consoles keep their timers as wall-clock
deadlines (a ring timeout, a wrap-up, an announcement, a late reply) and stamp their records with
the same time. A wall clock can step: NTP correcting a large offset, a virtual machine resumed, an
operator's ``date -s``. Stepped back an hour, every timer would sleep an hour (a seat's ring
timeout never fires, the caller waits on); stepped forward, every timer would fire at once (every
offer cancelled as unanswered, every waiting caller past every threshold).

``SteadyClock`` follows the wall clock exactly while it runs at the monotonic clock's pace (NTP's
gentle slewing included). When the two part by more than the pace allows, the wall clock has
stepped: engine time goes on at the monotonic pace, at most ``slew`` (10 %) faster or slower,
until it meets the wall clock again. A 15 s timer then takes between 13.6 and 16.7 s; none stall
and none fire together; an hour's step is absorbed in ten. One log line and a gauge say so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Gauge

logger = logging.getLogger(__name__)

OFFSET = Gauge("hotline_clock_offset_seconds", "wall clock minus the engine's steady time (non-zero after a step)")
STEP_S = 1.0  # a gap larger than this is a step worth a log line


class SteadyClock:
    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        slew: float = 0.1,
    ) -> None:
        if not 0 < slew < 1:
            raise ValueError("slew must be between 0 and 1")
        self.wall, self.mono, self.slew = wall, mono, slew
        self._mono = mono()
        self._now = wall()
        self._stepped = False  # a step is being absorbed (logged once)

    def __call__(self) -> float:
        mono, wall = self.mono(), self.wall()
        elapsed = max(0.0, mono - self._mono)
        self._mono = mono
        steady = self._now + elapsed
        gap = wall - steady
        allowed = self.slew * elapsed
        if abs(gap) <= allowed:
            now = wall  # in step with the wall clock (or caught up again)
            if self._stepped:
                self._stepped = False
                OFFSET.set(0)
                logger.warning("engine time meets the wall clock again")
        else:
            now = steady + (allowed if gap > 0 else -allowed)
            if not self._stepped and abs(gap) > STEP_S:
                self._stepped = True
                logger.warning(
                    "wall clock stepped: engine time keeps its pace and drifts toward it",
                    extra={"step_s": round(gap, 3), "catch_up_s": round(abs(gap) / self.slew)},
                )
            OFFSET.set(wall - now)
        self._now = now
        return now


# One per process: every timer and every stamp of the engine on the same time.
engine_time = SteadyClock()
