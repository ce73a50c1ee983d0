"""A test host of its own: a network namespace joined to this machine by a veth pair, and relays
on this machine's end of the pair to the services that listen on loopback only (PostgreSQL, the
sandbox's ARI and AMI). Cutting the pair's link is a real network cut for whatever runs inside:
its packets go nowhere, nothing is reset, the far ends hear nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Host:
    ns: str
    link: str  # this machine's end of the veth pair
    address: str  # this machine's address on the pair
    inside: str  # the namespace's address
    relays: dict[int, asyncio.Server] = field(default_factory=dict)
    pipes: dict[int, set[asyncio.Task[None]]] = field(default_factory=dict)

    @property
    def wrap(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns]

    def cut(self) -> None:
        ip("link", "set", self.link, "down")

    async def reset(self, port: int) -> None:
        """Only ``port``'s relay: every connection through it reset, new ones refused (a firewall
        or proxy in between dropping the engine's database link while the rest still works)."""
        self.relays.pop(port).close()
        tasks = self.pipes.pop(port, set())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def relay(self, port: int) -> None:
        """``address:port`` → ``127.0.0.1:port``, byte for byte."""

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            pipes = self.pipes.setdefault(port, set())
            pipes.add(task)
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                writer.transport.abort()
                pipes.discard(task)
                return
            try:
                await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
            except (asyncio.CancelledError, OSError):
                pass
            finally:
                writer.transport.abort()
                up_writer.transport.abort()
                pipes.discard(task)

        self.relays[port] = await asyncio.start_server(serve, self.address, port, reuse_address=True)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def namespace_host(ports: list[int]) -> AsyncIterator[Host]:
    """A namespace with relays to ``ports`` of this machine's loopback (needs root and iproute2)."""
    tag = f"{os.getpid() % 10000}{len(ports)}"
    octet = 100 + os.getpid() % 100
    host = Host(f"hl{tag}", f"vh{tag}", f"10.231.{octet}.1", f"10.231.{octet}.2")
    with contextlib.suppress(subprocess.CalledProcessError):
        ip("netns", "del", host.ns)
    ip("netns", "add", host.ns)
    try:
        ip("link", "add", host.link, "type", "veth", "peer", "name", f"vn{tag}")
        ip("link", "set", f"vn{tag}", "netns", host.ns)
        ip("addr", "add", f"{host.address}/30", "dev", host.link)
        ip("link", "set", host.link, "up")
        ip("netns", "exec", host.ns, "ip", "addr", "add", f"{host.inside}/30", "dev", f"vn{tag}")
        ip("netns", "exec", host.ns, "ip", "link", "set", f"vn{tag}", "up")
        ip("netns", "exec", host.ns, "ip", "link", "set", "lo", "up")
        for port in ports:
            await host.relay(port)
        yield host
    finally:
        for server in host.relays.values():
            server.close()
        tasks = [t for pipes in host.pipes.values() for t in pipes]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "del", host.link)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("netns", "del", host.ns)
