"""``hotline run``: start the sandbox Asterisk (unless an external one is configured), bring the
database to the newest schema and serve the engine; Ctrl-C stops both and leaves nothing behind."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import time
from typing import TYPE_CHECKING

from hotline import aio
from hotline.errors import CommandError
from hotline.logs import setup_logging
from hotline.settings import Settings, load_settings

if TYPE_CHECKING:
    from aiohttp import web

    from hotline.lease import PgLease

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="start Asterisk (sandbox) and the engine; Ctrl-C stops both")
    p.add_argument("--no-asterisk", action="store_true", help="serve the engine without starting the sandbox")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json)
    if settings.cluster.role == "gateway":  # no Asterisk, no database: sockets relayed to the engines
        with contextlib.suppress(KeyboardInterrupt):
            aio.run(serve_gateway(settings), settings.event_loop)
        return 0
    started_sandbox = False
    if not settings.asterisk.external and not args.no_asterisk:
        from hotline import sandbox

        was_running = sandbox.pid_alive(sandbox.paths(settings)) is not None
        sandbox.up(settings)
        started_sandbox = not was_running
    try:
        aio.run(serve(settings), settings.event_loop)
    except KeyboardInterrupt:
        pass
    finally:
        if started_sandbox:
            from hotline import sandbox

            sandbox.stop(settings)
            print("sandbox Asterisk stopped")
    return 0


async def serve(settings: Settings, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:

    from hotline.app import build_app
    from hotline.context import AppContext
    from hotline.migrate import upgrade
    from hotline.storage import make_engine, make_sessionmaker

    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        await upgrade(url, engine=engine)
    except OSError as exc:
        await engine.dispose()
        raise CommandError(f"database unreachable ({exc}); check DATABASE_URL") from None
    redis = None
    if settings.redis_url:
        from hotline.redislink import client

        redis = client(settings.redis_url)
        try:
            await asyncio.wait_for(redis.ping(), 3)
        except Exception as exc:
            await engine.dispose()
            raise CommandError(f"Redis at {settings.redis_url} does not answer ({exc}); check REDIS_URL") from None
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine), redis=redis)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    lease = None
    if settings.cluster.enabled:
        lease = _lease(settings, ctx, url)
    # Built before a standby waits (a hot standby): taking over only starts what is built.
    app = build_app(ctx)
    if lease is not None and not await _standby(settings, ctx, lease, stop):  # stopped while a standby
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
        return
    started = time.monotonic()
    first_accounts = await _first_run_accounts(ctx)
    try:
        runner = await _listen(app, settings)
    except CommandError:
        if lease is not None:
            await lease.release()
        await engine.dispose()
        raise
    if lease is not None:
        lease.info = lambda: _member_info(ctx)
        # A lost lease is not a clean stop (whose shutdown would still talk to Asterisk and the
        # database): the lease's watchdog ends the process with exit 75 within watch_s.
        lease.hold(lambda why: None)
        logger.warning(
            "serving as the active engine",
            extra={"epoch": lease.epoch, "node": lease.node, "start_s": round(time.monotonic() - started, 3)},
        )
    base = f"http://{settings.http.host}:{settings.http.port}"
    loop_name = "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
    print(f"12345 hotline engine running at {base} (event loop: {loop_name})", flush=True)
    for path, what in (
        ("/console/", "seat console 座席"),
        ("/supervisor/", "supervisor 班长"),
        ("/workorders/", "work orders 工单"),
        ("/scheduling", "shift managers 排班"),
        ("/openapi.json", "API"),
        ("/metrics", "metrics"),
    ):
        print(f"  {what:<22} {base}{path}", flush=True)
    if not settings.asterisk.external:
        print(f"  Asterisk ARI          {settings.asterisk.ari_url}", flush=True)
    for username, role, password in first_accounts:
        print(f"  first run: account {username} ({role}) password {password}  (shown once; change it)", flush=True)
    print("Ctrl-C stops everything.", flush=True)
    # Everything built at start-up lives for the whole run: keep it out of the collector's full
    # passes, which otherwise stall the event loop for tens of milliseconds on a large ACD.
    from hotline import gcpolicy

    gc_task = gcpolicy.start(settings.gc_freeze_every_s, settings.gc_sweep_every_s)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        if gc_task is not None:
            gc_task.cancel()
        try:
            await runner.cleanup()  # Asterisk and the consoles let go first ...
        finally:
            if lease is not None:
                await lease.release()  # ... then a standby may take over at once (whatever failed)
            if redis is not None:
                await redis.aclose()
            await engine.dispose()


async def serve_gateway(
    settings: Settings, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None
) -> None:
    """A web gateway (hotline/relay.py): the Socket.IO edge, relayed to the active engine."""

    from hotline.app import build_gateway_app

    c = settings.cluster
    missing = [
        what
        for what, there in (
            ("cluster.engines (HOTLINE_CLUSTER__ENGINES)", c.engines),
            ("cluster.relay_secret (HOTLINE_CLUSTER__RELAY_SECRET)", c.relay_secret),
            ("REDIS_URL (what the engine sends to the sockets comes through Redis)", settings.redis_url),
        )
        if not there
    ]
    if missing:
        raise CommandError("a gateway needs " + ", ".join(missing))
    from hotline.redislink import client

    redis = client(settings.redis_url)
    try:
        await asyncio.wait_for(redis.ping(), 3)
    except Exception as exc:
        raise CommandError(f"Redis at {settings.redis_url} does not answer ({exc}); check REDIS_URL") from None
    finally:
        await redis.aclose()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner = await _listen(build_gateway_app(settings), settings)
    print(
        f"12345 hotline gateway running at http://{settings.http.host}:{settings.http.port}"
        f" for the engines {', '.join(c.engines)}",
        flush=True,
    )
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def _listen(app: web.Application, settings: Settings) -> web.AppRunner:
    """``app`` served on the settings' address; a CommandError (and nothing left open) if not."""
    from aiohttp import web

    host, port = settings.http.host, settings.http.port
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {host} is in use: stop the other program or set HOTLINE_HTTP__PORT"
            ) from None
        raise CommandError(f"cannot listen on {host}:{port}: {exc}") from None
    return runner


def _lease(settings: Settings, ctx: object, url: str) -> PgLease:
    """With ``cluster.enabled``: the routing lease this process will ask for (hotline/lease.py)."""
    from hotline.lease import PgLease, default_node

    if not url.startswith("postgresql"):
        raise CommandError(
            "cluster.enabled needs PostgreSQL: set DATABASE_URL=postgresql://... (the lease lives there)"
        )
    c = settings.cluster
    lease = PgLease(
        url,
        c.lease,
        node=c.node or default_node(settings.http.port),
        http=f"http://{settings.http.host}:{settings.http.port}",
        ttl_s=c.ttl_s,
        renew_s=c.renew_s,
        poll_s=c.poll_s,
        stall_s=c.stall_s,
    )
    ctx.lease = lease  # type: ignore[attr-defined]
    return lease


async def _standby(settings: Settings, ctx: object, lease: PgLease, stop: asyncio.Event) -> bool:
    """Serve the standby's page on the engine's port and wait for the lease: True once taken,
    False if stopped meanwhile."""

    from hotline.app import build_standby_app

    runner = await _listen(build_standby_app(ctx), settings)  # type: ignore[arg-type]
    print(f"12345 hotline engine {lease.node}: standby at {lease.http}, waiting for the lease", flush=True)
    await asyncio.to_thread(_warm)
    try:
        got = await lease.acquire(stop)
    finally:
        await runner.cleanup()
    if not got:
        await lease.release()
    return got


def _warm() -> None:
    """What each feature prepares while a standby (``warm()`` in its plugin: loading, never
    serving), so that taking over only starts what is ready."""
    from hotline import features

    for plugin in features.plugins():
        warm = getattr(plugin, "warm", None)
        if warm is not None:
            warm()


def _member_info(ctx: object) -> dict[str, object]:
    """What ``hotline cluster status`` shows of the active engine: its Asterisk and its calls, its
    web gateways and their sockets."""
    settings = ctx.settings  # type: ignore[attr-defined]
    voice = ctx.deps.voice_service  # type: ignore[attr-defined]
    main = [{"ari": settings.asterisk.ari_url, "calls": len(voice.calls) if voice is not None else 0}]
    # Peers driven over ARI beside it, each with the calls that entered it.
    peers = [
        {"ari": p.ari.base_url, "calls": len(p.calls)} for p in (voice.peers.values() if voice is not None else ())
    ]
    # Web gateways relaying to it (hotline/relay.py): each with its sockets, and when last heard.
    # This runs on the lease's thread (once a second): one copy of each table, made while holding
    # the interpreter lock, not a walk the event loop's changes could break.
    remote = getattr(ctx.deps.sio, "remote", None)  # type: ignore[attr-defined]
    gateways: list[dict[str, object]] = []
    if remote is not None:
        held = dict(remote.per_gateway)
        now = remote.clock()
        gateways = [
            {"gateway": g, "sockets": held.get(g, 0), "heard_s_ago": round(now - at, 1)}
            for g, at in sorted(list(remote.heard.items()))
        ]
    return {"asterisk": main + peers, "gateways": gateways}


async def _first_run_accounts(ctx: object) -> list[tuple[str, str, str]]:
    """An empty database gets an administrator, a supervisor and one seat, so the pages can be tried."""
    import secrets

    from sqlalchemy import func, select

    from hotline.auth import Account, create_account

    sessions = ctx.sessions  # type: ignore[attr-defined]
    async with sessions() as s:
        if (await s.execute(select(func.count()).select_from(Account))).scalar_one():
            return []
    made = []
    for username, role in (("admin", "admin"), ("banzhang", "supervisor"), ("1001", "seat")):
        password = secrets.token_urlsafe(9)
        await create_account(sessions, username, role, password)
        made.append((username, role, password))
    return made
