"""What the faults tier's tests connect with: Socket.IO clients that keep every event they are
sent (a seat's console, a supervisor's board, a citizen's chat page), reaching a real engine
process from an address of their own."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.integration.agent_console.harness import Client
from tests.security.engine import RunningEngine


class Peer(Client):
    """One Socket.IO client that keeps every event it is sent, in order, reaching the engine from
    its own address."""

    @classmethod
    async def open(cls, engine: RunningEngine, ns: str, address: str, auth: dict[str, str] | None = None) -> Peer:
        peer = cls(ns)
        await peer.sio.connect(
            engine.base,
            namespaces=[ns],
            auth=auth,
            transports=["websocket"],
            headers={"X-Forwarded-For": address},
            wait_timeout=5,
        )
        return peer

    def pending(self, event: str) -> list[Any]:
        out = []
        while not self.events[event].empty():
            out.append(self.events[event].get_nowait())
        return out


async def seat(engine: RunningEngine, http: aiohttp.ClientSession, name: str, ready: bool = True) -> Peer:
    token = await engine.login(http, name)
    peer = await Peer.open(engine, "/agent", "127.0.0.1", {"token": token})
    ack = await peer.call("login", {"phone": "external", "ready": ready})
    assert ack["ok"], ack
    return peer


async def take_offers(console: Peer, count: int) -> list[str]:
    """Accept the next ``count`` chat offers in the order they come; return their contacts."""
    taken = []
    for _ in range(count):
        offer = await console.next("offer")
        ack = await console.call("accept", {"contact_id": offer["contact_id"]})
        assert ack["ok"], ack
        taken.append(offer["contact_id"])
    return taken
