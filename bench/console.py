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
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from bench.chat_deliver import Sock, _open, address
from hotline.commands.bench import machine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # A large city's centre on one process.
    parser.add_argument("--seats", type=int, default=2000, help="seat sockets (default 2000)")
    parser.add_argument("--supervisors", type=int, default=200, help="supervisor sockets (default 200)")
    parser.add_argument("--contacts", type=int, default=600, help="chat contacts offered (default 600)")
    # 2,000 seats with 4-5 minute handling serve about 7 contacts a second: 10/s is a hard peak.
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
    from hotline.app import socket_server
    from hotline.auth import Account, hash_password
    from hotline.context import AppContext
    from hotline.migrate import upgrade
    from hotline.settings import load_settings
    from hotline.storage import make_engine, make_sessionmaker

    url = f"sqlite+aiosqlite:///{folder / 'hotline.db'}"
    await upgrade(url)
    engine = make_engine(url)
    # The clients stand at addresses of their own (X-Forwarded-For from the trusted loopback), as
    # seats and supervisors spread over a city's sites would; see chat_deliver.address.
    settings = load_settings(data_dir=folder, database_url=url, security={"trusted_proxies": ["127.0.0.1"]})
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

    acd = AcdService(ctx.deps.bus)
    ctx.deps.acd = acd
    acd.register("chat", Chats())
    for queue in load_queues():
        await acd.feed(QueueConfigured(now=acd.now(), queue=queue))
    acd.start()
    app = web.Application()
    socket_server(app, ctx)  # as the composition root builds it
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
    # The collector as ``hotline run`` sets it (long-lived objects frozen out of full passes).
    from hotline import gcpolicy

    gc_task = gcpolicy.start(settings.gc_freeze_every_s, settings.gc_sweep_every_s)
    cpu0 = time.process_time()
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
            conn.send((p(lags, 0.5), p(lags, 0.99), p(lags, 1.0), time.process_time() - cpu0))
            lags.clear()
        elif msg[0] == "stop":
            break
    watcher.cancel()
    if gc_task is not None:
        gc_task.cancel()
    await runner.cleanup()
    await acd.stop()
    await engine.dispose()


# ---- the clients -----------------------------------------------------------------------------
async def _clients(
    args: argparse.Namespace, conn: Any, port: int, secret: str, progress: Progress, alive: Any
) -> dict[str, Any]:
    """Seats and supervisors as light Engine.IO clients (the chat bench's): the client side must
    not be what limits 2,200 sockets on two cores."""
    import aiohttp

    from hotline.auth import make_token

    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    expires = int(time.time() + 3600)
    offer_delays: list[float] = []
    sup_delays: list[float] = []
    rows_seen = [0]  # every seat row any supervisor received (offers' state changes included)
    got: Counter[str] = Counter()  # supervisor -> rows of this run's seat actions received
    sent: dict[str, float] = {}
    closing = [False]
    dropped: list[str] = []
    offers_seen = asyncio.Event()
    pending: set[asyncio.Task[Any]] = set()
    task = progress.add_task("connecting", total=args.seats + args.supervisors)
    offers_task = progress.add_task("offers", total=args.contacts, visible=False)

    def watch(sock: Sock, who: str) -> None:
        async def run() -> None:
            with contextlib.suppress(Exception):
                await sock.run()
            if not closing[0]:
                dropped.append(who)

        t = asyncio.create_task(run())
        pending.add(t)
        t.add_done_callback(pending.discard)

    async def seat(http: aiohttp.ClientSession, i: int) -> Sock:
        token = make_token(secret, f"s{i}", "seat", None, expires)
        sock = await _open(http, url, "/agent", {"token": token}, address("seat", i))

        async def answer(offer: dict[str, Any]) -> None:
            ack = await sock.ask("accept", {"contact_id": offer["contact_id"]})
            if ack.get("ok"):
                await sock.ask("hangup", {"contact_id": offer["contact_id"]})

        def on_offer(offer: dict[str, Any]) -> None:
            offer_delays.append(time.time() - offer["offered_at"])
            progress.advance(offers_task)
            if len(offer_delays) >= args.contacts:
                offers_seen.set()
            t = asyncio.create_task(answer(offer))
            pending.add(t)
            t.add_done_callback(pending.discard)

        sock.handlers["offer"] = on_offer
        watch(sock, f"seat s{i}")
        ack = await sock.ask("login", {"phone": "desk", "ready": True})
        if not ack.get("ok"):
            raise RuntimeError(f"seat s{i} could not log in: {ack}")
        progress.advance(task)
        return sock

    async def supervisor(http: aiohttp.ClientSession, i: int) -> Sock:
        token = make_token(secret, f"v{i}", "supervisor", None, expires)
        sock = await _open(http, url, "/supervisor", {"token": token}, address("supervisor", i))
        who = f"v{i}"

        def on_seat(row: dict[str, Any]) -> None:
            rows_seen[0] += 1
            # A seat still finishing a chat gets the pause as pending: its row names it there.
            t0 = sent.get(str(row.get("reason") or row.get("pending") or ""))
            if t0 is not None:
                sup_delays.append(time.time() - t0)
                got[who] += 1

        sock.handlers["seat"] = on_seat
        watch(sock, f"supervisor {who}")
        progress.advance(task)
        return sock

    limit = asyncio.Semaphore(25)  # connect in small batches: a burst of handshakes is not what we measure

    async def gated(coro: Any) -> Any:
        async with limit:
            return await coro

    loop = asyncio.get_running_loop()

    async def engine_mark() -> tuple[float | None, float | None, float | None, float]:
        conn.send(("lag",))
        return tuple(await loop.run_in_executor(None, conn.recv))  # type: ignore[return-value]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sups = await asyncio.gather(*(gated(supervisor(http, i)) for i in range(args.supervisors)))
        seats = await asyncio.gather(*(gated(seat(http, i)) for i in range(args.seats)))
        progress.update(offers_task, visible=True)
        await engine_mark()
        rows_before = rows_seen[0]
        conn.send(("contacts", args.contacts, args.rate))
        deadline = time.monotonic() + args.timeout
        while not offers_seen.is_set():
            if not alive():
                raise RuntimeError("the engine process died; its error is printed above")
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(offer_delays)} of {args.contacts} offers within {args.timeout:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(offers_seen.wait(), 1.0)
        await loop.run_in_executor(None, conn.recv)
        await asyncio.sleep(1.0)  # let the last accepts and hang-ups finish before the second phase
        offer_lag = await engine_mark()
        offer_rows = rows_seen[0] - rows_before

        actions_task = progress.add_task("seat actions", total=args.actions)
        rows_before = rows_seen[0]
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
            ack = await c.ask("not_ready", {"reason": reason})
            if not ack.get("ok"):
                raise RuntimeError(f"not_ready refused: {ack}")
            await c.ask("ready", {})
            progress.advance(actions_task)
        want = args.actions * args.supervisors
        deadline = time.monotonic() + 30
        while len(sup_delays) < want and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        action_lag = await engine_mark()
        action_rows = rows_seen[0] - rows_before
        closing[0] = True
        for sock in [*seats, *sups]:
            with contextlib.suppress(Exception):
                await sock.ws.close()
        for t in list(pending):
            t.cancel()
    losses = [f"{who}: dropped by the engine during the run" for who in dropped]
    short = {f"v{i}": args.actions - got[f"v{i}"] for i in range(args.supervisors) if got[f"v{i}"] < args.actions}
    losses += [f"supervisor {who}: {n} of {args.actions} seat actions never arrived" for who, n in short.items()]
    offer_cpu, action_cpu = offer_lag[3] - 0.0, action_lag[3] - offer_lag[3]
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
        "sockets_dropped": len(dropped),
        # Engine CPU per update pushed (an offer to its seat, a seat's row to one supervisor),
        # all of its work included: the ACD, the database writes, accepts and hang-ups.
        "engine_cpu_ms_per_update": round(
            (offer_cpu + action_cpu) * 1000 / max(1, len(offer_delays) + offer_rows + action_rows), 4
        ),
        "engine_cpu_ms_per_offer_phase_update": round(offer_cpu * 1000 / max(1, len(offer_delays) + offer_rows), 4),
        "engine_cpu_ms_per_supervisor_update": round(action_cpu * 1000 / max(1, action_rows), 4),
        "updates": {"offers": len(offer_delays), "rows_offers": offer_rows, "rows_actions": action_rows},
        "engine_loop_lag_ms": {
            "offers_p99": offer_lag[1],
            "offers_max": offer_lag[2],
            "actions_p99": action_lag[1],
            "actions_max": action_lag[2],
        },
        "engine": "one process: ACD service + console on aiohttp, SQLite; clients in a second process",
        "losses": losses,
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
