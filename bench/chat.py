"""``hotline bench chat``: WeChat webhook acknowledgement under load, and the paths around it.

Open-loop load: signed pushes from ``--visitors`` distinct citizens are sent at ``--rate``
per second to the real channels plugin on a real TCP port, each stored in the database
before "success" is answered. Measured per push: time to the answer (ack), and time until
the conversation reached the ContactSink (the ACD's door). Then ``--seats`` seats answer
through the customer-service API of the local WeChat stand-in, also on a real port.

Then web chat (bench/chat_deliver.py): ``--visitors`` visitors and ``--seats`` seats on real
Socket.IO connections from another process; ``deliver_p99_ms`` is the p99 delay of messages
visitor->seat and seat->visitor together.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hotline.commands.bench import machine
from hotline.errors import CommandError

TOKEN = "bench-token"
APP_ID = "wxbench000000000"
APP_SECRET = "bench-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=200.0, help="pushes per second (default 200)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--visitors", type=int, default=2000, help="distinct citizens (default 2000)")
    parser.add_argument("--seats", type=int, default=200, help="seats answering (default 200)")
    parser.add_argument("--reply-rate", type=float, default=50.0, help="seat replies per second (default 50)")
    parser.add_argument("--mode", choices=("plain", "safe"), default="safe", help="WeChat encryption mode")
    parser.add_argument("--db-url", default="", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--chat-interval", type=float, default=10.0, help="web chat: s between a visitor's messages")
    parser.add_argument("--deliver-duration", type=float, default=20.0, help="web chat: seconds measured")
    parser.add_argument("--max-chats", type=int, default=10, help="web chat: conversations a seat holds at once")
    parser.add_argument("--no-deliver", action="store_true", help="skip the web-chat delivery phase")
    parser.add_argument(
        "--gc-default", action="store_true", help="web chat: Python's collector as is, without the engine's policy"
    )


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = (args.rate, args.reply_rate, args.duration, args.visitors, args.seats, args.chat_interval)
    if min(sizes) <= 0 or args.deliver_duration <= 0 or args.max_chats <= 0:
        raise CommandError(
            "--rate, --reply-rate, --duration, --visitors, --seats, --chat-interval, --deliver-duration and --max-chats must be positive"
        )
    if args.seats * args.max_chats < args.visitors:
        raise CommandError("--seats x --max-chats must be at least --visitors (every visitor is served at once)")
    with tempfile.TemporaryDirectory(prefix="hotline-bench-chat-") as tmp:
        return asyncio.run(_run(args, Path(tmp)))


async def _run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from aiohttp import web
    from rich.console import Console
    from rich.progress import Progress
    from sqlalchemy import select

    from channels.models import ChannelConversation
    from channels.plugin import SERVICE, WEBHOOK, install
    from channels.settings import ChannelSettings, WeChatSettings
    from channels.sink import QueueContactSink
    from channels.wechat_standin import StandInState, build_standin
    from hotline.context import AppContext
    from hotline.migrate import upgrade
    from hotline.settings import Settings, load_settings
    from hotline.storage import make_engine, make_sessionmaker

    db_url = args.db_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    if args.db_url:
        db_url = Settings._db_url(args.db_url)  # same URL rules as the engine's own setting
    await upgrade(db_url)
    engine = make_engine(db_url)
    console = Console(stderr=True)

    state = StandInState(APP_ID, APP_SECRET, quota=10**9)
    standin_runner = web.AppRunner(build_standin(state), access_log=None)
    await standin_runner.setup()
    standin_site = web.TCPSite(standin_runner, "127.0.0.1", 0)
    await standin_site.start()
    standin_port = standin_runner.addresses[0][1]

    ctx = AppContext(settings=load_settings(data_dir=tmp), engine=engine, sessions=make_sessionmaker(engine))
    sink = QueueContactSink(maxsize=1)
    reached: dict[str, float] = {}

    async def on_contact(item: Any) -> None:
        if isinstance(item, tuple):
            reached[str(item[1].body.get("text", ""))] = time.monotonic()

    sink.subscribe(on_contact)
    ctx.services["channels.sink"] = sink
    wechat = WeChatSettings.model_validate(
        {
            "token": TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "encoding_aes_key": AES_KEY,
            "mode": args.mode,
            "api_base_url": f"http://127.0.0.1:{standin_port}",
        }
    )
    app = web.Application()
    install(app, ctx, ChannelSettings(wechat=wechat))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    service = app[SERVICE]
    hook = app[WEBHOOK]

    url = f"http://127.0.0.1:{port}/wechat/webhook"
    total = int(args.rate * args.duration)
    ctxmp = multiprocessing.get_context("spawn")
    parent_end, child_end = ctxmp.Pipe()
    # WeChat's servers are not inside the engine: the load comes from another process.
    proc = ctxmp.Process(
        target=_generate, args=(child_end, url, args.mode, args.rate, total, args.visitors), daemon=True
    )
    proc.start()
    loop = asyncio.get_running_loop()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"WeChat pushes at {args.rate:g}/s", total=None)
            cpu0 = time.process_time()
            result = await loop.run_in_executor(None, parent_end.recv)
            await service.drain()
            cpu = time.process_time() - cpu0
            progress.update(task, completed=1, total=1)
        await service.drain()
        proc.join(timeout=10)
        sent_at: dict[str, float] = result["sent_at"]
        acks: list[float] = result["acks"]
        failures: int = result["failures"]
        elapsed: float = result["elapsed"]
        # Seats answer: --seats seats, each with one conversation, reply open-loop at --reply-rate in total.
        async with ctx.sessions() as s:
            conversations = list((await s.execute(select(ChannelConversation))).scalars())
        for conv in conversations:
            state.user_wrote(conv.citizen)
        targets = [c.id for c in conversations][: args.seats]
        replies: list[float] = []
        reply_fail = 0

        async def answer(k: int) -> None:
            nonlocal reply_fail
            seat = k % len(targets)
            start = time.perf_counter()
            result = await service.send_text(targets[seat], f"seat-{seat:03d}", f"您好，已收到（{k}）")
            replies.append(time.perf_counter() - start)
            if result.status != "sent":
                reply_fail += 1

        n_replies = int(args.reply_rate * args.duration)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{len(targets)} seats replying at {args.reply_rate:g}/s", total=n_replies)
            t0 = time.perf_counter()
            jobs = []
            for k in range(n_replies):
                delay = t0 + k / args.reply_rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                jobs.append(asyncio.create_task(answer(k)))
                progress.advance(task)
            await asyncio.gather(*jobs)
    finally:
        await runner.cleanup()
        await standin_runner.cleanup()
        await engine.dispose()

    deliver: dict[str, Any] = {"deliver_p99_ms": None}
    if not args.no_deliver:
        from bench.chat_deliver import run_deliver

        deliver = await run_deliver(args, tmp, db_url, console)
    to_sink = [reached[k] - v for k, v in sent_at.items() if k in reached]
    return {
        "visitors": args.visitors,
        "seats": len(targets),
        "mode": args.mode,
        "database": db_url.split(":", 1)[0],
        "pushes": total,
        "achieved_rate_per_s": round(total / elapsed, 1),
        "ack_failures": failures,
        "engine_cpu_ms_per_push": round(cpu / total * 1000, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "wechat_ack_p50_ms": _pct(acks, 50),
        "wechat_ack_p99_ms": _pct(acks, 99),
        "wechat_ack_max_ms": round(max(acks) * 1000, 2) if acks else None,
        "wechat_ack_mean_ms": round(statistics.fmean(acks) * 1000, 2) if acks else None,
        "server_ack_p50_ms": _pct(list(hook.recent_acks)[-total:], 50),
        "server_ack_p99_ms": _pct(list(hook.recent_acks)[-total:], 99),
        "wechat_to_sink_p99_ms": _pct(to_sink, 99),
        "reached_sink": len(to_sink),
        "reply_rate_per_s": args.reply_rate,
        "wechat_reply_p99_ms": _pct(replies, 99),
        "reply_failures": reply_fail,
        **deliver,
        "machine": machine(),
    }


def _generate(conn: Any, url: str, mode: str, rate: float, total: int, visitors: int) -> None:
    """Child process: sign (and encrypt) every push up front, then post them open-loop at ``rate``."""
    asyncio.run(_generate_async(conn, url, mode, rate, total, visitors))


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
    failures = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        # Warm the connection pool, the database and the code paths before measuring.
        for body, q in pushes[total:]:
            async with http.post(url, params=q, data=body) as r:
                await r.read()

        async def one(i: int) -> None:
            nonlocal failures
            body, q = pushes[i]
            start = time.monotonic()
            sent_at[f"bench {i}"] = start
            try:
                async with http.post(url, params=q, data=body) as r:
                    text = await r.text()
                ok = r.status == 200 and text == "success"
            except aiohttp.ClientError:
                ok = False
            acks.append(time.monotonic() - start)
            failures += 0 if ok else 1

        t0 = time.monotonic()
        jobs = []
        for i in range(total):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            jobs.append(asyncio.create_task(one(i)))
        await asyncio.gather(*jobs)
        elapsed = time.monotonic() - t0
    conn.send({"sent_at": sent_at, "acks": acks, "failures": failures, "elapsed": elapsed})
