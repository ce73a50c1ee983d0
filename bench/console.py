"""``hotline bench console``: delays of the agent console with many seats and supervisors.

The engine (ACD service + console, SQLite, no telephony) runs alone in one child process; this
process holds ``--seats`` seat sockets and ``--supervisors`` supervisor sockets (python-socketio
clients over WebSocket on loopback). Two measures, both as wall-clock differences on one machine:

- offer delay: from the moment the console receives the ACD's Offer (its ``offered_at`` stamp,
  taken right after the core decided) to the seat socket's receipt of the ``offer`` event. Chat
  contacts arrive at ``--rate`` per second; each seat accepts and ends its chat at once, so the
  console also does its database writes and context look-ups under the same load;
- supervisor delay: from a seat sending ``not_ready`` to each supervisor's receipt of that seat's
  new row (every action reaches every supervisor: actions x supervisors samples).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from hotline.commands.bench import machine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seats", type=int, default=500, help="seat sockets (default 500)")
    parser.add_argument("--supervisors", type=int, default=50, help="supervisor sockets (default 50)")
    parser.add_argument("--contacts", type=int, default=600, help="chat contacts offered (default 600)")
    # 500 seats with 4-5 minute handling serve about 2 contacts a second: 10/s is a hard peak.
    parser.add_argument("--rate", type=float, default=10.0, help="contacts per second (default 10)")
    parser.add_argument("--actions", type=int, default=200, help="seat not-ready actions (default 200)")
    parser.add_argument("--action-rate", type=float, default=10.0, help="seat actions per second (default 10)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")


def p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 2)


# ---- the engine process ----------------------------------------------------------------------
def _engine(conn: Any, folder: str) -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_engine_main(conn, Path(folder)))


async def _engine_main(conn: Any, folder: Path) -> None:
    import datetime as dt

    from aiohttp import web

    from acd.core import Command, ContactArrived, QueueConfigured
    from acd.queues import load_queues
    from acd.service import AcdService
    from agent_console import plugin
    from agent_console.settings import load_console_settings
    from hotline.auth import Account, hash_password
    from hotline.bus import Bus
    from hotline.context import AppContext
    from hotline.migrate import upgrade
    from hotline.settings import load_settings
    from hotline.storage import make_engine, make_sessionmaker

    url = f"sqlite+aiosqlite:///{folder / 'hotline.db'}"
    await upgrade(url)
    engine = make_engine(url)
    settings = load_settings(data_dir=folder, database_url=url)
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    seats, sups = conn.recv()
    pw = hash_password("bench-password")  # one hash for all: scrypt per account would take minutes
    now = dt.datetime.now(dt.UTC)
    async with ctx.sessions() as s, s.begin():
        for i in range(seats):
            s.add(
                Account(username=f"s{i}", display_name="", role="seat", password_hash=pw, active=True, created_at=now)
            )
        for i in range(sups):
            s.add(
                Account(
                    username=f"v{i}", display_name="", role="supervisor", password_hash=pw, active=True, created_at=now
                )
            )

    class Chats:
        async def execute(self, command: Command) -> None:
            return None

    acd = AcdService(ctx.services.setdefault("bus", Bus()))
    ctx.services["acd"] = acd
    acd.register("chat", Chats())
    for queue in load_queues():
        await acd.feed(QueueConfigured(now=acd.now(), queue=queue))
    acd.start()
    app = web.Application()
    plugin.install(app, ctx, load_console_settings(grace_s=60, board_every_s=2.0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    conn.send((runner.addresses[0][1], settings.secret_key))
    loop = asyncio.get_running_loop()
    lags: list[float] = []

    async def watch_loop() -> None:
        # How late a 10 ms sleep wakes up: the engine's own stalls, apart from the clients' side.
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - t - 0.01)

    watcher = asyncio.create_task(watch_loop())
    while True:
        msg = await loop.run_in_executor(None, conn.recv)
        if msg[0] == "contacts":
            _, count, rate = msg
            start = time.perf_counter()
            for n in range(count):
                # Paced against the start, so a slow step does not lower the overall rate.
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await acd.feed(ContactArrived(now=acd.now(), contact_id=f"b{n}", channel="webchat", queue="internet"))
            conn.send(("fed", count))
        elif msg[0] == "lag":
            conn.send((p(lags, 0.5), p(lags, 0.99), p(lags, 1.0)))
            lags.clear()
        elif msg[0] == "stop":
            break
    watcher.cancel()
    await runner.cleanup()
    await acd.stop()
    await engine.dispose()


# ---- the clients -----------------------------------------------------------------------------
async def _clients(
    args: argparse.Namespace, conn: Any, port: int, secret: str, progress: Progress, alive: Any
) -> dict[str, Any]:
    import socketio

    from hotline.auth import make_token

    base = f"http://127.0.0.1:{port}"
    expires = int(time.time() + 3600)
    offer_delays: list[float] = []
    sup_delays: list[float] = []
    sent: dict[str, float] = {}
    drops = {"seat": 0, "supervisor": 0}
    offers_seen = asyncio.Event()
    task = progress.add_task("connecting", total=args.seats + args.supervisors)

    async def seat(i: int) -> socketio.AsyncClient:
        c = socketio.AsyncClient(reconnection=False)

        async def on_offer(offer: dict[str, Any]) -> None:
            offer_delays.append(time.time() - offer["offered_at"])
            progress.advance(offers_task)
            if len(offer_delays) >= args.contacts:
                offers_seen.set()
            ack = await c.call("accept", {"contact_id": offer["contact_id"]}, namespace="/agent", timeout=30)
            if ack.get("ok"):
                await c.call("hangup", {"contact_id": offer["contact_id"]}, namespace="/agent", timeout=30)

        c.on("offer", on_offer, namespace="/agent")

        def dropped_seat() -> None:
            drops["seat"] += 1

        c.on("disconnect", dropped_seat, namespace="/agent")
        token = make_token(secret, f"s{i}", "seat", None, expires)
        await c.connect(base, namespaces=["/agent"], auth={"token": token}, transports=["websocket"], wait_timeout=30)
        ack = await c.call("login", {"phone": "desk", "ready": True}, namespace="/agent", timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"seat s{i} could not log in: {ack}")
        progress.advance(task)
        return c

    async def supervisor(i: int) -> socketio.AsyncClient:
        c = socketio.AsyncClient(reconnection=False)

        def on_seat(row: dict[str, Any]) -> None:
            # A seat still finishing a chat gets the pause as pending: its row names it there.
            t0 = sent.get(str(row.get("reason") or row.get("pending") or ""))
            if t0 is not None:
                sup_delays.append(time.time() - t0)

        c.on("seat", on_seat, namespace="/supervisor")

        def dropped_supervisor() -> None:
            drops["supervisor"] += 1

        c.on("disconnect", dropped_supervisor, namespace="/supervisor")
        token = make_token(secret, f"v{i}", "supervisor", None, expires)
        await c.connect(
            base, namespaces=["/supervisor"], auth={"token": token}, transports=["websocket"], wait_timeout=30
        )
        progress.advance(task)
        return c

    limit = asyncio.Semaphore(25)  # connect in small batches: a burst of handshakes is not what we measure

    async def gated(coro: Any) -> Any:
        async with limit:
            return await coro

    sups = await asyncio.gather(*(gated(supervisor(i)) for i in range(args.supervisors)))
    seats = await asyncio.gather(*(gated(seat(i)) for i in range(args.seats)))
    offers_task = progress.add_task("offers", total=args.contacts)
    conn.send(("contacts", args.contacts, args.rate))
    deadline = time.monotonic() + args.timeout
    while not offers_seen.is_set():
        if not alive():
            raise RuntimeError("the engine process died; its error is printed above")
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(offer_delays)} of {args.contacts} offers within {args.timeout:g} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(offers_seen.wait(), 1.0)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)
    await asyncio.sleep(1.0)  # let the last accepts and hang-ups finish before the second phase
    conn.send(("lag",))
    offer_lag = await loop.run_in_executor(None, conn.recv)

    actions_task = progress.add_task("seat actions", total=args.actions)
    start = time.perf_counter()
    for n in range(args.actions):
        delay = start + n / args.action_rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not alive():
            raise RuntimeError("the engine process died; its error is printed above")
        c = seats[n % len(seats)]
        reason = f"bench{n}"
        sent[reason] = time.time()
        ack = await c.call("not_ready", {"reason": reason}, namespace="/agent", timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"not_ready refused: {ack}")
        await c.call("ready", {}, namespace="/agent", timeout=30)
        progress.advance(actions_task)
    want = args.actions * args.supervisors
    deadline = time.monotonic() + 30
    while len(sup_delays) < want and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    conn.send(("lag",))
    action_lag = await loop.run_in_executor(None, conn.recv)
    lost = dict(drops)  # sockets the engine dropped during the run (e.g. missed pings under CPU starvation)
    for c in [*seats, *sups]:
        await c.disconnect()
    return {
        "seats": args.seats,
        "supervisors": args.supervisors,
        "contacts": args.contacts,
        "rate_per_s": args.rate,
        "offers_received": len(offer_delays),
        "offer_p50_ms": p(offer_delays, 0.5),
        "offer_p99_ms": p(offer_delays, 0.99),
        "offer_max_ms": p(offer_delays, 1.0),
        "seat_actions": args.actions,
        "supervisor_updates": len(sup_delays),
        "supervisor_updates_expected": want,
        "supervisor_p50_ms": p(sup_delays, 0.5),
        "supervisor_p99_ms": p(sup_delays, 0.99),
        "supervisor_max_ms": p(sup_delays, 1.0),
        "sockets_dropped": lost,
        "engine_loop_lag_ms": {
            "offers_p99": offer_lag[1],
            "offers_max": offer_lag[2],
            "actions_p99": action_lag[1],
            "actions_max": action_lag[2],
        },
        "engine": "one process: ACD service + console on aiohttp, SQLite; clients in a second process",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from hotline.errors import CommandError

    for name in ("seats", "supervisors", "contacts", "actions"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name} must be at least 1")
    if args.rate <= 0 or args.action_rate <= 0:
        raise CommandError("--rate and --action-rate must be positive")
    folder = tempfile.mkdtemp(prefix="hotline-bench-console-")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_engine, args=(child, folder), daemon=True)
    proc.start()
    try:
        parent.send((args.seats, args.supervisors))
        if not parent.poll(120):
            raise CommandError("the engine process did not start within 120 s")
        port, secret = parent.recv()
        with Progress(console=Console(stderr=True), transient=True) as progress:
            try:
                result = asyncio.run(_clients(args, parent, port, secret, progress, proc.is_alive))
            except RuntimeError as exc:
                raise CommandError(f"console bench failed: {exc}") from None
        parent.send(("stop",))
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
    result["machine"] = machine()
    return result
