"""Web-chat delivery: visitors and seats on real Socket.IO connections to the engine process.

The engine (ACD + console + channels, ``bench/chat_engine.py``) runs in a process of its own on a
real TCP port; the visitors and seats run in another, speaking Socket.IO (Engine.IO 4 over
WebSocket) with a minimal client of their own, so that two thousand connections cost the load
generator little; this process only reads the engine's CPU time when the measured stretch starts
and ends.

Every visitor opens a conversation, which the ACD offers to a seat (``--max-chats`` at once);
once all are assigned, every visitor writes every ``--chat-interval`` seconds and the seat answers
each message at once, both with an acknowledgement as the widget and the console ask for one.
Delay visitor->seat: from the visitor's send to the seat's ``chat_message``; seat->visitor: from
the seat's ``chat_send`` to the visitor's ``message``. Both ends are in the load process, read from
one monotonic clock.

Every message sent, warm-up included, is followed to its end: after the load stops, the bench
waits (``--drain-timeout``) for those still in flight. One that never arrives is lost, one that
arrives twice is doubled, one that reaches another seat or visitor than its conversation's is
misrouted, one the engine refused (error acknowledgement) is refused; each is listed with its
conversation, its seat and what the engine answered, and where storage has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._engine_watch import percentile_ms
from bench.chat_engine import EngineProcess

ACK_TIMEOUT = 30.0


async def _gateway(run_dir: Path, redis_url: str, secret: str, engine_port: int) -> tuple[subprocess.Popen[bytes], int]:
    """A web gateway (``hotline run`` with ``cluster.role = gateway``) in front of the engine."""
    import aiohttp

    from bench._faults import free_port
    from bench.chaos import CHECKOUT, HOTLINE

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(CHECKOUT),
        "REDIS_URL": redis_url,
        "HOTLINE_HTTP__PORT": str(port),
        "HOTLINE_DATA_DIR": str(run_dir / "gateway"),
        "HOTLINE_CLUSTER__ROLE": "gateway",
        "HOTLINE_CLUSTER__ENGINES": json.dumps([f"http://127.0.0.1:{engine_port}"]),
        "HOTLINE_CLUSTER__RELAY_SECRET": secret,
        # The load's clients stand for many addresses behind the loopback (address() below).
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
    }
    log = (run_dir / "gateway.log").open("wb")
    proc = subprocess.Popen([*HOTLINE, "run"], env=env, cwd=run_dir, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the gateway stopped: " + (run_dir / "gateway.log").read_text()[-1500:])
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200 and (await r.json()).get("engine"):
                        return proc, port
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("the gateway did not find the engine within 60 s")


def sent_as(text: str) -> str:
    """The message's own id, as the widget and the console send one (the engine looks each up to
    answer a message sent twice with the first): "m:12:3" -> "m_12_3__"."""
    return f"{text.replace(':', '_'):_<8}"


async def run_deliver(args: Any, run_dir: Path, db_url: str, console: Any) -> tuple[dict[str, Any], list[str]]:
    from rich.progress import Progress

    from bench.chat import _listed, follow

    relay_secret = uuid.uuid4().hex if getattr(args, "gateway", False) else ""
    engine = await EngineProcess.start(
        "webchat",
        run_dir,
        {
            "db_url": db_url,
            "seats": args.seats,
            "max_chats": args.max_chats,
            "redis_url": args.redis_url,
            "relay_secret": relay_secret,
        },
        gc_default=args.gc_default,
    )
    port = engine.ready["port"]
    gateway: subprocess.Popen[bytes] | None = None
    if relay_secret:
        gateway, port = await _gateway(run_dir, args.redis_url, relay_secret, engine.ready["port"])
    plan = {
        "url": f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
        "tokens": engine.ready["tokens"],
        "visitors": args.visitors,
        "interval": args.chat_interval,
        "duration": args.deliver_duration,
        "drain": args.drain_timeout,
    }
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    proc = mp.Process(target=_load, args=(child, plan), daemon=True)
    marks: dict[str, dict[str, Any]] = {}
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(
                f"web chat: {args.visitors} visitors, {args.seats} seats, one message per visitor every "
                f"{args.chat_interval:g} s",
                total=None,
            )
            proc.start()
            profile = (f"{args.profile}-webchat.txt", args.deliver_duration) if args.profile else None
            others = {"gateway": gateway.pid} if gateway is not None else {}
            result = await follow(proc, parent, engine, marks, profile, others)
            progress.update(task, completed=1, total=1)
        found: dict[str, str] = {}
        lost = result["lost"]
        if lost:
            found = (await engine.ask("find", texts=[item["text"] for item in lost]))["found"]
    finally:
        if gateway is not None:
            gateway.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                gateway.wait(10)
        await engine.stop()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    v2s = [b - a for a, b in result["v2s"]]
    s2v = [b - a for a, b in result["s2v"]]
    both = v2s + s2v
    cpu = marks["end"]["cpu_s"] - marks["start"]["cpu_s"]
    transactions = marks["end"]["transactions"] - marks["start"]["transactions"]
    stored = marks["end"]["messages_stored"] - marks["start"]["messages_stored"]
    losses = _listed("web-chat message lost", [_where(item, found) for item in lost])
    losses += _listed("web-chat message refused by the engine", result["refused"])
    losses += _listed("web-chat message delivered more than once", result["doubled"])
    losses += _listed("web-chat message delivered to the wrong end", result["misrouted"])
    if result["assigned"] < result["visitors"]:
        losses.append(f"web chat: {result['visitors'] - result['assigned']} visitors never got a seat")
    return {
        "deliver_p50_ms": percentile_ms(both, 50),
        "deliver_p99_ms": percentile_ms(both, 99),
        "visitor_to_seat_p99_ms": percentile_ms(v2s, 99),
        "seat_to_visitor_p99_ms": percentile_ms(s2v, 99),
        "deliver_max_ms": percentile_ms(both, 100),
        "deliver_messages": len(both),
        "deliver_sent": result["sent"],
        "deliver_lost": len(lost),
        "deliver_refused": len(result["refused"]),
        "deliver_doubled": len(result["doubled"]),
        "deliver_misrouted": len(result["misrouted"]),
        "visitors_connected": result["visitors"],
        "seats_connected": result["seats"],
        "conversations_assigned": result["assigned"],
        "chat_messages_per_s": round(len(both) / max(0.001, result["measured_s"]), 1),
        "engine_cpu_ms_per_message": round(cpu / max(1, len(both)) * 1000, 3),
        "engine_cpu_s_measured": round(cpu, 2),
        # Ready to run but waiting for a core, per second measured: what the machine's other work took.
        "engine_runqueue_wait_ms_per_s": _per_s(marks, "waited_s"),
        "messages_per_transaction": round(stored / transactions, 2) if transactions else None,
        "engine_event_loop": engine.ready["event_loop"],
        "socketio_emits": "through Redis" if args.redis_url else "in-process",
        # With --gateway: the sockets on a web gateway; its CPU per message beside the engine's.
        "gateway": gateway is not None,
        "gateway_cpu_ms_per_message": round(
            (marks["end"]["others_cpu_s"]["gateway"] - marks["start"]["others_cpu_s"]["gateway"])
            / max(1, len(both))
            * 1000,
            3,
        )
        if gateway is not None
        else None,
        "gc_policy": engine.ready["gc_policy"],
        "engine_loop_lag_p99_ms": marks["end"]["lag_p99_ms"],
        "engine_loop_lag_max_ms": marks["end"]["lag_max_ms"],
        "engine_gc_collections": marks["end"]["gc_collections"],
        "engine_gc_cpu_ms_per_s": round(marks["end"]["gc_cpu_s"] / max(0.001, result["measured_s"]) * 1000, 1),
        "engine_gc_pause_max_ms": marks["end"]["gc_pause_max_ms"],
    }, losses


def _per_s(marks: dict[str, dict[str, Any]], key: str) -> float:
    start, end = marks["start"], marks["end"]
    return round(float(end[key] - start[key]) / max(0.001, float(end["at"] - start["at"])) * 1000, 1)


def _where(item: dict[str, Any], found: dict[str, str]) -> str:
    stored = found.get(item["text"], "not in storage")
    return f"{item['what']}; engine's answer: {item['ack']}; {stored}"


# ---- the load process ------------------------------------------------------------------------


def _load(conn: Any, plan: dict[str, Any]) -> None:
    from hotline import aio

    try:
        aio.run(_load_async(conn, plan))
    except Exception as exc:  # reported as a result, so the benchmark says what broke
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Sock:
    """One Socket.IO client on one namespace, over a WebSocket (Engine.IO 4), nothing more."""

    def __init__(self, ws: Any, ns: str) -> None:
        self.ws = ws
        self.ns = ns
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.handlers: dict[str, Any] = {}

    async def send(self, event: str, data: Any) -> None:
        await self.ws.send_str(f"42{self.ns},{json.dumps([event, data], ensure_ascii=False)}")

    async def ask(self, event: str, data: Any, timeout: float = ACK_TIMEOUT) -> Any:
        """Send with an acknowledgement and return it (TimeoutError when none comes)."""
        self.next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[self.next_id] = fut
        await self.ws.send_str(f"42{self.ns},{self.next_id}{json.dumps([event, data], ensure_ascii=False)}")
        return await asyncio.wait_for(fut, timeout)

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


def address(kind: str, i: int) -> str:
    """Each citizen and each seat at an address of its own, as on the internet: the engine trusts
    the bench's loopback as its proxy (X-Forwarded-For), so its per-address limits apply as they
    would to real clients instead of to one address carrying thousands of them."""
    net = 10 if kind == "visitor" else 172
    return f"{net}.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"


async def _open(http: Any, url: str, ns: str, auth: dict[str, Any] | None, where: str = "") -> Sock:
    headers = {"X-Forwarded-For": where} if where else None
    ws = await http.ws_connect(url, autoping=False, max_msg_size=0, headers=headers)
    opened = await ws.receive_str()
    if not opened.startswith("0"):
        raise RuntimeError(f"unexpected Engine.IO open: {opened[:60]}")
    await ws.send_str(f"40{ns}," + (json.dumps(auth) if auth else ""))
    reply = await ws.receive_str()
    if not reply.startswith(f"40{ns}"):
        raise RuntimeError(f"namespace {ns} refused: {reply[:120]}")
    return Sock(ws, ns)


@dataclass
class Sent:
    at: float
    what: str  # "visitor 12 -> seat b0003, conversation 345"
    to: str  # the end that must receive it: "seat:b0003" or "visitor:12"
    ack: str = "none yet"


@dataclass
class Tally:
    """Every message sent, and what became of it."""

    sent: dict[str, Sent] = field(default_factory=dict)
    arrived: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    misrouted: list[str] = field(default_factory=list)
    v2s: list[tuple[float, float]] = field(default_factory=list)
    s2v: list[tuple[float, float]] = field(default_factory=list)
    window: tuple[float, float] = (float("inf"), float("inf"))

    def send(self, text: str, what: str, to: str) -> None:
        self.sent[text] = Sent(time.monotonic(), what, to)

    def acked(self, text: str, ack: Any) -> None:
        sent = self.sent[text]
        if isinstance(ack, dict) and ack.get("ok"):
            sent.ack = f"stored (message {ack.get('id', '?')})" if "id" in ack else f"ok ({ack.get('status', '')})"
        else:
            sent.ack = f"refused: {ack!r}"[:200]
            self.refused.append(f"{text} ({sent.what}): {sent.ack}")

    def arrive(self, text: str, at_end: str, samples: list[tuple[float, float]]) -> None:
        now = time.monotonic()
        sent = self.sent.get(text)
        if sent is None:
            return  # the conversation's first message, sent before the seat took it
        self.arrived[text] += 1
        if sent.to != at_end:
            self.misrouted.append(f"{text} ({sent.what}) reached {at_end}")
        if self.arrived[text] == 1 and self.window[0] <= sent.at <= self.window[1]:
            samples.append((sent.at, now))

    def outstanding(self) -> list[str]:
        return [t for t, s in self.sent.items() if not self.arrived[t] and not s.ack.startswith("refused")]


async def _load_async(conn: Any, plan: dict[str, Any]) -> None:
    import aiohttp

    url, interval, duration = plan["url"], float(plan["interval"]), float(plan["duration"])
    tally = Tally()
    holder: dict[str, str] = {}  # contact id -> seat that accepted it
    assigned: set[int] = set()
    runners: list[asyncio.Task[None]] = []
    pending: set[asyncio.Task[Any]] = set()

    def spawn(coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def ask(sock: Sock, text: str, event: str, data: dict[str, Any]) -> None:
        try:
            tally.acked(text, await sock.ask(event, data))
        except TimeoutError:
            tally.sent[text].ack = f"no acknowledgement within {ACK_TIMEOUT:g} s"

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        # Seats first: signed in and ready with room for many chats.
        seats: dict[str, Sock] = {}
        for n, (name, token) in enumerate(plan["tokens"].items()):
            sock = await _open(http, url, "/agent", {"token": token}, address("seat", n))
            seats[name] = sock
            runners.append(asyncio.create_task(sock.run()))
        for name, sock in seats.items():
            ack = await sock.ask("login", {"phone": "desk", "ready": True})
            if not ack.get("ok"):
                raise RuntimeError(f"seat {name} login refused: {ack}")

        def seat_handlers(name: str, sock: Sock) -> None:
            def on_offer(data: Any) -> None:
                holder[data["contact_id"]] = name
                spawn(sock.ask("accept", {"contact_id": data["contact_id"]}))

            def on_message(data: Any) -> None:
                text = str(data["message"]["body"].get("text", ""))
                tally.arrive(text, f"seat:{name}", tally.v2s)
                if text.startswith("m:"):
                    reply = "r:" + text[2:]
                    visitor = text.split(":")[1]
                    tally.send(reply, f"seat {name} -> visitor {visitor}, {data['contact_id']}", f"visitor:{visitor}")
                    send = {"contact_id": data["contact_id"], "text": reply, "cid": sent_as(reply)}
                    spawn(ask(sock, reply, "chat_send", send))

            sock.handlers.update(offer=on_offer, chat_message=on_message)

        for name, sock in seats.items():
            seat_handlers(name, sock)

        # Visitors: connect, open a conversation, wait until a seat has it.
        visitors: list[tuple[int, Sock, int]] = []  # (visitor number, socket, conversation)
        all_assigned = asyncio.Event()

        def visitor_handlers(k: int, sock: Sock) -> None:
            def on_message(data: Any) -> None:
                tally.arrive(str(data.get("text", "")), f"visitor:{k}", tally.s2v)

            def on_assigned(data: Any) -> None:
                assigned.add(int(data["conversation"]))
                if len(assigned) >= plan["visitors"]:
                    all_assigned.set()

            sock.handlers.update(message=on_message, assigned=on_assigned)

        async def one_visitor(k: int) -> None:
            sock = await _open(http, url, "/visitor", None, address("visitor", k))
            visitor_handlers(k, sock)
            runners.append(asyncio.create_task(sock.run()))
            ack = await sock.ask("message", {"text": f"hello {k}"})
            if not ack.get("ok"):
                raise RuntimeError(f"visitor {k} refused: {ack}")
            visitors.append((k, sock, int(ack["conversation"])))

        for start in range(0, plan["visitors"], 50):
            await asyncio.gather(*(one_visitor(k) for k in range(start, min(plan["visitors"], start + 50))))
        with contextlib.suppress(TimeoutError):  # visitors without a seat are reported below
            await asyncio.wait_for(all_assigned.wait(), 120)

        # Steady state: each visitor writes every `interval` s (phases spread at random).
        async def talk(k: int, sock: Sock, conversation: int) -> None:
            await asyncio.sleep(random.uniform(0, interval))
            n = 0
            while True:
                text = f"m:{k}:{n}"
                seat = holder.get(f"webchat-{conversation}", "?")
                tally.send(text, f"visitor {k} -> seat {seat}, webchat-{conversation}", f"seat:{seat}")
                spawn(ask(sock, text, "message", {"text": text, "cid": sent_as(text)}))
                n += 1
                await asyncio.sleep(interval)

        talkers = [asyncio.create_task(talk(k, s, c)) for k, s, c in visitors]
        await asyncio.sleep(min(interval, 5.0))  # warm-up, not measured
        conn.send(("mark", "start"))
        t0 = time.monotonic()
        tally.window = (t0, t0 + duration)
        await asyncio.sleep(duration)
        conn.send(("mark", "end"))
        measured = time.monotonic() - t0
        for task in talkers:
            task.cancel()
        await asyncio.gather(*talkers, return_exceptions=True)
        # Everything still in flight gets its chance to arrive; what does not is lost.
        deadline = time.monotonic() + float(plan["drain"])
        while (tally.outstanding() or pending) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a late second copy of a message still counts as doubled
        for task in [*runners, *pending]:
            task.cancel()
        await asyncio.gather(*runners, *pending, return_exceptions=True)
    lost = [{"text": t, "what": f"{t} ({tally.sent[t].what})", "ack": tally.sent[t].ack} for t in tally.outstanding()]
    conn.send(
        (
            "result",
            {
                "v2s": tally.v2s,
                "s2v": tally.s2v,
                "sent": len(tally.sent),
                "lost": lost,
                "refused": tally.refused,
                "doubled": [f"{t} ({tally.sent[t].what}) {n} times" for t, n in tally.arrived.items() if n > 1],
                "misrouted": tally.misrouted,
                "visitors": len(visitors),
                "seats": len(seats),
                "assigned": len(assigned),
                "measured_s": measured,
            },
        )
    )
