"""Chats under faults: a real ``hotline run`` with web-chat and WeChat citizens and seats on it
for minutes, and a fault every 30-60 s chosen by a seed: the engine killed with SIGKILL and
started again, PostgreSQL cut away (every connection dropped, new ones refused) for 5-20 s, the
private Redis killed and started again after 2-8 s, WeChat's API (the bench's strict stand-in,
``channels.wechat_standin``) answering 503 for 20-40 s. The same load runs first without faults
(the baseline).

WeChat citizens push signed XML to the engine's webhook as WeChat's servers do: a try waits 5 s
for ``success``, and after three tries WeChat drops the message (a loss, counted as any other).
The seats' answers reach them through the stand-in's customer-service API (the engine tries again
what WeChat refused).

Citizens arrive at random; each opens a chat, writes ``--messages`` messages a few seconds apart
(each sent again under the same id until the engine acknowledges it, as the widget does) and waits
for the seat's answer to each. Seats accept what they are offered and answer every message (sent
again under the same id until acknowledged); after a reconnection they sign in again and read the
history of the chats they hold. At the end every message acknowledged must be stored once and have
reached the other side (live or in the history read after a reconnection), and every chat must
have reached a seat, one seat: anything else is listed under ``losses`` and the command exits 1.

Citizens also call 12345 on the sandbox Asterisk (``bench/chaos_voice.py``): sipp callers who
stay ``--hold`` seconds and hang up, cloud seats signed in for calls only whose phones answer
behind the trunk; one more fault kills Asterisk with SIGKILL and starts it again. Every call
Asterisk answered must be stored once and ended; the 15-second rate is reported for both runs.
Without sipp or a sandbox Asterisk the voice load and its fault are skipped, and said so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench._faults import PrivateRedis, Relay, free_port
from bench._haproxy import until_checked
from bench.voice.measure import cpu_seconds, per_call_ms

CHECKOUT = Path(__file__).resolve().parents[1]
HOTLINE = [sys.executable, "-P", "-c", "import sys; from hotline.cli import main; sys.exit(main())"]
PASSWORD = "chaos-password-1234"
FAULTS = ("engine", "postgres", "redis", "wechat", "asterisk")
WECHAT = {"token": "chaos-token", "app_id": "wxchaos0000000001", "app_secret": "chaos-app-secret"}
HOOK = "/wechat/webhook"
TEXTS = ("v", "w")  # web citizens' messages start with v, WeChat citizens' with w


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of load with faults (and as many without)")
    p.add_argument("--seed", type=int, default=1, help="chooses the faults, their times and the citizens")
    p.add_argument("--arrivals-per-min", type=float, default=30.0, help="citizens opening a chat per minute")
    p.add_argument("--messages", type=int, default=4, help="messages each citizen writes")
    p.add_argument("--seats", type=int, default=8, help="seats answering chats (signed in for chats only)")
    p.add_argument("--calls-per-min", type=float, default=6.0, help="citizens calling 12345 per minute (0: no voice)")
    p.add_argument("--voice-seats", type=int, default=6, help="seats answering calls (cloud seats, calls only)")
    p.add_argument("--hold", default="20:40", help="seconds a caller stays on the line in all, FROM:TO (uniform)")
    p.add_argument("--wechat-share", type=float, default=0.5, help="share of citizens writing through WeChat")
    p.add_argument("--fault-every", default="30:60", help="seconds between faults, FROM:TO (uniform)")
    p.add_argument("--faults", default=",".join(FAULTS), help="kinds to choose from: " + ", ".join(FAULTS))
    p.add_argument(
        "--db-url", default="", help="a PostgreSQL server to create the run's database on (default: DATABASE_URL)"
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the run without faults")
    p.add_argument("--drain", type=float, default=60.0, help="seconds to wait for answers after the load")
    p.add_argument("--keep", action="store_true", help="keep each run's folder (the engine's logs) and say where")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from hotline.errors import CommandError

    kinds = [k.strip() for k in args.faults.split(",") if k.strip()]
    if not set(kinds) <= set(FAULTS) or not kinds:
        raise CommandError(f"--faults: choose among {', '.join(FAULTS)}")
    lo, _, hi = args.fault_every.partition(":")
    try:
        every = (float(lo), float(hi or lo))
    except ValueError:
        raise CommandError("--fault-every: FROM:TO in seconds") from None
    if not 1 <= every[0] <= every[1] or args.minutes <= 0 or args.seats < 1 or args.messages < 1:
        raise CommandError("--minutes, --seats and --messages must be positive, --fault-every FROM <= TO")
    if not 0 <= args.wechat_share <= 1:
        raise CommandError("--wechat-share: between 0 and 1")
    lo, _, hi = args.hold.partition(":")
    try:
        args.hold_s = (float(lo), float(hi or lo))
    except ValueError:
        raise CommandError("--hold: FROM:TO in seconds") from None
    if not 5 <= args.hold_s[0] <= args.hold_s[1] or args.calls_per_min < 0 or args.voice_seats < 1:
        raise CommandError("--hold: 5 <= FROM <= TO; --calls-per-min >= 0; --voice-seats >= 1")
    return asyncio.run(_main(args, kinds, every))


async def _main(args: argparse.Namespace, kinds: list[str], every: tuple[float, float]) -> dict[str, Any]:
    from rich.console import Console

    from hotline.commands.bench import machine

    console = Console(stderr=True)
    out: dict[str, Any] = {"minutes": args.minutes, "seed": args.seed, "seats": args.seats}
    skipped: dict[str, str] = {}
    voice: Any = None
    if args.calls_per_min > 0:
        from bench import chaos_voice
        from hotline.settings import load_settings

        voice = load_settings()
        why = chaos_voice.unavailable(voice)
        if why:
            skipped["voice"] = why
            voice = None
        else:
            out.update(voice_seats=args.voice_seats, calls_per_min=args.calls_per_min)
    if voice is None and "asterisk" in kinds:
        skipped["asterisk"] = skipped.get("voice", "no voice load (--calls-per-min 0)")
    baseline: dict[str, Any] | None = None
    if not args.no_baseline:
        console.print(f"chaos: {args.minutes:g} min without faults (the baseline)")
        baseline = await _one_run(args, [], every, skipped, console, voice, "1380")
    console.print(f"chaos: {args.minutes:g} min with a fault every {every[0]:g}-{every[1]:g} s ({', '.join(kinds)})")
    faulted = await _one_run(args, kinds, every, skipped, console, voice, "1381")
    out.update({k: v for k, v in faulted.items() if k != "losses"})
    out["faults_skipped"] = skipped
    out["first_reply_60s_no_faults"] = baseline["first_reply_60s"] if baseline else None
    out["sl15_no_faults"] = baseline.get("sl15") if baseline else None
    out["losses"] = faulted["losses"] + (baseline["losses"] if baseline else [])
    out["load_average"] = round(os.getloadavg()[0], 2)
    out["machine"] = machine()
    return out


@dataclass
class Ledger:
    """What was sent, acknowledged and seen, by message text (each text is unique)."""

    acked_in: dict[str, float] = field(default_factory=dict)  # citizen's text -> acknowledged at
    acked_out: dict[str, float] = field(default_factory=dict)  # seat's text -> acknowledged at
    seen_by_seat: set[str] = field(default_factory=set)
    seen_by_citizen: set[str] = field(default_factory=set)
    accepted: Counter[str] = field(default_factory=Counter)  # contact -> offers accepted
    first_ack: dict[str, float] = field(default_factory=dict)  # contact -> its first message's ack
    first_reply: dict[str, float] = field(default_factory=dict)  # contact -> first answer seen
    contact_of: dict[str, str] = field(default_factory=dict)  # citizen's text -> contact
    gave_up: list[str] = field(default_factory=list)  # never acknowledged in 2 minutes (told to the sender)
    acks_after: list[float] = field(default_factory=list)  # every acknowledgement's time
    wechat_read: int = 0  # how much of the WeChat stand-in's sent list the ledger has read
    wechat_received: Counter[str] = field(default_factory=Counter)  # reply -> times WeChat took it


def _cid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


async def _call(sio: socketio.AsyncClient, ns: str, event: str, data: dict[str, Any]) -> dict[str, Any] | None:
    if not sio.connected:
        return None
    try:
        ack = await sio.call(event, data, namespace=ns, timeout=10)
    except Exception:  # timed out, disconnected meanwhile: the caller tries again
        return None
    return ack if isinstance(ack, dict) else None


class Seat:
    def __init__(
        self, base: str, name: str, token: str, ledger: Ledger, messages: int, media: str = "chat", n: int = 0
    ) -> None:
        self.base, self.name, self.ledger, self.messages = base, name, ledger, messages
        # Its desk's address on the centre's network (said in X-Forwarded-For as the citizens say
        # theirs): hundreds of seats from 127.0.0.1 would pass the edge's connections per address.
        self.address = f"172.16.{(n >> 8) & 255}.{n & 255}"
        self.media = media  # chat: a seat for chats only; voice: a cloud seat for calls only
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2)
        self.token = token
        self.answering: set[str] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.sio.on("connect", self._connected, namespace="/agent")
        # As the console's page: told to read again (a web gateway's new engine, Redis back), it
        # signs in again if it must and reads its chats again.
        self.sio.on("resync", self._resync, namespace="/agent")
        self.sio.on("offer", self._offer, namespace="/agent")
        self.sio.on("chat_message", self._message, namespace="/agent")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def open(self) -> None:
        await self.sio.connect(
            self.base,
            namespaces=["/agent"],
            auth={"token": self.token},
            transports=["websocket"],
            wait_timeout=10,
            headers={"X-Forwarded-For": self.address},
        )

    async def _connected(self) -> None:
        self._spawn(self._sign_in())

    async def _resync(self, _data: Any = None) -> None:
        self._spawn(self._sign_in())

    async def _sign_in(self) -> None:
        for _ in range(60):
            ack = await _call(self.sio, "/agent", "login", {"phone": "external", "ready": True, "media": self.media})
            if ack is not None and (ack.get("ok") or "已签入" in str(ack.get("error", ""))):
                break
            await asyncio.sleep(1.0)
        if self.media == "voice":
            return
        state = await _call(self.sio, "/agent", "state", {})
        for contact in (state or {}).get("chats", []) or []:
            await self.catch_up(contact)

    async def catch_up(self, contact: str) -> None:
        """Read the chat's history (what a push missed during a reconnection) and answer it."""
        ack = await _call(self.sio, "/agent", "chat_history", {"contact_id": contact})
        for m in (ack or {}).get("messages", []) or []:
            text = str((m.get("body") or {}).get("text", ""))
            if m.get("direction") == "in" and text.startswith(TEXTS):
                self._seen(contact, text)

    def _offer(self, data: dict[str, Any]) -> None:
        self._spawn(self._accept(str(data.get("contact_id", ""))))

    async def _accept(self, contact: str) -> None:
        ack = await _call(self.sio, "/agent", "accept", {"contact_id": contact})
        if ack is not None and ack.get("ok"):
            if self.media == "voice":
                return  # the phone rings now; the call is counted in the stored interactions
            self.ledger.accepted[contact] += 1
            await self.catch_up(contact)

    def _message(self, data: dict[str, Any]) -> None:
        text = str(((data.get("message") or {}).get("body") or {}).get("text", ""))
        if text.startswith(TEXTS):
            self._seen(str(data.get("contact_id", "")), text)

    def _seen(self, contact: str, text: str) -> None:
        self.ledger.seen_by_seat.add(text)
        if text not in self.answering:
            self.answering.add(text)
            self._spawn(self._answer(contact, text))

    async def _answer(self, contact: str, text: str) -> None:
        reply = "re:" + text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ack = await _call(
                self.sio, "/agent", "chat_send", {"contact_id": contact, "text": reply, "cid": _cid(reply)}
            )
            if ack is not None and ack.get("ok"):
                self.ledger.acked_out[reply] = time.monotonic()
                if text.startswith("w") and text.split(" ", 1)[0].endswith(f"m{self.messages - 1}"):
                    await self._end(contact)  # a WeChat citizen does not end the chat: its seat does
                return
            if ack is not None and "结束" in str(ack.get("error", "")):
                return  # the citizen left meanwhile
            await asyncio.sleep(1.0)

    async def _end(self, contact: str) -> None:
        for _ in range(30):
            ack = await _call(self.sio, "/agent", "hangup", {"contact_id": contact})
            if ack is not None:  # ended, or no longer this seat's (ended by a restart's reconciliation)
                return
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


class Citizen:
    def __init__(self, base: str, n: int, ledger: Ledger, rng: random.Random, messages: int) -> None:
        self.base, self.n, self.ledger, self.rng, self.messages = base, n, ledger, rng, messages
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2)
        self.contact = ""
        self.replies: dict[str, asyncio.Event] = {}
        self.sio.on("message", self._message, namespace="/visitor")
        self.sio.on("connect", self._connected, namespace="/visitor")
        self.sio.on("resync", self._resync, namespace="/visitor")  # as the chat page: hello again
        self.address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        self.hello_task: asyncio.Task[Any] | None = None

    def _message(self, data: dict[str, Any]) -> None:
        text = str(data.get("text", ""))
        if text.startswith("re:"):
            self._answered(text)

    def _answered(self, reply: str) -> None:
        self.ledger.seen_by_citizen.add(reply)
        if self.contact and self.contact not in self.ledger.first_reply:
            self.ledger.first_reply[self.contact] = time.monotonic()
        event = self.replies.get(reply[3:])
        if event is not None:
            event.set()

    async def _resync(self, _data: Any = None) -> None:
        if self.hello_task is None or self.hello_task.done():
            self.hello_task = asyncio.create_task(self._hello_again())

    async def _connected(self) -> None:
        if self.sio.connection_auth:  # a reconnection: read the chat again (what a push missed)
            self.hello_task = asyncio.create_task(self._hello_again())

    async def _hello_again(self) -> None:
        """As the widget does after a reconnection: ask until the engine answers (the client says
        it is connected only after this handler, and an engine just started or a database away
        answers no for a while). Once, it was asked before the client counted itself connected,
        never again, and an answer sent while the page was away never reached it."""
        for _ in range(60):
            if await self._hello():
                return
            await asyncio.sleep(1.0)

    async def _hello(self) -> bool:
        ack = await _call(self.sio, "/visitor", "hello", {})
        if ack is None or not ack.get("ok"):
            return False
        self.sio.connection_auth = {"visitor": ack["token"]}
        for m in (ack.get("conversation") or {}).get("messages") or []:
            text = str(m.get("text", ""))
            if text.startswith("re:"):
                self._answered(text)
        return True

    async def run(self) -> None:
        deadline = time.monotonic() + 120
        while True:  # the page keeps trying to connect while the engine is down (a restart)
            try:
                await self.sio.connect(
                    self.base,
                    namespaces=["/visitor"],
                    transports=["websocket"],
                    headers={"X-Forwarded-For": self.address},
                    wait_timeout=10,
                )
                break
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    self.ledger.gave_up.append(f"v{self.n}: could not connect")
                    return
                await asyncio.sleep(1.0)
        for _ in range(120):
            if await self._hello():
                break
            await asyncio.sleep(1.0)
        for k in range(self.messages):
            text = f"v{self.n}m{k} 小区路灯不亮"
            self.replies[text] = asyncio.Event()
            if not await self._send(text):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.replies[text].wait(), 45)
            await asyncio.sleep(self.rng.uniform(1.0, 4.0))
        for _ in range(120):  # the citizen ends the chat: the seat's place is free for the next
            ack = await _call(self.sio, "/visitor", "end", {})
            if ack is not None and (ack.get("ok") or "没有找到" in str(ack.get("error", ""))):
                return
            await asyncio.sleep(1.0)

    async def _send(self, text: str) -> bool:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ack = await _call(self.sio, "/visitor", "message", {"text": text, "cid": _cid(text)})
            if ack is not None and ack.get("ok"):
                now = time.monotonic()
                self.contact = f"webchat-{ack['conversation']}"
                self.ledger.acked_in[text] = now
                self.ledger.acks_after.append(now)
                self.ledger.contact_of[text] = self.contact
                self.ledger.first_ack.setdefault(self.contact, now)
                return True
            await asyncio.sleep(1.0)
        self.ledger.gave_up.append(text)
        return False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


class WeChatCitizen:
    """A citizen writing to the city's official account: WeChat's servers push each message to the
    engine (three tries of 5 s, then dropped); the answers come back through the API stand-in."""

    def __init__(
        self, base: str, n: int, ledger: Ledger, rng: random.Random, messages: int, standin: Any, ids: Any
    ) -> None:
        self.base, self.n, self.ledger, self.rng, self.messages = base, n, ledger, rng, messages
        self.standin, self.ids = standin, ids
        self.openid = f"o_chaos_{n}"

    async def run(self) -> None:
        async with aiohttp.ClientSession() as http:
            for k in range(self.messages):
                text = f"w{self.n}m{k} 井盖丢失"
                self.standin.user_wrote(self.openid)  # what WeChat learns: its reply window opens
                if not await self._push(http, text, next(self.ids)):
                    return
                deadline = time.monotonic() + 45
                while time.monotonic() < deadline and not _answered_on_wechat(self.ledger, self.standin, "re:" + text):
                    await asyncio.sleep(0.2)
                await asyncio.sleep(self.rng.uniform(1.0, 4.0))

    async def _push(self, http: aiohttp.ClientSession, text: str, msg_id: int) -> bool:
        body = (
            f"<xml><ToUserName><![CDATA[gh_chaos]]></ToUserName><FromUserName><![CDATA[{self.openid}]]>"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
        ).encode()
        for _ in range(3):  # WeChat's tries: each waits 5 s for an answer
            started = time.monotonic()
            try:
                async with http.post(
                    self.base + HOOK, params=_signed(), data=body, timeout=aiohttp.ClientTimeout(total=5)
                ) as r:
                    ok = r.status == 200 and (await r.text()) in ("success", "")
            except (aiohttp.ClientError, TimeoutError, OSError):
                ok = False
            if ok:
                now = time.monotonic()
                self.ledger.acked_in[text] = now
                self.ledger.acks_after.append(now)
                self.ledger.contact_of[text] = self.openid
                self.ledger.first_ack.setdefault(self.openid, now)
                return True
            await asyncio.sleep(max(0.0, 5.0 - (time.monotonic() - started)))
        self.ledger.gave_up.append(f"{text} (WeChat dropped it after three tries)")
        return False


def _signed() -> dict[str, str]:
    from wechatpy.utils import WeChatSigner

    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:16]
    signer = WeChatSigner()
    signer.add_data(WECHAT["token"], timestamp, nonce)
    return {"signature": str(signer.signature), "timestamp": timestamp, "nonce": nonce}


def _answered_on_wechat(ledger: Ledger, standin: Any, reply: str) -> bool:
    """Reads what the stand-in's API took since the last look into the ledger; ``reply`` among it?"""
    sent = standin.sent
    while ledger.wechat_read < len(sent):
        body = sent[ledger.wechat_read]
        ledger.wechat_read += 1
        content = str((body.get("text") or {}).get("content", ""))
        if content.startswith("re:w"):
            ledger.seen_by_citizen.add(content)
            ledger.wechat_received[content] += 1
            openid = str(body.get("touser", ""))
            ledger.first_reply.setdefault(openid, time.monotonic())
    return reply in ledger.seen_by_citizen


class Engine:
    """``hotline run --no-asterisk`` on its own data folder and port; killed and started again."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.port = folder, free_port()
        self.env = {**env, "HOTLINE_HTTP__PORT": str(self.port)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> float:
        self.starts += 1
        log = self.folder / f"engine-{self.starts}.log"
        started = time.monotonic()
        with log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [*HOTLINE, "run", "--no-asterisk"], env=self.env, cwd=self.folder, stdout=fh, stderr=subprocess.STDOUT
            )
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("the engine stopped: " + log.read_text()[-1500:])
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(f"{self.base}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return time.monotonic() - started
                if time.monotonic() - started > 90:
                    raise RuntimeError("the engine did not answer /healthz within 90 s")
                await asyncio.sleep(0.1)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.kill9()


class Pair:
    """Two engines in cluster mode on the run's database, behind a real HAProxy that sends
    everything to the one whose ``/cluster/active`` answers 200 (``hotline bench failover``).
    ``base`` is HAProxy's address: citizens and seats never know which engine serves them."""

    def __init__(self, folder: Path, env: dict[str, str], gateways: int = 0) -> None:
        self.folder = folder
        cluster = {
            "HOTLINE_CLUSTER__ENABLED": "true",
            # One secret for both: a login or a citizen's token made by one is good on the other.
            "HOTLINE_SECRET_KEY": env.get("HOTLINE_SECRET_KEY") or uuid.uuid4().hex * 2,
            "HOTLINE_CLUSTER__RELAY_SECRET": uuid.uuid4().hex,
        }
        self.engines: list[Engine] = []
        for name in ("a", "b"):
            (folder / name / "data").mkdir(parents=True)
            own = {
                **env,
                **cluster,
                "HOTLINE_CLUSTER__NODE": f"engine-{name}",
                "HOTLINE_DATA_DIR": str(folder / name / "data"),
            }
            self.engines.append(Engine(folder / name, own))
        # Web gateways (hotline/relay.py): the sockets go to them, the pages and the API to the
        # active engine; a kill cuts no socket.
        self.gateways: list[Engine] = []
        for n in range(gateways):
            (folder / f"g{n + 1}").mkdir(parents=True)
            own = {
                **env,
                **cluster,
                "HOTLINE_CLUSTER__ENABLED": "false",
                "HOTLINE_CLUSTER__ROLE": "gateway",
                "HOTLINE_CLUSTER__NODE": f"g{n + 1}",
                "HOTLINE_CLUSTER__ENGINES": json.dumps([e.base for e in self.engines]),
            }
            self.gateways.append(Engine(folder / f"g{n + 1}", own))
        self.port = free_port()
        self.stats = f"127.0.0.1:{free_port()}"  # HAProxy's stats page: its own view of the engines
        self.proxy: subprocess.Popen[bytes] | None = None
        # As systemd's Restart=always does: an engine that ended on its own (exit 75 when fenced)
        # is started again as a standby. Each such end is kept and reported, never hidden.
        self.unplanned_exits: list[dict[str, Any]] = []
        self._started = 0.0
        self._turn = asyncio.Lock()  # a kill and a restart never start one engine together
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> float:
        started = time.monotonic()
        first, second = self.engines
        await first.start()
        await self._until_active(first.base, 60)
        await second.start()
        await asyncio.gather(*(g.start() for g in self.gateways))
        cfg = self.folder / "haproxy.cfg"
        out = subprocess.run(
            # The citizens play a city gateway in front (each says its own address in
            # X-Forwarded-For): kept, as from the real one; without it every citizen would be
            # 127.0.0.1 and the per-address limits would refuse most of them.
            [*HOTLINE, "cluster", "haproxy", "--listen", f"127.0.0.1:{self.port}", "--front", "127.0.0.1"]
            + ["--stats", self.stats]
            + [arg for e in self.engines for arg in ("--engine", f"127.0.0.1:{e.port}")]
            + [arg for g in self.gateways for arg in ("--gateway", f"{g.folder.name}=127.0.0.1:{g.port}")],
            capture_output=True,
            text=True,
            timeout=60,
            env=first.env,
        )
        if out.returncode != 0:
            raise RuntimeError(f"hotline cluster haproxy failed: {out.stderr[-500:]}")
        cfg.write_text(out.stdout)
        with (self.folder / "haproxy.log").open("wb") as fh:
            self.proxy = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=fh, stderr=subprocess.STDOUT)
        await self._until_active(self.base, 30)
        # Until HAProxy has checked the standby it may send it a request (HAProxy starts every
        # server UP): the run starts with the standby passed by.
        async with aiohttp.ClientSession() as http:
            await until_checked(http, self.stats, {f"127.0.0.1:{first.port}"})
            if self.gateways:
                await until_checked(http, self.stats, {g.folder.name for g in self.gateways}, backend="gateways")
        self._started = time.monotonic()
        self._supervisor = asyncio.create_task(self._supervise())
        return time.monotonic() - started

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for engine in self.engines:
                if engine.proc is None or engine.proc.poll() is None:
                    continue
                async with self._turn:
                    if engine.proc.poll() is None:  # a kill's restart came first
                        continue
                    self.unplanned_exits.append(
                        {
                            "engine": engine.folder.name,
                            "exit": engine.proc.returncode,
                            "at_s": round(time.monotonic() - self._started, 1),
                            "log": f"{engine.folder}/engine-{engine.starts}.log",
                        }
                    )
                    await engine.start()

    async def _until_active(self, base: str, wait_s: float) -> float:
        """Seconds until ``base`` answers ``/cluster/active`` with 200 (asked every 20 ms)."""
        t0 = time.monotonic()
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - t0 < wait_s:
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(f"{base}/cluster/active", timeout=aiohttp.ClientTimeout(total=0.5)) as r:
                        if r.status == 200:
                            return time.monotonic() - t0
                await asyncio.sleep(0.02)
        raise RuntimeError(f"{base} was not active within {wait_s:g} s")

    async def active(self) -> Engine:
        async with aiohttp.ClientSession() as http:
            for engine in self.engines:
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(f"{engine.base}/cluster/active", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return engine
        raise RuntimeError("no engine is active")

    async def fail_over(self) -> dict[str, Any]:
        """kill -9 of the active engine; the seconds until the other answers as active, directly
        and through HAProxy; the killed one started again as the new standby."""
        async with self._turn:
            return await self._fail_over()

    async def _fail_over(self) -> dict[str, Any]:
        victim = await self.active()
        other = next(e for e in self.engines if e is not victim)
        victim.kill9()
        t0 = time.monotonic()
        try:
            await self._until_active(other.base, 30)
        except RuntimeError as exc:  # say what the standby was doing, not only that it did not come
            log = other.folder / f"engine-{other.starts}.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else "(no log)"
            state = "running" if other.proc is not None and other.proc.poll() is None else "stopped"
            raise RuntimeError(f"{exc}; the standby is {state}; its log ends: {tail}") from None
        takeover = time.monotonic() - t0
        await self._until_active(self.base, 30)
        behind_proxy = time.monotonic() - t0
        standby_s = await victim.start()
        return {
            "killed": victim.folder.name,
            "takeover_s": round(takeover, 3),
            "takeover_haproxy_s": round(behind_proxy, 3),
            "standby_back_s": round(standby_s, 2),
        }

    def kill9(self) -> None:
        raise RuntimeError("a pair is failed over (fail_over), not killed whole")

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(BaseException):
                await self._supervisor
        await asyncio.gather(*(e.stop() for e in [*self.gateways, *self.engines]))
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.proxy.wait, 10)


async def _database(server: str, folder: Path) -> tuple[str, str, Any]:
    """(the engine's URL, the direct URL, a drop function): a fresh PostgreSQL database on
    ``server`` when it names one, else a SQLite file."""
    if not server.startswith("postgresql"):
        url = f"sqlite+aiosqlite:///{folder / 'hotline.db'}"

        async def nothing() -> None:
            return None

        return url, url, nothing
    import asyncpg

    dsn = server.replace("postgresql+asyncpg://", "postgresql://")
    name = f"hotline_chaos_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(dsn, timeout=10)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = dsn.rsplit("/", 1)[0]
    direct = f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}"

    async def drop() -> None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    return direct, direct, drop


async def _accounts(url: str, seats: list[str], phones: dict[str, str]) -> None:
    """The seats' accounts; those in ``phones`` (seat -> number) are cloud seats reached there."""
    import datetime as dt

    from agent_console.models import SeatProfile
    from hotline.auth import create_account
    from hotline.migrate import upgrade
    from hotline.storage import make_engine, make_sessionmaker

    await upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        for name in [*seats, *phones]:
            await create_account(sessions, name, "seat", PASSWORD)
        async with sessions() as s, s.begin():
            for name, number in phones.items():
                s.add(
                    SeatProfile(
                        seat_id=name,
                        skills={"general": 2},
                        groups=[],
                        kind="onsite",  # routed as a seat on site; its phone is reached through the trunk
                        phone="external",
                        number=number,
                        updated_at=dt.datetime.now(dt.UTC),
                        updated_by="bench-chaos",
                    )
                )
    finally:
        await engine.dispose()


async def _stored(url: str) -> Counter[str]:
    from sqlalchemy import select

    from channels.models import ChannelMessage
    from hotline.storage import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(ChannelMessage.body))
            return Counter(str((body or {}).get("text", "")) for (body,) in rows)
    finally:
        await engine.dispose()


async def _one_run(
    args: argparse.Namespace,
    kinds: list[str],
    every: tuple[float, float],
    skipped: dict[str, str],
    console: Any,
    voice_settings: Any = None,
    prefix: str = "1380",
    kill_times: list[float] | None = None,
) -> dict[str, Any]:
    """One run of the load; ``kill_times`` (seconds into the load): two engines behind HAProxy
    instead of one, the active one killed at each of those moments (``bench failover``)."""
    from rich.progress import Progress

    from bench import chaos_voice

    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="hotline-bench-chaos-"))
    server = args.db_url or os.environ.get("DATABASE_URL", "")
    url, direct, drop = await _database(server, folder)
    relay: Relay | None = None
    # The relay (in this process, to cut the database link) only when that fault is chosen: it
    # shares this process's event loop with the load, and a lease renewed through it timed out
    # when the loop was busy starting the citizens (the failover bench's active fenced for nothing).
    if url.startswith("postgresql") and "postgres" in kinds:
        host, port = url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
        relay = Relay(host, int(port))
        await relay.mend()
        url = url.replace(f"@{host}:{port}/", f"@127.0.0.1:{relay.port}/")
    elif "postgres" in kinds:
        skipped["postgres"] = "the database is SQLite (give --db-url or DATABASE_URL a PostgreSQL server)"
    redis: PrivateRedis | None = None
    if shutil.which("redis-server"):
        (folder / "redis").mkdir()
        redis = PrivateRedis(folder / "redis")
        redis.start()
    elif "redis" in kinds:
        skipped["redis"] = "no redis-server on this machine"
    usable = [k for k in kinds if k not in skipped]
    seats = [f"c{n:03d}" for n in range(args.seats)]
    phones = {f"t{n:03d}": chaos_voice.seat_number(n) for n in range(args.voice_seats)} if voice_settings else {}
    await _accounts(direct, seats, phones)
    (folder / "data").mkdir()
    # ``--asterisks 2`` (bench failover): the callers dial two sandbox instances peered by the
    # trunk (bench/_servers.py), the engines drive both; the seats' phone is behind both trunks.
    pair_stack = contextlib.AsyncExitStack()
    servers: dict[str, Any] = {}
    trunk_port = 0
    voice_env = chaos_voice.engine_env(voice_settings) if voice_settings else {}
    if voice_settings is not None and getattr(args, "asterisks", 1) == 2:
        from bench import _servers
        from bench.voice.sipp import free_udp_port

        trunk_port = free_udp_port()
        with console.status("two Asterisk servers starting (e and f, peered by the trunk)"):
            servers = await pair_stack.enter_async_context(
                _servers.peered_pair(voice_settings, {"e": trunk_port, "f": trunk_port}, pair=_servers.PEERED_EF)
            )
        voice_env = servers["e"].engine_env([servers["f"].as_peer("e")], chaos_voice.FLOW, uuid.uuid4().hex * 2)
    standin, standin_runner, standin_url = await _wechat_standin()
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(folder / "data"),
        "DATABASE_URL": url,
        "REDIS_URL": redis.url if redis else "",
        "HOTLINE_ASTERISK__VOICE": "false",
        "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        "HOTLINE_WECHAT__TOKEN": WECHAT["token"],
        "HOTLINE_WECHAT__APP_ID": WECHAT["app_id"],
        "HOTLINE_WECHAT__APP_SECRET": WECHAT["app_secret"],
        "HOTLINE_WECHAT__API_BASE_URL": standin_url,
        "PYTHONPATH": str(CHECKOUT),
        **voice_env,
    }
    engine: Engine | Pair = (
        Engine(folder, env) if kill_times is None else Pair(folder, env, getattr(args, "gateways", 0))
    )
    calls = (
        chaos_voice.VoiceLoad(
            voice_settings,
            folder,
            prefix,
            targets=[(name, server.sip_target) for name, server in servers.items()],
            trunk_port=trunk_port,
        )
        if voice_settings
        else None
    )
    ledger = Ledger()
    faults: list[dict[str, Any]] = []
    citizens: list[Citizen | WeChatCitizen] = []
    seat_clients: list[Seat] = []
    msg_ids = itertools.count(int(time.time()) * 1000)
    try:
        await engine.start()
        if calls is not None:
            await calls.start_phones()
        async with aiohttp.ClientSession() as http:
            for n, name in enumerate([*seats, *phones]):
                async with http.post(f"{engine.base}/api/login", json={"username": name, "password": PASSWORD}) as r:
                    token = str((await r.json())["token"])
                media = "voice" if name in phones else "chat"
                seat = Seat(engine.base, name, token, ledger, args.messages, media, n)
                await seat.open()
                seat_clients.append(seat)
        length = args.minutes * 60
        # The pair's Asterisks' CPU over the load (greeting, queue prompt and hold music played to
        # each caller, its seat's leg over the trunk, the bridge): per call placed on each.
        asterisk_cpu = {name: cpu_seconds(server.pid()) for name, server in servers.items()}
        started = time.monotonic()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("citizens chatting" + (" under faults" if usable else ""), total=length)
            # The faults' own generator: the same seed gives the same faults whatever the load's timing.
            fault_rng = random.Random(f"faults-{args.seed}")
            if isinstance(engine, Pair):
                fault_task = asyncio.create_task(_kills(kill_times or [], engine, ledger, faults))
            else:
                fault_task = asyncio.create_task(
                    _faults(
                        usable, every, fault_rng, engine, relay, redis, standin, ledger, faults, length, voice_settings
                    )
                )
            running: list[asyncio.Task[None]] = []
            if calls is not None and getattr(args, "steady_calls", False):  # one sipp per server
                running.append(asyncio.create_task(calls.steady(args.calls_per_min, length, args.hold_s)))
            elif calls is not None:  # the callers' own generator: the same seed, the same calls
                running.append(asyncio.create_task(_callers(calls, args, random.Random(f"calls-{args.seed}"), length)))
            n = 0
            while (now := time.monotonic() - started) < length:
                progress.update(task, completed=now)
                own = random.Random(rng.random())
                citizen: Citizen | WeChatCitizen
                if rng.random() < args.wechat_share:
                    citizen = WeChatCitizen(engine.base, n, ledger, own, args.messages, standin, msg_ids)
                else:
                    citizen = Citizen(engine.base, n, ledger, own, args.messages)
                citizens.append(citizen)
                running.append(asyncio.create_task(_guarded(citizen)))
                n += 1
                await asyncio.sleep(rng.expovariate(args.arrivals_per_min / 60))
            await fault_task
            progress.update(task, description="the last citizens finishing", completed=length)
            await asyncio.wait(running, timeout=args.drain + 240)
            for leftover in running:
                leftover.cancel()
            asterisk_cpu = {name: (before, cpu_seconds(servers[name].pid())) for name, before in asterisk_cpu.items()}
        # Pages and consoles read what they hold once more, as after any reconnection.
        for citizen in citizens:
            if isinstance(citizen, Citizen):
                await citizen._hello()
        for seat in seat_clients:
            state = await _call(seat.sio, "/agent", "state", {})
            for contact in (state or {}).get("chats", []) or []:
                await seat.catch_up(contact)
        settle = time.monotonic() + args.drain
        while time.monotonic() < settle and not _complete(ledger, standin):
            await asyncio.sleep(1.0)
        stored = await _stored(direct)
        out = _account(ledger, stored, faults, len(citizens), kinds)
        if isinstance(engine, Pair):
            out["unplanned_exits"] = list(engine.unplanned_exits)
        if calls is not None:
            await asyncio.sleep(1.0)  # the engine writes call records within a quarter second
            heard = chaos_voice.account(calls.calls, await chaos_voice.stored_calls(direct), prefix)
            out["losses"] += heard.pop("voice_losses")
            out["lost"] += heard["voice_lost"]
            out["doubled"] += heard["voice_doubled"]
            out["contacts"] += heard["calls_reached"]
            for name, (before, after) in asterisk_cpu.items():
                row = heard["calls_by_server"].get(name, {})
                row["asterisk_cpu_s"] = round(after - before, 2) if before is not None and after is not None else None
                row["asterisk_cpu_ms_per_call"] = per_call_ms(before, after, int(row.get("placed", 0)))
            out.update(heard)
        return out
    finally:
        if calls is not None:
            await calls.close()
        for client in [*citizens, *seat_clients]:
            if not isinstance(client, WeChatCitizen):
                await client.close()
        await engine.stop()
        await pair_stack.aclose()
        await standin_runner.cleanup()
        if relay is not None and relay.server is not None:
            await relay.cut()
        if redis is not None:
            redis.stop()
        await drop()
        if args.keep:
            console.print(f"chaos: the run's folder (logs, the SQLite file) kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


async def _callers(calls: Any, args: argparse.Namespace, rng: random.Random, length: float) -> None:
    """Citizens calling at random (Poisson) for the length of the load, each staying ``--hold``."""
    started = time.monotonic()
    placed: list[asyncio.Task[None]] = []
    while time.monotonic() - started < length:
        placed.append(asyncio.create_task(calls.call(rng.uniform(*args.hold_s))))
        await asyncio.sleep(rng.expovariate(args.calls_per_min / 60))
    await asyncio.gather(*placed)


async def _guarded(citizen: Citizen) -> None:
    """A citizen whose run failed is a loss line, never a silent end."""
    try:
        await citizen.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        citizen.ledger.gave_up.append(f"v{citizen.n}: {type(exc).__name__}: {exc}"[:200])


def _complete(ledger: Ledger, standin: Any) -> bool:
    _answered_on_wechat(ledger, standin, "")
    return set(ledger.acked_in) <= ledger.seen_by_seat and set(ledger.acked_out) <= ledger.seen_by_citizen


async def _wechat_standin() -> tuple[Any, Any, str]:
    """WeChat's API as the engine sees it (tokens, the customer-service send): it outlives the
    engine's kills, as WeChat's servers do."""
    from aiohttp import web

    from channels.wechat_standin import StandInState, build_standin

    state = StandInState(WECHAT["app_id"], WECHAT["app_secret"])
    state.quota = 1000  # the bench's citizens get one answer a message; WeChat's own limit is not under test
    runner = web.AppRunner(build_standin(state))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return state, runner, f"http://127.0.0.1:{port}"


async def _faults(
    kinds: list[str],
    every: tuple[float, float],
    rng: random.Random,
    engine: Engine,
    relay: Relay | None,
    redis: PrivateRedis | None,
    standin: Any,
    ledger: Ledger,
    faults: list[dict[str, Any]],
    length: float,
    voice_settings: Any = None,
) -> None:
    """One fault at a time, each over before the next is chosen."""
    if not kinds:
        return
    started = time.monotonic()
    while True:
        await asyncio.sleep(rng.uniform(*every))
        at = time.monotonic() - started
        if at >= length - 10:
            return
        kind = rng.choice(kinds)
        entry: dict[str, Any] = {"at_s": round(at, 1), "kind": kind}
        t0 = time.monotonic()
        if kind == "engine":
            engine.kill9()
            entry["restart_s"] = round(await engine.start(), 2)
            entry["recovery_s"] = await _first_ack_after(ledger, t0)
        elif kind == "postgres":
            assert relay is not None
            await relay.cut()
            entry["down_s"] = round(rng.uniform(5, 20), 1)
            await asyncio.sleep(entry["down_s"])
            await relay.mend()
        elif kind == "asterisk":
            from bench.chaos_voice import kill_asterisk

            entry["restart_s"] = await kill_asterisk(voice_settings)
        elif kind == "redis":
            assert redis is not None
            redis.kill9()
            entry["down_s"] = round(rng.uniform(2, 8), 1)
            await asyncio.sleep(entry["down_s"])
            redis.start()
        else:  # WeChat's API answers 503 to everything for a while
            entry["down_s"] = round(rng.uniform(20, 40), 1)
            standin.down_until = standin.now + entry["down_s"]
            await asyncio.sleep(entry["down_s"])
        faults.append(entry)


async def _kills(at: list[float], pair: Pair, ledger: Ledger, faults: list[dict[str, Any]]) -> None:
    """The active engine killed at each moment of ``at`` (seconds from the load's start)."""
    started = time.monotonic()
    for moment in sorted(at):
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        entry: dict[str, Any] = {"at_s": round(time.monotonic() - started, 1), "kind": "failover"}
        t0 = time.monotonic()
        entry.update(await pair.fail_over())
        entry["recovery_s"] = await _first_ack_after(ledger, t0)
        faults.append(entry)


async def _first_ack_after(ledger: Ledger, t0: float, wait_s: float = 60.0) -> float | None:
    """Seconds from the kill to the first citizen's message acknowledged by the new engine."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        later = [t for t in ledger.acks_after[-200:] if t > t0]
        if later:
            return round(min(later) - t0, 2)
        await asyncio.sleep(0.05)
    return None


def _account(
    ledger: Ledger, stored: Counter[str], faults: list[dict[str, Any]], citizens: int, kinds: list[str]
) -> dict[str, Any]:
    losses: list[str] = []
    lost = doubled = 0
    for text in sorted(ledger.acked_in):
        contact = ledger.contact_of.get(text, "?")
        if stored[text] == 0:
            losses.append(f"{contact}: citizen's message {text!r} acknowledged but not stored")
            lost += 1
        elif text not in ledger.seen_by_seat:
            losses.append(f"{contact}: citizen's message {text!r} stored but never reached a seat")
            lost += 1
    for text in sorted(ledger.acked_out):
        if stored[text] == 0:
            losses.append(f"seat's message {text!r} acknowledged but not stored")
            lost += 1
        elif text not in ledger.seen_by_citizen:
            losses.append(f"seat's message {text!r} stored but never reached the citizen")
            lost += 1
    for text in sorted(ledger.gave_up):
        losses.append(f"citizen's message {text!r} not acknowledged in 120 s of trying")
        lost += 1
    for text, count in sorted(stored.items()):
        if count > 1 and text.startswith((*TEXTS, "re:v", "re:w")):
            losses.append(f"message {text!r} stored {count} times")
            doubled += 1
    for text, count in sorted(ledger.wechat_received.items()):
        if count > 1:
            losses.append(f"seat's message {text!r} reached the WeChat citizen {count} times")
            doubled += 1
    contacts = set(ledger.first_ack)
    for contact, times in sorted(ledger.accepted.items()):
        if times > 1:
            losses.append(f"{contact}: accepted by a seat {times} times")
            doubled += 1
    reached = {ledger.contact_of.get(t) for t in ledger.seen_by_seat}
    for contact in sorted(contacts - reached):
        losses.append(f"{contact}: never reached a seat")
        lost += 1
    waits = [ledger.first_reply[c] - ledger.first_ack[c] for c in contacts if c in ledger.first_reply]
    within = sum(1 for w in waits if w <= 60.0)
    recoveries = [f["recovery_s"] for f in faults if f.get("recovery_s") is not None]
    return {
        "faults": len(faults),
        "fault_kinds": dict(Counter(f["kind"] for f in faults)),
        "fault_log": faults,
        "citizens": citizens,
        "contacts": len(contacts),
        "messages": len(ledger.acked_in) + len(ledger.acked_out),
        "messages_wechat": sum(1 for t in (*ledger.acked_in, *ledger.acked_out) if t.startswith(("w", "re:w"))),
        "lost": lost,
        "doubled": doubled,
        "first_reply_60s": round(within / len(contacts), 4) if contacts else None,
        "first_reply_p50_s": round(statistics.median(waits), 2) if waits else None,
        "recovery_p50_s": round(statistics.median(recoveries), 2) if recoveries else None,
        "recovery_max_s": max(recoveries) if recoveries else None,
        "engine_faults_unrecovered": sum(1 for f in faults if f["kind"] == "engine" and f.get("recovery_s") is None),
        "losses": losses,
        "kinds_asked": kinds,
    }
