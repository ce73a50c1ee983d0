"""``hotline bench chat``: WeChat webhook acknowledgement under load, and the paths around it.

Three kinds of process, as in production: the engine (``bench/chat_engine.py``, started like
``hotline run``), the load (WeChat's servers pushing, citizens' and seats' browsers), and this
one, which holds WeChat's API (the local stand-in), paces the phases and reads the engine's CPU
time at the start and end of each measured stretch.

WeChat phase, open loop: signed pushes from ``--visitors`` distinct citizens are sent at
``--rate`` per second to the real channels plugin on a real TCP port, each stored in the database
before "success" is answered. Measured per push: time to the answer (ack), and time until the
conversation reached the ContactSink (the ACD's door). Then ``--seats`` seats answer through the
customer-service API of the stand-in.

Then web chat (``bench/chat_deliver.py``): ``--visitors`` visitors and ``--seats`` seats on real
Socket.IO connections; ``deliver_p99_ms`` is the p99 delay of messages visitor->seat and
seat->visitor together.

Every push and every chat message is accounted for: a push acknowledged but never handed to the
ACD, one handed on twice, a reply WeChat did not take, a chat message that never arrived, arrived
twice or at the wrong end: each is listed under ``losses`` (what and where), and the command then
exits non-zero after printing its JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._engine_watch import percentile_ms
from bench.chat_engine import AES_KEY, APP_ID, APP_SECRET, TOKEN, EngineProcess
from hotline.commands.bench import machine
from hotline.errors import CommandError

SHOWN_LOSSES = 30  # lines of detail per kind of loss; the counts are always complete


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=200.0, help="pushes per second (default 200)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--visitors", type=int, default=2000, help="distinct citizens (default 2000)")
    parser.add_argument("--seats", type=int, default=200, help="seats answering (default 200)")
    parser.add_argument("--reply-rate", type=float, default=50.0, help="seat replies per second (default 50)")
    parser.add_argument("--mode", choices=("plain", "safe"), default="safe", help="WeChat encryption mode")
    parser.add_argument("--db-url", default="", help="database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--gateway",
        action="store_true",
        help="web chat: the sockets on a web gateway process relaying to the engine (hotline/relay.py; needs --redis-url)",
    )
    parser.add_argument(
        "--redis-url", default="", help="web chat: Socket.IO emits through this Redis, as several engines share them"
    )
    parser.add_argument("--chat-interval", type=float, default=10.0, help="web chat: s between a visitor's messages")
    parser.add_argument("--deliver-duration", type=float, default=20.0, help="web chat: seconds measured")
    parser.add_argument("--max-chats", type=int, default=10, help="web chat: conversations a seat holds at once")
    parser.add_argument(
        "--drain-timeout", type=float, default=30.0, help="web chat: s to wait for messages in flight after the load"
    )
    parser.add_argument("--no-wechat", action="store_true", help="skip the WeChat phase")
    parser.add_argument("--no-deliver", action="store_true", help="skip the web-chat delivery phase")
    parser.add_argument(
        "--gc-default", action="store_true", help="Python's collector as is in the engine, without its policy"
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="PREFIX",
        help="py-spy the engine during each measured stretch into PREFIX-wechat.txt / PREFIX-webchat.txt",
    )


def calibration_ms() -> float:
    """CPU milliseconds of a fixed piece of plain Python (dicts, strings, calls), best of five:
    the same code's figures from different hours compare through it, as this machine's speed
    (a shared VM's) varies by up to half between hours."""

    def work() -> int:
        total = 0
        for i in range(20_000):
            d: dict[str, str | int] = {"id": i, "text": f"m:{i}:{i % 7}", "seat": "b0001"}
            total += len(str(d["text"])) + len(str(d["id"]))
        return total

    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return round(best * 1000, 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = (args.rate, args.reply_rate, args.duration, args.visitors, args.seats, args.chat_interval)
    if min(sizes) <= 0 or args.deliver_duration <= 0 or args.max_chats <= 0 or args.drain_timeout <= 0:
        raise CommandError(
            "--rate, --reply-rate, --duration, --visitors, --seats, --chat-interval, --deliver-duration, "
            "--max-chats and --drain-timeout must be positive"
        )
    if args.gateway and not args.redis_url:
        raise CommandError("--gateway: the engine reaches the gateway's sockets through Redis: give --redis-url")
    if args.seats * args.max_chats < args.visitors:
        raise CommandError("--seats x --max-chats must be at least --visitors (every visitor is served at once)")
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-chat-"))
    try:
        result = asyncio.run(_run(args, tmp))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # the error names the cause (and the engine log's tail)
        raise
    if result["losses"]:
        # Kept for the post-mortem: the engines' logs and, on SQLite, the database.
        result["run_dir"] = str(tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


async def _run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from rich.console import Console

    from hotline.settings import Settings

    db_url = Settings._db_url(args.db_url) if args.db_url else f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    console = Console(stderr=True)
    out: dict[str, Any] = {"visitors": args.visitors, "seats": args.seats, "database": db_url.split(":", 1)[0]}
    out["calibration_ms"] = calibration_ms()  # before any load of ours
    losses: list[str] = []
    if not args.no_wechat:
        wechat, lost = await _wechat(args, tmp, db_url, console)
        out.update(wechat)
        losses += lost
    if not args.no_deliver:
        from bench.chat_deliver import run_deliver

        if not args.no_wechat:
            await _close_wechat_conversations(db_url)
        deliver, lost = await run_deliver(args, tmp, db_url, console)
        out.update(deliver)
        losses += lost
    out["load_average"] = round(os.getloadavg()[0], 2)
    out["losses"] = losses
    out["machine"] = machine()
    return out


async def _close_wechat_conversations(db_url: str) -> None:
    """The WeChat phase leaves its citizens' conversations open and unanswered; the web-chat engine
    that follows on the same database would rebuild them into its response tracker and, 60 s after
    their first message, flag each late to the supervisors (a database read and two emits apiece,
    about 6 % of that phase's CPU in a py-spy profile). The phase measures web chat's own cost: they
    are closed first, as seats would have closed them."""
    import datetime as dt

    from sqlalchemy import update

    from channels.models import ChannelConversation
    from hotline.storage import make_engine

    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(ChannelConversation)
                .where(ChannelConversation.channel == "wechat", ChannelConversation.state != "closed")
                .values(state="closed", updated_at=dt.datetime.now(dt.UTC))
            )
    finally:
        await engine.dispose()


async def _wechat(args: argparse.Namespace, tmp: Path, db_url: str, console: Any) -> tuple[dict[str, Any], list[str]]:
    from aiohttp import web
    from rich.progress import Progress

    from channels.wechat_standin import StandInState, build_standin

    # WeChat's servers: the stand-in of its API here, its pushes from the load process.
    state = StandInState(APP_ID, APP_SECRET, quota=10**9)
    standin = web.AppRunner(build_standin(state), access_log=None)
    await standin.setup()
    await web.TCPSite(standin, "127.0.0.1", 0).start()
    api = f"http://127.0.0.1:{standin.addresses[0][1]}"
    engine = await EngineProcess.start(
        "wechat", tmp, {"db_url": db_url, "mode": args.mode, "api_base_url": api}, gc_default=args.gc_default
    )
    total = int(args.rate * args.duration)
    url = f"http://127.0.0.1:{engine.ready['port']}/wechat/webhook"
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    proc = mp.Process(target=_generate, args=(child, url, args.mode, args.rate, total, args.visitors), daemon=True)
    marks: dict[str, dict[str, Any]] = {}
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"WeChat pushes at {args.rate:g}/s", total=None)
            proc.start()
            profile = (f"{args.profile}-wechat.txt", args.duration) if args.profile else None
            result = await follow(proc, parent, engine, marks, profile)
            marks["drained"] = {**await engine.ask("drain", timeout=300), **await engine.ask("mark")}
            progress.update(task, completed=1, total=1)
        for n in range(args.visitors):
            state.user_wrote(f"o_bench_{n:05d}")
        n_replies = int(args.reply_rate * args.duration)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{args.seats} seats replying at {args.reply_rate:g}/s", total=None)
            replies = await engine.ask(
                "replies", timeout=args.duration * 10 + 60, count=n_replies, rate=args.reply_rate, seats=args.seats
            )
            progress.update(task, completed=1, total=1)
    finally:
        await engine.stop()
        await standin.cleanup()
        if proc.is_alive():
            proc.kill()
    drained = marks["drained"]
    sent_at: dict[str, float] = result["sent_at"]
    reached: dict[str, float] = drained["reached"]
    acks: list[float] = result["acks"]
    to_sink = [reached[k] - v for k, v in sent_at.items() if k in reached]
    unacked: dict[str, str] = result["unacked"]  # text -> why
    never = sorted((k for k in sent_at if k not in reached and k not in unacked), key=_push_number)
    twice = drained["reached_twice"]
    losses = _listed("WeChat push acknowledged but never handed to the ACD (contact sink)", never)
    losses += _listed(
        "WeChat push not acknowledged with success (WeChat would retry it)",
        [f"{k}: {why}" for k, why in sorted(unacked.items(), key=lambda kv: _push_number(kv[0]))],
    )
    losses += _listed(
        "WeChat push handed to the ACD more than once", [f"{k} ({n + 1} times)" for k, n in twice.items()]
    )
    losses += _listed("seat reply not taken by WeChat's customer-service API", replies["failed"])
    cpu = drained["cpu_s"] - marks["start"]["cpu_s"]
    return {
        "mode": args.mode,
        "pushes": total,
        "achieved_rate_per_s": round(total / result["elapsed"], 1),
        "ack_failures": len(unacked),
        "wechat_lost": len(never),
        "wechat_doubled": sum(twice.values()),
        "engine_cpu_ms_per_push": round(cpu / total * 1000, 3),
        "wechat_engine_runqueue_wait_ms_per_s": round(
            (drained["waited_s"] - marks["start"]["waited_s"])
            / max(0.001, drained["at"] - marks["start"]["at"])
            * 1000,
            1,
        ),
        "wechat_ack_p50_ms": percentile_ms(acks, 50),
        "wechat_ack_p99_ms": percentile_ms(acks, 99),
        "wechat_ack_max_ms": percentile_ms(acks, 100),
        "wechat_ack_mean_ms": round(statistics.fmean(acks) * 1000, 2) if acks else None,
        "server_ack_p50_ms": drained["server_ack_p50_ms"],
        "server_ack_p99_ms": drained["server_ack_p99_ms"],
        "wechat_to_sink_p99_ms": percentile_ms(to_sink, 99),
        "reached_sink": len(to_sink),
        "wechat_engine_loop_lag_p99_ms": drained["lag_p99_ms"],
        "wechat_engine_gc_cpu_ms_per_s": round(drained["gc_cpu_s"] / max(0.001, result["elapsed"]) * 1000, 1),
        "wechat_engine_gc_pause_max_ms": drained["gc_pause_max_ms"],
        "reply_rate_per_s": args.reply_rate,
        "wechat_reply_p99_ms": percentile_ms(replies["latencies"], 99),
        "reply_failures": len(replies["failed"]),
    }, losses


def _push_number(text: str) -> int:
    return int(text.rsplit(" ", 1)[-1])


def _listed(what: str, items: list[str]) -> list[str]:
    """One line per lost item (the first SHOWN_LOSSES), then how many more."""
    lines = [f"{what}: {item}" for item in items[:SHOWN_LOSSES]]
    if len(items) > SHOWN_LOSSES:
        lines.append(f"{what}: ... and {len(items) - SHOWN_LOSSES} more ({len(items)} in all)")
    return lines


def cpu_s(pid: int) -> float:
    """A process's CPU seconds (user and system) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def follow(
    proc: Any,
    conn: Any,
    engine: EngineProcess,
    marks: dict[str, dict[str, Any]],
    profile: tuple[str, float] | None = None,
    others: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Serve a load process until its result: at each ("mark", name) it sends, read the engine's
    CPU time and loop lateness (and the CPU seconds of the ``others``, name -> pid, under
    "others_cpu_s"); ("result", data) ends it, ("error", text) fails the bench.

    ``profile`` (file, seconds): py-spy samples the engine process from the "start" mark on,
    the threads holding the interpreter lock only, as collapsed stacks (its raw format)."""
    loop = asyncio.get_running_loop()
    spy: asyncio.subprocess.Process | None = None
    try:
        while True:
            ready = await loop.run_in_executor(None, conn.poll, 1.0)
            if not ready:
                if not proc.is_alive():
                    raise CommandError(f"the benchmark's load process died (exit code {proc.exitcode})")
                continue
            kind, data = conn.recv()
            if kind == "mark":
                marks[data] = await engine.ask("mark")
                marks[data]["others_cpu_s"] = {name: cpu_s(pid) for name, pid in (others or {}).items()}
                if data == "start" and profile is not None:
                    spy = await _py_spy(engine.proc.pid, *profile)
            elif kind == "result":
                return dict(data)
            else:  # ("error", text)
                raise CommandError(f"the benchmark's load failed: {data}; engine log: {engine.log_tail()}")
    finally:
        if spy is not None:
            await spy.wait()


async def _py_spy(pid: int, path: str, seconds: float) -> asyncio.subprocess.Process:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise CommandError("--profile needs py-spy (pip install py-spy, a development tool)")
    argv = [found, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "250"]
    argv += ["--gil", "--format", "raw", "--output", path]
    return await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


def _generate(conn: Any, url: str, mode: str, rate: float, total: int, visitors: int) -> None:
    """Child process: sign (and encrypt) every push up front, then post them open-loop at ``rate``."""
    from hotline import aio

    try:
        aio.run(_generate_async(conn, url, mode, rate, total, visitors))
    except Exception as exc:  # reported as a result, so the benchmark says what broke
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


async def _generate_async(conn: Any, url: str, mode: str, rate: float, total: int, visitors: int) -> None:
    import aiohttp
    from wechatpy.crypto import WeChatCrypto

    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    base_id = int(time.time()) * 100_000

    def push(i: int) -> tuple[str, dict[str, str]]:
        now = str(int(time.time()))
        nonce = f"n{i}"
        openid = f"o_bench_{i % visitors:05d}"
        plain = (
            f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[bench {i}]]></Content><MsgId>{base_id + i}</MsgId></xml>"
        )
        sig = hashlib.sha1("".join(sorted([TOKEN, now, nonce])).encode()).hexdigest()
        q = {"signature": sig, "timestamp": now, "nonce": nonce}
        if mode == "plain":
            return plain, q
        env = crypto.encrypt_message(plain, nonce, now)
        enc = env.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        q.update({"encrypt_type": "aes", "msg_signature": env.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]})
        return f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>", q

    pushes = [push(i) for i in range(total + 20)]
    sent_at: dict[str, float] = {}
    acks: list[float] = []
    unacked: dict[str, str] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        # Warm the connection pool, the database and the code paths before measuring.
        for body, q in pushes[total:]:
            async with http.post(url, params=q, data=body) as r:
                await r.read()

        async def one(i: int) -> None:
            body, q = pushes[i]
            start = time.monotonic()
            sent_at[f"bench {i}"] = start
            why = ""
            try:
                async with http.post(url, params=q, data=body) as r:
                    text = await r.text()
                if r.status != 200 or text != "success":
                    why = f"HTTP {r.status} {text[:80]!r}"
            except aiohttp.ClientError as exc:
                why = f"{type(exc).__name__}: {exc}"
            acks.append(time.monotonic() - start)
            if why:
                unacked[f"bench {i}"] = f"from o_bench_{i % visitors:05d}, {why}"

        conn.send(("mark", "start"))
        t0 = time.monotonic()
        jobs = []
        for i in range(total):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            jobs.append(asyncio.create_task(one(i)))
        await asyncio.gather(*jobs)
        elapsed = time.monotonic() - t0
    conn.send(("result", {"sent_at": sent_at, "acks": acks, "unacked": unacked, "elapsed": elapsed}))
