"""A real engine app (ACD + console) on a real TCP port and SQLite, with recording stand-ins for
the voice and chat executors; clients are real ``socketio.AsyncClient`` s."""

from __future__ import annotations

import asyncio
import collections
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

from acd.core import Command, ContactArrived, QueueConfigured
from acd.queues import load_queues
from acd.service import AcdService
from agent_console import plugin as console_plugin
from agent_console.services import ConsoleService
from agent_console.settings import ConsoleSettings
from hotline.app import error_middleware, socket_server
from hotline.auth import create_account, make_token
from hotline.context import AppContext
from hotline.migrate import upgrade
from hotline.settings import load_settings
from hotline.storage import make_engine, make_sessionmaker


class Executor:
    """Stands in for the ARI adapter / the chat channels: records what the ACD asked for."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    async def execute(self, command: Command) -> None:
        self.commands.append(command)


class FakeVoice:
    """Records every VoiceControl call; ``fail`` makes the next call raise VoiceError."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def method(*args: Any) -> Any:
            from acd.voice.api import VoiceError

            if self.fail:
                msg, self.fail = self.fail, None
                raise VoiceError(msg)
            self.calls.append((name, args))
            return f"snoop-{len(self.calls)}" if name == "snoop" else None

        return method


@dataclass
class Engine:
    base: str
    ctx: AppContext
    acd: AcdService
    console: ConsoleService
    executor: Executor
    secret: str
    runner: web.AppRunner
    clients: list[socketio.AsyncClient] = field(default_factory=list)
    seq: int = 0

    def token(self, username: str, role: str, ttl: float = 3600) -> str:
        return make_token(self.secret, username, role, None, int(time.time() + ttl))

    async def account(self, username: str, role: str = "seat") -> str:
        await create_account(self.ctx.sessions, username, role, "password123")
        return self.token(username, role)

    async def client(self, ns: str, token: str | None, **kw: Any) -> Client:
        c = Client(ns)
        auth = {"token": token} if token is not None else None
        try:
            await c.sio.connect(self.base, namespaces=[ns], auth=auth, transports=["websocket"], wait_timeout=5, **kw)
        except socketio.exceptions.ConnectionError as exc:
            q = c.events["connect_error"]
            reason = q.get_nowait() if not q.empty() else None
            message = reason.get("message") if isinstance(reason, dict) else reason
            raise socketio.exceptions.ConnectionError(f"{exc}: {message}") from None
        self.clients.append(c.sio)
        return c

    async def chat(self, caller: str = "wx-citizen", queue: str = "internet") -> str:
        self.seq += 1
        cid = f"chat-{self.seq}"
        await self.acd.feed(
            ContactArrived(now=self.acd.now(), contact_id=cid, channel="webchat", queue=queue, caller=caller)
        )
        return cid

    async def call(self, caller: str = "13800000000", queue: str = "general") -> str:
        self.seq += 1
        cid = f"call-{self.seq}"
        await self.acd.feed(
            ContactArrived(now=self.acd.now(), contact_id=cid, channel="voice", queue=queue, caller=caller)
        )
        return cid


class Client:
    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue[Any]] = collections.defaultdict(asyncio.Queue)
        self.seen: list[str] = []  # every event's name in the order received

        async def catch_all(event: str, data: Any = None) -> None:
            self.seen.append(event)
            self.events[event].put_nowait(data)

        self.sio.on("*", catch_all, namespace=ns)

        async def refused(data: Any = None) -> None:
            self.events["connect_error"].put_nowait(data)

        self.sio.on("connect_error", refused, namespace=ns)

    async def call(self, event: str, data: Any = None, timeout: float = 5) -> Any:
        return await self.sio.call(event, data if data is not None else {}, namespace=self.ns, timeout=timeout)

    async def next(self, event: str, timeout: float = 5, where: Any = None) -> Any:
        """The next ``event`` (matching ``where(data)`` when given), skipping others."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            data = await asyncio.wait_for(self.events[event].get(), max(0.01, left))
            if where is None or where(data):
                return data

    def drain(self, event: str) -> None:
        q = self.events[event]
        while not q.empty():
            q.get_nowait()


_TEMPLATE: list[Path] = []


async def _fresh_db(path: Path) -> None:
    """A migrated SQLite file: migrate once per run, then copy (migrations take most of a setup)."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="console-db-"))
        await upgrade(f"sqlite+aiosqlite:///{folder / 'template.db'}")
        _TEMPLATE.append(folder / "template.db")
    shutil.copyfile(_TEMPLATE[0], path)


async def start_engine(
    tmp_path: Path,
    console: ConsoleSettings | None = None,
    redis_url: str = "",
    channels: Any = None,
    workorders: bool = False,
    knowledge: bool = False,
) -> Engine:
    """``channels``: ChannelSettings to install the internet channels (web chat, WeChat) with the
    ACD's real chat bridge; ``workorders``: install the work-order feature too; ``knowledge``: the
    knowledge base (installed before the console, as in ``hotline.features``)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await _fresh_db(tmp_path / "hotline.db")
    engine = make_engine(url)
    with socket.socket() as probe:  # a port nobody listens on: soft-phones in tests reach no real PBX
        probe.bind(("127.0.0.1", 0))
        no_pbx = probe.getsockname()[1]
    settings = load_settings(data_dir=tmp_path, database_url=url, redis_url=redis_url, asterisk={"http_port": no_pbx})
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    app = web.Application(middlewares=[error_middleware])
    # The ACD service as acd.plugin builds it, without the telephony side (tests fake the voice).
    acd = AcdService(ctx.deps.bus)
    ctx.deps.acd = acd

    async def acd_lifecycle(_app: web.Application) -> AsyncIterator[None]:
        for queue in load_queues():
            await acd.feed(QueueConfigured(now=acd.now(), queue=queue))
        acd.start()
        yield
        await acd.stop()

    app.cleanup_ctx.append(acd_lifecycle)
    socket_server(app, ctx)  # as the composition root builds it
    if knowledge:
        from knowledge import plugin as knowledge_plugin

        knowledge_plugin.install(app, ctx)
    console_plugin.install(app, ctx, console or ConsoleSettings(grace_s=0.6, board_every_s=0.2))
    executor = Executor()
    acd.register("voice", executor)
    acd.register("chat", executor)
    if workorders:
        from workorders import plugin as workorders_plugin

        workorders_plugin.install(app, ctx)
    if channels is not None:
        from acd.chat import ChatBridge
        from channels import plugin as channels_plugin

        channels_plugin.install(app, ctx, channels)
        bridge = ChatBridge(acd, ctx.deps.bus, ctx.deps.channels, deps=ctx.deps)
        ctx.deps.channels_sink.subscribe(bridge.on_notification)
        acd.register("chat", executor)  # keep recording chat commands as well
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return Engine(f"http://{host}:{port}", ctx, acd, ctx.deps.console, executor, settings.secret_key, runner)


async def stop_engine(e: Engine) -> None:
    for c in e.clients:
        if c.connected:
            await c.disconnect()
    await e.runner.cleanup()
    await e.ctx.engine.dispose()
