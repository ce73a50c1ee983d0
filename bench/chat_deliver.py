"""Web-chat delivery delay: visitors and seats on real Socket.IO connections to one engine process.

The engine (ACD + console + channels, SQLite or the given database) runs in this process on a
real TCP port; the visitors and seats run in another process, speaking Socket.IO (Engine.IO 4
over WebSocket) with a minimal client of their own, so that two thousand connections cost the
load generator little and do not share the engine's event loop.

Every visitor opens a conversation, which the ACD offers to a seat (``--max-chats`` at once);
once all are assigned, every visitor writes every ``--chat-interval`` seconds and the seat
answers each message at once. Delay visitor->seat: from the visitor's send to the seat's
``chat_message``; seat->visitor: from the seat's ``chat_send`` to the visitor's ``message``.
Both ends are in the load process, read from one monotonic clock.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import time
from pathlib import Path
from typing import Any

from aiohttp import web

Sample = tuple[float, float]  # (sent at, received at), monotonic seconds


async def run_deliver(args: Any, tmp: Path, db_url: str, console: Any) -> dict[str, Any]:
    from rich.progress import Progress

    from acd.chat import ChatBridge
    from acd.core import Acd, AcdSettings, QueueConfigured
    from acd.queues import load_queues
    from acd.service import AcdService
    from agent_console import plugin as console_plugin
    from agent_console.settings import ConsoleSettings
    from channels import plugin as channels_plugin
    from channels.settings import ChannelSettings, WebChatSettings
    from hotline.auth import create_account, make_token
    from hotline.bus import Bus
    from hotline.context import AppContext
    from hotline.settings import load_settings
    from hotline.storage import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    settings = load_settings(data_dir=tmp, database_url=db_url)
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    bus: Bus = ctx.services.setdefault("bus", Bus())
    acd = AcdService(bus, Acd(AcdSettings(max_chats=args.max_chats)))
    ctx.services["acd"] = acd
    app = web.Application()
    console_plugin.install(app, ctx, ConsoleSettings.model_validate({}))
    # No flood limit in the way of the measured rate; the widget's own limits are tested elsewhere.
    webchat = WebChatSettings.model_validate({"flood_rate": 1000.0, "flood_burst": 1000, "position_every": 5.0})
    channels_plugin.install(app, ctx, ChannelSettings.model_validate({"webchat": webchat}))
    ctx.services["channels.sink"].subscribe(
        ChatBridge(acd, bus, ctx.services["channels"], services=ctx.services).on_notification
    )
    for queue in load_queues():
        await acd.feed(QueueConfigured(now=acd.now(), queue=queue))
    acd.start()
    seats = [f"b{n:04d}" for n in range(args.seats)]
    for seat in seats:
        await create_account(ctx.sessions, seat, "seat", "bench-password")
    expires = int(time.time()) + 3600
    tokens = {seat: make_token(settings.secret_key, seat, "seat", None, expires) for seat in seats}
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]

    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    plan = {
        "url": f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
        "tokens": tokens,
        "visitors": args.visitors,
        "interval": args.chat_interval,
        "duration": args.deliver_duration,
    }
    proc = mp.Process(target=_load, args=(child, plan), daemon=True)
    loop = asyncio.get_running_loop()
    lags: list[tuple[float, float]] = []

    async def watch_loop() -> None:
        # How late the engine's event loop wakes a 10 ms sleeper: its own stalls, not the load's.
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append((t, time.monotonic() - t - 0.01))

    watcher = asyncio.create_task(watch_loop())
    # The engine's own collector policy (hotline run does the same), unless --gc-default.
    from hotline.gcpolicy import GcPolicy

    gc_task = None if args.gc_default else asyncio.create_task(GcPolicy(settings.gc_freeze_every_s).run())
    cpu0 = time.process_time()
    try:
        proc.start()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(
                f"web chat: {args.visitors} visitors, {args.seats} seats, one message per visitor every "
                f"{args.chat_interval:g} s",
                total=None,
            )
            result = await loop.run_in_executor(None, parent.recv)
            progress.update(task, completed=1, total=1)
        proc.join(timeout=10)
    finally:
        cpu = time.process_time() - cpu0
        watcher.cancel()
        if gc_task is not None:
            gc_task.cancel()
        if proc.is_alive():
            proc.kill()
        await acd.stop()
        await runner.cleanup()
        await engine.dispose()
    if "error" in result:
        return {"deliver_error": result["error"]}
    v2s = [b - a for a, b in result["v2s"]]
    if result["v2s"]:
        first, last = min(a for a, _ in result["v2s"]), max(a for a, _ in result["v2s"])
        lag = [x for t, x in lags if first <= t <= last]
    else:
        lag = []
    s2v = [b - a for a, b in result["s2v"]]
    both = v2s + s2v
    return {
        "deliver_p50_ms": _pct(both, 50),
        "deliver_p99_ms": _pct(both, 99),
        "visitor_to_seat_p99_ms": _pct(v2s, 99),
        "seat_to_visitor_p99_ms": _pct(s2v, 99),
        "deliver_max_ms": _pct(both, 100),
        "deliver_messages": len(both),
        "deliver_lost": result["lost"],
        "visitors_connected": result["visitors"],
        "seats_connected": result["seats"],
        "conversations_assigned": result["assigned"],
        "chat_messages_per_s": round(len(both) / max(0.001, result["measured_s"]), 1),
        "engine_cpu_s_deliver": round(cpu, 1),
        "gc_policy": "python default" if args.gc_default else f"freeze every {settings.gc_freeze_every_s:g} s",
        "engine_loop_lag_p99_ms": _pct(lag, 99),
        "engine_loop_lag_max_ms": _pct(lag, 100),
    }


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)


# ---- the load process ------------------------------------------------------------------------


def _load(conn: Any, plan: dict[str, Any]) -> None:
    try:
        conn.send(asyncio.run(_load_async(plan)))
    except Exception as exc:  # reported as a result, so the benchmark says what broke
        conn.send({"error": f"{type(exc).__name__}: {exc}"})


class Sock:
    """One Socket.IO client on one namespace, over a WebSocket (Engine.IO 4), nothing more."""

    def __init__(self, ws: Any, ns: str) -> None:
        self.ws = ws
        self.ns = ns
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.handlers: dict[str, Any] = {}

    async def send(self, event: str, data: Any, ack: bool = False) -> Any:
        if not ack:
            await self.ws.send_str(f"42{self.ns},{json.dumps([event, data], ensure_ascii=False)}")
            return None
        self.next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[self.next_id] = fut
        await self.ws.send_str(f"42{self.ns},{self.next_id}{json.dumps([event, data], ensure_ascii=False)}")
        return await asyncio.wait_for(fut, 30)

    async def run(self) -> None:
        async for msg in self.ws:
            text = msg.data
            if not isinstance(text, str):
                continue
            if text == "2":
                await self.ws.send_str("3")
            elif text.startswith("42"):
                body = text[2:].split(",", 1)[1] if text[2:].startswith(self.ns) else text[2:]
                event, *rest = json.loads(body)
                handler = self.handlers.get(event)
                if handler is not None:
                    handler(rest[0] if rest else None)
            elif text.startswith("43"):
                body = text[2:].split(",", 1)[1] if text[2:].startswith(self.ns) else text[2:]
                cut = body.index("[")
                fut = self.acks.pop(int(body[:cut]), None)
                if fut is not None and not fut.done():
                    fut.set_result(json.loads(body[cut:])[0])


async def _open(http: Any, url: str, ns: str, auth: dict[str, Any] | None) -> Sock:
    ws = await http.ws_connect(url, autoping=False, max_msg_size=0)
    opened = await ws.receive_str()
    if not opened.startswith("0"):
        raise RuntimeError(f"unexpected Engine.IO open: {opened[:60]}")
    await ws.send_str(f"40{ns}," + (json.dumps(auth) if auth else ""))
    reply = await ws.receive_str()
    if not reply.startswith(f"40{ns}"):
        raise RuntimeError(f"namespace {ns} refused: {reply[:120]}")
    return Sock(ws, ns)


async def _load_async(plan: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    url, interval, duration = plan["url"], float(plan["interval"]), float(plan["duration"])
    v2s: list[Sample] = []
    s2v: list[Sample] = []
    measuring = {"on": False}
    pending: dict[str, float] = {}  # message text -> sent at, until it arrives
    assigned: set[int] = set()
    runners: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        # Seats first: signed in and ready with room for many chats.
        seats: dict[str, Sock] = {}
        for name, token in plan["tokens"].items():
            sock = await _open(http, url, "/agent", {"token": token})
            seats[name] = sock
            runners.append(asyncio.create_task(sock.run()))
        for name, sock in seats.items():
            ack = await sock.send("login", {"phone": "desk", "ready": True}, ack=True)
            if not ack.get("ok"):
                raise RuntimeError(f"seat {name} login refused: {ack}")

        def seat_handlers(sock: Sock) -> None:
            def on_offer(data: Any) -> None:
                asyncio.get_running_loop().create_task(sock.send("accept", {"contact_id": data["contact_id"]}))

            def on_message(data: Any) -> None:
                now = time.monotonic()
                text = str(data["message"]["body"].get("text", ""))
                sent = pending.pop(text, None)
                if sent is not None and measuring["on"]:
                    v2s.append((sent, now))
                if text.startswith("m:"):
                    reply = "r:" + text[2:]
                    pending[reply] = time.monotonic()
                    asyncio.get_running_loop().create_task(
                        sock.send("chat_send", {"contact_id": data["contact_id"], "text": reply})
                    )

            sock.handlers.update(offer=on_offer, chat_message=on_message)

        for sock in seats.values():
            seat_handlers(sock)

        # Visitors: connect, open a conversation, wait until a seat has it.
        visitors: list[tuple[Sock, int]] = []
        all_assigned = asyncio.Event()

        def visitor_handlers(sock: Sock) -> None:
            def on_message(data: Any) -> None:
                now = time.monotonic()
                sent = pending.pop(str(data.get("text", "")), None)
                if sent is not None and measuring["on"]:
                    s2v.append((sent, now))

            def on_assigned(data: Any) -> None:
                assigned.add(int(data["conversation"]))
                if len(assigned) >= plan["visitors"]:
                    all_assigned.set()

            sock.handlers.update(message=on_message, assigned=on_assigned)

        async def one_visitor(i: int) -> None:
            sock = await _open(http, url, "/visitor", None)
            visitor_handlers(sock)
            runners.append(asyncio.create_task(sock.run()))
            ack = await sock.send("message", {"text": f"hello {i}"}, ack=True)
            if not ack.get("ok"):
                raise RuntimeError(f"visitor {i} refused: {ack}")
            visitors.append((sock, int(ack["conversation"])))

        for start in range(0, plan["visitors"], 50):
            await asyncio.gather(*(one_visitor(i) for i in range(start, min(plan["visitors"], start + 50))))
        await asyncio.wait_for(all_assigned.wait(), 120)

        # Steady state: each visitor writes every `interval` s (phases spread at random).
        async def talk(sock: Sock, conversation: int, k: int) -> None:
            await asyncio.sleep(random.uniform(0, interval))
            n = 0
            while True:
                text = f"m:{k}:{n}"
                pending[text] = time.monotonic()
                await sock.send("message", {"text": text})
                n += 1
                await asyncio.sleep(interval)

        talkers = [asyncio.create_task(talk(s, c, k)) for k, (s, c) in enumerate(visitors)]
        await asyncio.sleep(min(interval, 5.0))  # warm-up, not measured
        measuring["on"] = True
        t0 = time.monotonic()
        await asyncio.sleep(duration)
        measuring["on"] = False
        measured = time.monotonic() - t0
        for task in talkers:
            task.cancel()
        await asyncio.sleep(1.0)
        lost = sum(1 for sent in pending.values() if t0 <= sent <= t0 + measured - 1.0)
        for task in runners:
            task.cancel()
        await asyncio.gather(*talkers, *runners, return_exceptions=True)
    return {
        "v2s": v2s,
        "s2v": s2v,
        "lost": lost,
        "visitors": len(visitors),
        "seats": len(seats),
        "assigned": len(assigned),
        "measured_s": measured,
    }
