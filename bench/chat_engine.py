"""The engine side of ``hotline bench chat``, in a process of its own.

``python -m bench.chat_engine --phase wechat|webchat --run-dir DIR --plan JSON`` builds what the
phase measures, as ``hotline run`` builds it (its event loop, its collector policy, JSON log lines
on standard error): the channels plugin with the WeChat webhook (``wechat``), or the ACD, the
console and the channels with the web-chat namespace (``webchat``). It prints one JSON line
``{"ready": true, "port": ...}`` once it listens, then answers one JSON line on standard output
for each command line read on standard input, and stops when standard input closes.

Commands: ``mark`` (this process's CPU seconds and its event loop's lateness since the last
mark), ``drain`` (wait until every stored message has been handed on; the WeChat messages that
reached the contact sink), ``replies`` (seats answer WeChat citizens through the customer-service
API), ``find`` (which of the given texts are stored, and how). The load never runs here: the
bench's other processes stand for citizens, seats' browsers and WeChat's servers, so the CPU
time read here is the engine's own.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench._engine_watch import GcWatch, LoopWatch, percentile_ms, runqueue_wait_s
from hotline import aio
from hotline.errors import CommandError

TOKEN = "bench-token"
APP_ID = "wxbench000000000"
APP_SECRET = "bench-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class Phase(abc.ABC):
    """What one phase builds; ``answer`` serves the commands beyond ``mark``."""

    def __init__(self, run_dir: Path, plan: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.plan = plan
        self.cleanups: list[Any] = []
        self.ready: dict[str, Any] = {}

    def counters(self) -> dict[str, Any]:
        """What the phase counts itself (read at each mark)."""
        return {}

    @abc.abstractmethod
    async def start(self) -> None:
        """Build the phase's engine and listen; fill ``ready`` with what the load needs."""

    async def answer(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return {"error": f"unknown command {cmd.get('cmd')!r}"}

    async def stop(self) -> None:
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                await cleanup()


async def _context(run_dir: Path, db_url: str, redis_url: str = "") -> Any:
    from hotline.context import AppContext
    from hotline.migrate import upgrade
    from hotline.settings import load_settings
    from hotline.storage import make_engine, make_sessionmaker

    await upgrade(db_url)
    engine = make_engine(db_url)
    # The bench's own database and in-process Socket.IO state, whatever DATABASE_URL and REDIS_URL
    # say, unless the plan names a Redis on purpose (several engine processes share emits there).
    # The bench's clients stand for many addresses behind the loopback (bench/chat_deliver.address).
    settings = load_settings(
        data_dir=run_dir, database_url=db_url, redis_url=redis_url, security={"trusted_proxies": ["127.0.0.1"]}
    )
    return AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine))


async def _serve(app: Any) -> tuple[Any, int]:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    return runner, int(runner.addresses[0][1])


class WeChatPhase(Phase):
    """The channels plugin with the webhook; its contact sink notes when each push reached it."""

    async def start(self) -> None:
        from aiohttp import web

        from channels.plugin import SERVICE, WEBHOOK, install
        from channels.settings import ChannelSettings, WeChatSettings
        from channels.sink import QueueContactSink

        ctx = await _context(self.run_dir, self.plan["db_url"])
        self.ctx = ctx
        self.cleanups.append(ctx.engine.dispose)
        sink = QueueContactSink()
        self.reached: dict[str, float] = {}
        self.reached_twice: Counter[str] = Counter()

        async def on_contact(item: Any) -> None:
            if isinstance(item, tuple):
                text = str(item[1].body.get("text", ""))
                if text in self.reached:
                    self.reached_twice[text] += 1
                else:
                    self.reached[text] = time.monotonic()

        sink.subscribe(on_contact)
        ctx.deps.channels_sink = sink
        wechat = WeChatSettings.model_validate(
            {
                "token": TOKEN,
                "app_id": APP_ID,
                "app_secret": APP_SECRET,
                "encoding_aes_key": AES_KEY,
                "mode": self.plan["mode"],
                "api_base_url": self.plan["api_base_url"],
            }
        )
        app = web.Application()
        install(app, ctx, ChannelSettings(wechat=wechat))
        runner, port = await _serve(app)
        self.cleanups.append(runner.cleanup)
        self.service = app[SERVICE]
        self.hook = app[WEBHOOK]
        self.ready = {"port": port}

    async def answer(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd["cmd"] == "drain":
            await self.service.drain()
            acks = list(self.hook.recent_acks)
            return {
                "reached": self.reached,
                "reached_twice": dict(self.reached_twice),
                "server_ack_p50_ms": percentile_ms(acks, 50),
                "server_ack_p99_ms": percentile_ms(acks, 99),
            }
        if cmd["cmd"] == "replies":
            return await self._replies(int(cmd["count"]), float(cmd["rate"]), int(cmd["seats"]))
        return await super().answer(cmd)

    async def _replies(self, count: int, rate: float, seats: int) -> dict[str, Any]:
        """Seats answer citizens through the customer-service API (the stand-in), open loop."""
        from sqlalchemy import select

        from channels.models import ChannelConversation

        async with self.ctx.sessions() as s:
            targets = list((await s.execute(select(ChannelConversation.id).order_by(ChannelConversation.id))).scalars())
        targets = targets[:seats]
        if not targets:
            return {"seats": 0, "latencies": [], "failed": [f"no conversation to answer: {count} replies not sent"]}
        latencies: list[float] = []
        failed: list[str] = []

        async def answer(k: int) -> None:
            seat = k % len(targets)
            start = time.perf_counter()
            try:
                result = await self.service.send_text(targets[seat], f"seat-{seat:03d}", f"您好，已收到（{k}）")
                status, detail = result.status, result.detail
            except Exception as exc:  # the bench reports it as a failed reply, with its cause
                status, detail = "error", f"{type(exc).__name__}: {exc}"
            latencies.append(time.perf_counter() - start)
            if status != "sent":
                failed.append(f"reply {k} from seat-{seat:03d} in conversation {targets[seat]}: {status} {detail}")

        t0 = time.perf_counter()
        jobs = []
        for k in range(count):
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            jobs.append(asyncio.create_task(answer(k)))
        await asyncio.gather(*jobs)
        return {"seats": len(targets), "latencies": latencies, "failed": failed}


class WebChatPhase(Phase):
    """ACD + console + channels with the web-chat namespace, wired as the engine wires them."""

    async def start(self) -> None:
        import datetime as dt

        from aiohttp import web

        from acd.chat import ChatBridge
        from acd.core import Acd, AcdSettings, QueueConfigured
        from acd.queues import load_queues
        from acd.service import AcdService
        from agent_console import plugin as console_plugin
        from agent_console.settings import ConsoleSettings
        from channels import plugin as channels_plugin
        from channels.settings import ChannelSettings, WebChatSettings
        from hotline.app import socket_server
        from hotline.auth import Account, hash_password, make_token
        from hotline.bus import Bus

        plan = self.plan
        ctx = await _context(self.run_dir, plan["db_url"], plan.get("redis_url", ""))
        self.ctx = ctx
        self.cleanups.append(ctx.engine.dispose)
        bus: Bus = ctx.deps.bus
        acd = AcdService(bus, Acd(AcdSettings(max_chats=int(plan["max_chats"]))))
        ctx.deps.acd = acd
        app = web.Application()
        socket_server(app, ctx)  # as the composition root builds it
        console_plugin.install(app, ctx, ConsoleSettings.model_validate({}))
        # No flood limit in the way of the measured rate; the widget's own limits are tested elsewhere.
        webchat = WebChatSettings.model_validate({"flood_rate": 1000.0, "flood_burst": 1000, "position_every": 5.0})
        # The other channel settings (HOTLINE_CHAT__...) as the engine reads them.
        channels_plugin.install(app, ctx, ChannelSettings(webchat=webchat))
        ctx.deps.channels_sink.subscribe(ChatBridge(acd, bus, ctx.deps.channels, deps=ctx.deps).on_notification)
        for queue in load_queues():
            await acd.feed(QueueConfigured(now=acd.now(), queue=queue))
        acd.start()
        self.cleanups.append(acd.stop)
        seats = [f"b{n:04d}" for n in range(int(plan["seats"]))]
        password = hash_password("bench-password")  # one hash for all: scrypt per account takes seconds
        now = dt.datetime.now(dt.UTC)
        async with ctx.sessions() as s, s.begin():
            for seat in seats:
                s.add(Account(username=seat, role="seat", password_hash=password, active=True, created_at=now))
        expires = int(time.time()) + 3600
        key = ctx.settings.secret_key
        if plan.get("relay_secret"):  # a web gateway holds the sockets (bench chat --gateway)
            from hotline.relay import install_engine

            install_engine(app, ctx.deps.sio, str(plan["relay_secret"]), 5.0, lambda: 0)
        runner, port = await _serve(app)
        self.cleanups.append(runner.cleanup)
        self.ready = {"port": port, "tokens": {seat: make_token(key, seat, "seat", None, expires) for seat in seats}}

    def counters(self) -> dict[str, Any]:
        writer = self.ctx.deps.channels.messages
        return {"transactions": writer.transactions_run, "messages_stored": writer.messages_stored}

    async def answer(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd["cmd"] == "find":
            return {"found": await self._find(list(cmd["texts"]))}
        return await super().answer(cmd)

    async def _find(self, texts: list[str]) -> dict[str, str]:
        """Where each text is in storage: 'in <id> conversation <c>' / 'out ...', or absent."""
        from sqlalchemy import select

        from channels.models import ChannelMessage

        wanted = set(texts)
        found: dict[str, str] = {}
        async with self.ctx.sessions() as s:
            rows = await s.execute(
                select(ChannelMessage.id, ChannelMessage.direction, ChannelMessage.conversation_id, ChannelMessage.body)
            )
            for msg_id, direction, conversation, body in rows:
                text = str((body or {}).get("text", ""))
                if text in wanted:
                    found[text] = f"stored as {direction} message {msg_id} of conversation {conversation}"
        return found


PHASES: dict[str, type[Phase]] = {"wechat": WeChatPhase, "webchat": WebChatPhase}


async def _main(args: argparse.Namespace, settings: Any) -> int:
    from hotline import gcpolicy

    phase = PHASES[args.phase](Path(args.run_dir), json.loads(args.plan))
    watch = LoopWatch()
    collector = GcWatch()
    gc_task = None
    try:
        await phase.start()
        # The engine's collector policy, exactly as `hotline run` starts it (unless measuring without).
        if not args.gc_default:
            gc_task = gcpolicy.start(settings.gc_freeze_every_s, settings.gc_sweep_every_s)
        watch.start()
        collector.start()
        loop = asyncio.get_running_loop()
        event_loop = "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
        policy = "python default" if args.gc_default else f"freeze every {settings.gc_freeze_every_s:g} s"
        _say({"ready": True, "event_loop": event_loop, "gc_policy": policy, **phase.ready})
        stdin = asyncio.StreamReader(limit=2**26)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        while line := await stdin.readline():
            cmd = json.loads(line)
            if cmd["cmd"] == "mark":
                mark = {"cpu_s": time.process_time(), "waited_s": runqueue_wait_s(), "at": time.monotonic()}
                _say({**mark, **watch.take(), **collector.take(), **phase.counters()})
            else:
                _say(await phase.answer(cmd))
    finally:
        if watch.task is not None:
            watch.task.cancel()
        if gc_task is not None:
            gc_task.cancel()
        await phase.stop()
    return 0


def _say(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_engine", description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=sorted(PHASES), required=True)
    parser.add_argument("--run-dir", required=True, help="folder of the run (secrets, SQLite file)")
    parser.add_argument("--plan", required=True, help="the phase's sizes and addresses, as JSON")
    parser.add_argument("--gc-default", action="store_true", help="Python's collector as is, no engine policy")
    args = parser.parse_args(argv)
    from hotline.logs import setup_logging
    from hotline.settings import SettingsError, load_settings

    try:
        settings = load_settings(data_dir=Path(args.run_dir), redis_url="")
        setup_logging(settings.log_level)  # JSON lines, as `hotline run` writes them; the bench keeps them
        return aio.run(_main(args, settings), settings.event_loop)
    except (CommandError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


# ---- the bench's side: start the engine process, ask it, stop it ----------------------------------


class EngineProcess:
    """The engine of one phase, started as ``python -m bench.chat_engine`` from the same code as
    the bench (its folder first on PYTHONPATH); its log lines go to ``engine-<phase>.log``."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log
        self.ready: dict[str, Any] = {}

    @classmethod
    async def start(cls, phase: str, run_dir: Path, plan: dict[str, Any], gc_default: bool = False) -> EngineProcess:
        import os

        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        argv = [sys.executable, "-m", "bench.chat_engine", "--phase", phase, "--run-dir", str(run_dir)]
        argv += ["--plan", json.dumps(plan)] + (["--gc-default"] if gc_default else [])
        log = run_dir / f"engine-{phase}.log"
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err, env=env, limit=2**26
            )
        engine = cls(proc, log)
        try:
            engine.ready = await engine._read(120)
        except (TimeoutError, ValueError, CommandError):
            await engine.stop()
            raise CommandError(f"the benchmark's {phase} engine did not start: {engine.log_tail()}") from None
        return engine

    def log_tail(self, lines: int = 5) -> str:
        try:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            tail = []
        return " | ".join(tail) or "no output"

    async def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise CommandError(f"the benchmark's engine stopped: {self.log_tail()}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise CommandError(f"the benchmark's engine refused a command: {answer['error']}")
        return answer

    async def ask(self, cmd: str, timeout: float = 120.0, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._read(timeout)

    async def stop(self) -> None:
        """Close its standard input: it stops as ``hotline run`` does (cleanups run)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


if __name__ == "__main__":
    sys.exit(main())
