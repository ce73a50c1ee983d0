"""Seats' phones as Asterisk sees them (AMI ``ContactStatus``): a ready seat whose desk phone or
browser phone loses its registration is set not ready ("unregistered") at once, so no caller is
offered to a phone that cannot ring. The seat goes ready again itself when it is back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from acd.core import SeatNotReady
from acd.service import AcdService

logger = logging.getLogger(__name__)
GONE = ("Removed", "Unreachable")


class PhonePresence:
    def __init__(self, acd: AcdService) -> None:
        self.acd = acd
        self.registered: dict[str, bool] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def on_contact_status(self, message: Any) -> None:
        """panoramisk calls this synchronously; the ACD is fed in a task of its own."""
        aor = str(message.get("AOR", ""))
        status = str(message.get("ContactStatus", ""))
        if not aor.startswith("seat"):
            return
        seat_id = aor[4:]
        self.registered[seat_id] = status not in GONE
        if status in GONE:
            task = asyncio.get_running_loop().create_task(self._gone(seat_id, status))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _gone(self, seat_id: str, status: str) -> None:
        seat = self.acd.core.seat(seat_id)
        if seat is None or seat.state != "ready" or seat.kind == "cloud":
            return
        try:
            await self.acd.feed(SeatNotReady(now=self.acd.now(), seat_id=seat_id, reason="unregistered"))
            logger.info("seat's phone gone: not ready", extra={"seat": seat_id, "status": status})
        except ValueError as exc:
            logger.info("seat not paused", extra={"seat": seat_id, "cause": str(exc)})
