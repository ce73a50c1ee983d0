"""Seats' phones as Asterisk sees them (AMI ``ContactStatus``): a ready seat whose desk phone or
browser phone loses its registration is set not ready ("unregistered") at once, so no caller is
offered to a phone that cannot ring. The seat goes ready again itself when it is back.

With peer Asterisk servers watched (``asterisk.peers`` with an ``ami_port``), a phone may be
registered on this server or on a peer; ``SeatLocations`` keeps which one, and the voice side
rings the seat there (``seat_dial_string``). A peer whose AMI connection stays lost past its grace
takes its seats with it: each ready one is set not ready ("unreachable"), and none is located
there any more until its phone registers again, here or on the peer once it is back.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge

from acd.core import SeatNotReady
from acd.service import AcdService

logger = logging.getLogger(__name__)
GONE = ("Removed", "Unreachable")
HERE = ""  # the server the engine's ARI drives
_SEAT_AOR = re.compile(r"^seat([A-Za-z0-9_-]{1,32})$")
# A peer is trusted (the deployment's management network) but bounded: no more seats are
# located than a deployment has, whatever it reports.
MAX_LOCATED = 20_000

PEER_UP = Gauge("hotline_asterisk_peer_up", "1 while the engine is logged into a peer Asterisk's AMI", ["peer"])
PEER_LOST = Counter(
    "hotline_asterisk_peer_lost_total", "peer Asterisk servers whose AMI stayed lost past their grace", ["peer"]
)
SEATS_UNREACHABLE = Counter(
    "hotline_seats_unreachable_total",
    "ready seats set not ready because the peer Asterisk their phone was registered on was lost",
    ["peer"],
)


def seat_of(aor: object) -> str | None:
    """The seat id of an AOR ``seat<id>``; None for anything else (trunks, peers, junk)."""
    found = _SEAT_AOR.fullmatch(str(aor))
    return found.group(1) if found else None


class SeatLocations:
    """Which server each seat's phone is registered on ("" this one, else a peer's name), and at
    which contact. No I/O: the adapter feeds it what the servers report and acts on its answers."""

    def __init__(self, limit: int = MAX_LOCATED) -> None:
        self.limit = limit
        self.where: dict[str, tuple[str, str]] = {}  # seat -> (server, contact URI)

    def contact(self, server: str, seat_id: str, status: str, uri: str = "") -> bool:
        """A contact status from ``server``; True when the seat's phone is gone by it. A contact
        gone that is not the phone's latest is not the phone gone: the phone registered elsewhere
        since and its old contact expires there, or it registered again from another address and
        Asterisk removes the old contact (remove_existing) after adding the new one."""
        if status in GONE:
            at = self.where.get(seat_id)
            if at is not None and (at[0] != server or (uri and at[1] and uri != at[1])):
                return False
            self.where.pop(seat_id, None)
            return True
        if seat_id in self.where or len(self.where) < self.limit:
            self.where[seat_id] = (server, uri)
        return False

    def lost(self, server: str) -> list[str]:
        """The server is lost: the seats whose phones were registered there, no longer located."""
        seats = sorted(seat for seat, (at, _uri) in self.where.items() if at == server)
        for seat in seats:
            del self.where[seat]
        return seats

    def server_of(self, seat_id: str) -> str | None:
        at = self.where.get(seat_id)
        return at[0] if at is not None else None


class PhonePresence:
    def __init__(self, acd: AcdService) -> None:
        self.acd = acd
        self.locations = SeatLocations()
        self.registered: dict[str, bool] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._losing: dict[str, asyncio.Task[None]] = {}  # peer -> its grace running out
        self.lost_peers: set[str] = set()

    def server_of(self, seat_id: str) -> str | None:
        return self.locations.server_of(seat_id)

    def on_contact_status(self, message: Any, server: str = HERE) -> None:
        """panoramisk calls this synchronously; the ACD is fed in a task of its own."""
        seat_id = seat_of(message.get("AOR", ""))
        if seat_id is None:
            return
        status = str(message.get("ContactStatus", ""))
        gone = self.locations.contact(server, seat_id, status, str(message.get("URI", ""))[:512])
        self.registered[seat_id] = not gone if status in GONE else True
        if gone:
            self._spawn(self._not_ready(seat_id, "unregistered", status))

    def contact_handler(self, server: str) -> Callable[[Any], None]:
        """The ContactStatus handler for a peer's AMI."""
        return lambda message: self.on_contact_status(message, server)

    def peer_connection(self, peer: str, grace_s: float, up: bool) -> None:
        """A peer's AMI logged in (up) or lost its connection: lost for ``grace_s``, the peer is."""
        PEER_UP.labels(peer).set(1 if up else 0)
        losing = self._losing.pop(peer, None)
        if up:
            if losing is not None:
                losing.cancel()
            if peer in self.lost_peers:
                self.lost_peers.discard(peer)
                logger.warning("peer Asterisk back: its seats' phones register there again", extra={"peer": peer})
            return
        self._losing[peer] = (
            losing if losing is not None and not losing.done() else self._spawn(self._lose(peer, grace_s))
        )

    async def _lose(self, peer: str, grace_s: float) -> None:
        await asyncio.sleep(grace_s)
        self._losing.pop(peer, None)
        seats = self.locations.lost(peer)
        self.lost_peers.add(peer)
        PEER_LOST.labels(peer).inc()
        logger.warning(
            "peer Asterisk lost: its seats are unreachable",
            extra={"peer": peer, "seats": len(seats), "grace_s": grace_s},
        )
        for seat_id in seats:
            self.registered[seat_id] = False
            if await self._not_ready(seat_id, "unreachable", f"peer {peer} lost"):
                SEATS_UNREACHABLE.labels(peer).inc()

    async def _not_ready(self, seat_id: str, reason: str, status: str) -> bool:
        seat = self.acd.core.seat(seat_id)
        if seat is None or seat.state != "ready" or seat.kind == "cloud":
            return False
        try:
            await self.acd.feed(SeatNotReady(now=self.acd.now(), seat_id=seat_id, reason=reason))
        except ValueError as exc:
            logger.info("seat not paused", extra={"seat": seat_id, "cause": str(exc)})
            return False
        logger.info("seat's phone gone: not ready", extra={"seat": seat_id, "status": status, "reason": reason})
        return True

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
