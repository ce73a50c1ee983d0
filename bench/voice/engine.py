"""The engine side of ``hotline bench voice``, in a process of its own.

``python -m bench.voice.engine --seats N --seat-port P --run-dir DIR [--no-records]`` builds the
ACD service, the voice service and the interaction records exactly as the integration harness
(``tests/integration/acd/voice_harness.py``) and ``hotline run`` do, logs the benchmark's seats
in (static PJSIP contacts on the seat sipp), prints ``ready`` once the ARI events are connected,
and runs until its standard input closes (or SIGTERM): then it stops, records flushed. Its logs
(JSON lines, as ``hotline run`` writes them) go to standard error, which the bench keeps as
``engine.log`` in the run's folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import gc
import itertools
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.voice.plan import seat_ids
from hotline import aio
from hotline.errors import CommandError

logger = logging.getLogger(__name__)
CHECKOUT = Path(__file__).resolve().parents[2]  # the folder holding bench/, acd/, hotline/


class EngineStack:
    """AcdService + VoiceService + records, wired exactly as tests/integration/acd/voice_harness.py."""

    def __init__(self, parts: dict[str, Any]) -> None:
        self.parts = parts

    @classmethod
    async def start(
        cls,
        settings: Any,
        seats: list[str],
        seat_port: int,
        run_dir: Path,
        with_records: bool = True,
        announce_every_s: float = 0.0,
    ) -> EngineStack:
        from acd.ari.client import AriClient
        from acd.core import Acd, AcdSettings, QueueConfig, QueueConfigured, SeatLoggedIn
        from acd.service import AcdService
        from acd.voice.records import RecordStore
        from acd.voice.seats import SeatDevice
        from acd.voice.service import VoiceService
        from hotline.bus import Bus
        from hotline.migrate import upgrade
        from hotline.storage import make_engine, make_sessionmaker

        a = settings.asterisk
        db_url = f"sqlite+aiosqlite:///{run_dir / 'records.db'}"
        await upgrade(db_url)
        db = make_engine(db_url)
        ari = AriClient.from_settings(a)
        # Wrap-up 0 s and a 30 s ring timeout, like queues.conf [bench]: the same seats' rules.
        acd = AcdService(Bus(), Acd(AcdSettings(wrap_up_s={"voice": 0.0, "chat": 0.0})))
        queue = QueueConfig(
            name="general",
            skills=(("general", 1),),
            ring_timeout_s=30.0,
            widen_on_projection=False,
            widen_after_s=(None, None, None, None),
            # The city's waiting experience: position and expected wait, then the call-back offer.
            announce_every_s=announce_every_s or None,
        )
        await acd.feed(QueueConfigured(now=acd.now(), queue=queue))
        records = RecordStore(make_sessionmaker(db))
        records.start()
        # As `hotline run` wires it: the call-back key on, the prompts from the sounds folder.
        voice = VoiceService(
            ari, acd, records=records if with_records else None, callback_key=True, sounds_prefix=a.sounds_dir
        )
        acd.start()
        voice.start()
        # The engine's collector policy, exactly as `hotline run` starts it.
        from hotline import gcpolicy

        gc_task = gcpolicy.start(settings.gc_freeze_every_s, settings.gc_sweep_every_s)
        stack = cls({"ari": ari, "acd": acd, "voice": voice, "records": records, "db": db, "gc": gc_task})
        try:
            await asyncio.wait_for(voice.connected.wait(), 10)
        except TimeoutError:
            await stack.stop()
            raise CommandError(f"the engine's ARI events did not connect to {a.ari_url} within 10 s") from None
        for seat in seats:
            voice.set_device(SeatDevice(seat, kind="desk", contact=f"sip:seat{seat}@127.0.0.1:{seat_port}"))
            await acd.feed(SeatLoggedIn(now=acd.now(), seat_id=seat, skills=(("general", 1),), ready=True))
        return stack

    async def stop(self) -> None:
        p = self.parts
        if p["gc"] is not None:
            p["gc"].cancel()
        await p["voice"].stop()
        await p["acd"].stop()
        await p["records"].stop()
        # Only the benchmark's own channels: the sandbox may be shared with other work.
        with contextlib.suppress(Exception):
            for ch in await p["ari"].channels():
                if str(ch.get("name", "")).startswith(("PJSIP/bench-caller-", "PJSIP/seatbench")):
                    with contextlib.suppress(Exception):
                        await p["ari"].hangup(ch["id"])
        await p["ari"].close()
        await p["db"].dispose()


class EngineProcess:
    """The engine of a run in a process of its own (``python -m bench.voice.engine``), as
    ``hotline run`` would have it: the bench's progress bar, its sipp supervision and its trace
    parsing never share the engine's event loop or its interpreter lock."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(
        cls, seats: int, seat_port: int, run_dir: Path, records: bool = True, announce_every_s: float = 0.0
    ) -> EngineProcess:
        log = run_dir / "engine.log"
        argv = [sys.executable, "-P", "-m", "bench.voice.engine", "--seats", str(seats), "--seat-port", str(seat_port)]
        argv += ["--run-dir", str(run_dir), "--announce-every", str(announce_every_s)]
        argv += [] if records else ["--no-records"]
        # The engine runs this checkout's code, whatever the current folder: `-m` would put the
        # current folder first on the path (-P keeps it off), and another checkout there would be
        # measured instead. The current folder stays: the settings' relative paths start there.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))}
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err, env=env
            )
        engine = cls(proc)
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await engine.stop()
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise CommandError("the benchmark's engine did not start: " + (" | ".join(tail) or "no output"))
        return engine

    async def stop(self) -> int | None:
        """Close its stdin: it stops like ``hotline run`` on a signal (records flushed). Returns
        its exit code if it had already ended by itself (a crash during the run), else None."""
        early = self.proc.returncode
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        return early


STALL_DUMP_S = 2.0  # the loop stuck this long: every thread's stack goes to engine.log


LATE_S = 0.1  # the loop this late on a short sleep: logged, so a slow call can be told from Asterisk's delays
TICK_S = 0.05
# faulthandler starts a thread of its own at every re-arm: re-armed every 50 ms, that was 6 % of
# the engine's CPU during phase 1 (py-spy), counted against the engine's cost per call. Once a
# second, the timer waits for the stall plus that second.
REARM_EVERY = 20


async def _stall_watchdog() -> None:
    """Re-arm faulthandler's timer from the loop: if the loop stops turning (a blocking call,
    the process not scheduled), the timer fires in its own thread and writes every thread's
    stack to standard error (engine.log), so a stalled engine says where it stood. Shorter
    stalls are logged with their length ("engine loop late"), and so are collector passes of
    20 ms or more: slow calls in the traces can then be laid against them."""
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            ms = (time.perf_counter() - started[0]) * 1000
            if ms >= 20:
                logger.warning("engine gc pause", extra={"pause_ms": round(ms, 1), "generation": info["generation"]})

    gc.callbacks.append(on_gc)
    loop = asyncio.get_running_loop()
    try:
        for tick in itertools.count():
            if tick % REARM_EVERY == 0:
                faulthandler.dump_traceback_later(STALL_DUMP_S + REARM_EVERY * TICK_S, repeat=False)
            before = loop.time()
            await asyncio.sleep(TICK_S)
            late = loop.time() - before - TICK_S
            if late >= LATE_S:
                logger.warning("engine loop late", extra={"late_ms": round(late * 1000, 1)})
    finally:
        gc.callbacks.remove(on_gc)


async def _main(args: argparse.Namespace, settings: Any) -> int:
    stack = await EngineStack.start(
        settings, seat_ids(args.seats), args.seat_port, Path(args.run_dir), args.records, args.announce_every
    )
    watchdog = asyncio.create_task(_stall_watchdog())
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    why = ""

    def stop(reason: str) -> None:
        nonlocal why
        why = why or reason
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig.name)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    async def until_eof() -> None:
        await stdin.read()
        stop("standard input closed")

    watcher = asyncio.create_task(until_eof())
    import acd

    # Which checkout's code runs here: the bench and its engine must be the same code.
    logger.info("bench engine ready", extra={"code": str(Path(acd.__file__).resolve().parent.parent)})
    print("ready", flush=True)
    try:
        await done.wait()
        logger.info("bench engine stopping", extra={"why": why})
    finally:
        watchdog.cancel()
        faulthandler.cancel_dump_traceback_later()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voice.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, required=True, help="seats seatbench001... logged in ready")
    parser.add_argument("--seat-port", type=int, required=True, help="UDP port of the seat sipp")
    parser.add_argument("--run-dir", required=True, help="folder of the run (records.db goes there)")
    parser.add_argument("--no-records", dest="records", action="store_false", help="no interaction records")
    parser.add_argument("--announce-every", type=float, default=0.0, help="announcements every S s (0: none)")
    args = parser.parse_args(argv)
    # A crash in native code (the event loop, the JSON parser) leaves its stack in engine.log.
    faulthandler.enable()
    if args.seats < 1 or not 1 <= args.seat_port <= 65535:
        parser.error("--seats must be >= 1 and --seat-port a UDP port")
    from hotline.logs import setup_logging
    from hotline.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        setup_logging(settings.log_level)  # JSON lines, as `hotline run` writes them
        return aio.run(_main(args, settings), settings.event_loop)
    except (CommandError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
