"""Several Asterisk servers driven over ARI, one ACD (docs/voice.md, "Callers on several servers").

Each server's calls are a ``VoiceService`` of their own (its ARI client, events websocket, Stasis
application and reconciliation); ``VoiceServers`` puts them behind the ACD as its one voice
executor, and ``ServersControl`` behind the console as its one call control. Each of the ACD's
commands names a contact and each console action a seat: both go to the server whose calls hold
it. Contact ids are unique across servers (``VoiceService.contact_of``), so the lookup is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from acd.core import Command
from acd.voice.api import EmergencyService, SeatDevice, SnoopMode
from acd.voice.control import CallControl
from acd.voice.core.states import TALKING
from acd.voice.missed import MissedCalls
from acd.voice.service import VoiceService


def relative_to(here: str, back: str, where: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """Where a seat's phone is, as the peer ``here`` dials it: its own (None) when registered
    there, ``back`` (the engine's main server as the peer names it) when registered on the main
    server or nowhere known, else the other peer's name. ``where`` answers as the main server sees it."""

    def server_of(seat_id: str) -> str | None:
        at = where(seat_id)
        if not at:
            return back
        return None if at == here else at

    return server_of


class VoiceServers:
    """The voice sides of every driven Asterisk, as the ACD's one voice executor."""

    def __init__(self, main: VoiceService, peers: Mapping[str, VoiceService] | None = None) -> None:
        self.main = main
        self.peers = dict(peers or {})
        main.peers = self.peers
        # A record belongs to the server its call entered; the main one keeps those of servers no
        # longer driven, so none is left unended for ever.
        main.owns_server = lambda server: server not in self.peers
        for name, peer in self.peers.items():
            peer.owns_server = name.__eq__
            peer.devices = main.devices  # one roster: the scheduling's cloud seats reach every server
        self.control = ServersControl(self)
        main.acd.register("voice", self)

    @property
    def services(self) -> list[VoiceService]:
        return [self.main, *self.peers.values()]

    def owner(self, contact_id: str) -> VoiceService:
        """The server whose calls hold the contact (the main one if none: it logs the stray)."""
        for service in self.services:
            if contact_id in service.calls:
                return service
        return self.main

    async def execute(self, command: Command) -> None:
        await self.owner(str(getattr(command, "contact_id", ""))).execute(command)

    # -- the same surface as one VoiceService, for the engine's other parts ----------------------
    @property
    def calls(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for service in self.services:
            merged.update(service.calls)
        return merged

    @property
    def notice(self) -> str | None:
        return self.main.notice

    @notice.setter
    def notice(self, name: str | None) -> None:
        for service in self.services:
            service.notice = name

    @property
    def missed(self) -> MissedCalls | None:
        return self.main.missed

    @missed.setter
    def missed(self, missed: MissedCalls | None) -> None:
        """One planner for every server's missed calls; its call-backs are made on the main one."""
        for service in self.services:
            service.missed = missed

    def set_device(self, device: SeatDevice) -> None:
        self.main.set_device(device)  # the roster is shared

    def call_of(self, seat_id: str) -> dict[str, object] | None:
        return self.control.call_of(seat_id)

    def start(self) -> None:
        for service in self.services:
            service.start()

    async def stop(self) -> None:
        await asyncio.gather(*(service.stop() for service in self.services))


class ServersControl:
    """The console's call control (``VoiceControl``) over every server: an action on a seat's
    call goes to the server the call is on."""

    def __init__(self, servers: VoiceServers) -> None:
        self.servers = servers

    def _of_seat(self, seat_id: str) -> CallControl:
        for service in self.servers.services:
            if any(c.seat_id == seat_id and c.state == TALKING for c in service.calls.values()):
                return service.control
        return self.servers.main.control  # no call: it says so to the seat

    async def hangup(self, seat_id: str) -> None:
        await self._of_seat(seat_id).hangup(seat_id)

    async def hold(self, seat_id: str) -> None:
        await self._of_seat(seat_id).hold(seat_id)

    async def unhold(self, seat_id: str) -> None:
        await self._of_seat(seat_id).unhold(seat_id)

    async def mute(self, seat_id: str, on: bool) -> None:
        await self._of_seat(seat_id).mute(seat_id, on)

    async def dtmf(self, seat_id: str, digits: str) -> None:
        await self._of_seat(seat_id).dtmf(seat_id, digits)

    async def transfer(self, seat_id: str, target: str, attended: bool = False) -> None:
        await self._of_seat(seat_id).transfer(seat_id, target, attended)

    async def complete_transfer(self, seat_id: str) -> None:
        await self._of_seat(seat_id).complete_transfer(seat_id)

    async def emergency_transfer(self, seat_id: str, service: EmergencyService) -> None:
        await self._of_seat(seat_id).emergency_transfer(seat_id, service)

    async def three_party(self, seat_id: str, number: str) -> None:
        await self._of_seat(seat_id).three_party(seat_id, number)

    async def leave_three_party(self, seat_id: str) -> None:
        await self._of_seat(seat_id).leave_three_party(seat_id)

    async def snoop(self, supervisor_endpoint: str, seat_id: str, mode: SnoopMode) -> str:
        return await self._of_seat(seat_id).snoop(supervisor_endpoint, seat_id, mode)

    async def stop_snoop(self, snoop_id: str) -> None:
        for service in self.servers.services:
            if snoop_id in service.control.snoops:
                await service.control.stop_snoop(snoop_id)
                return
        await self.servers.main.control.stop_snoop(snoop_id)  # refused: no such snoop

    def call_of(self, seat_id: str) -> dict[str, object] | None:
        for service in self.servers.services:
            found = service.call_of(seat_id)
            if found is not None:
                return found
        return None
