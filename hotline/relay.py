"""Web gateways: Socket.IO edges in processes of their own, relaying to the active engine.

A gateway (``cluster.role = "gateway"``) holds the sockets of seats, supervisors and web-chat
visitors: the Engine.IO transport, the heartbeats, the edge's limits (``hotline.sockets``) and
the JSON of every packet. It runs no namespace logic. Each connect, event and disconnect goes to
the active engine as one HTTP request (``POST /cluster/relay``, signed with the cluster's relay
secret); the engine runs the very namespace handlers its own sockets use, with the gateway's
socket ids, and the handler's answer comes back as the event's ack. What the engine sends to
those sockets (an emit, entering a room, a disconnect) goes through Redis with python-socketio's
own manager, to whichever gateway holds the socket. So a visitor on one gateway chats with a seat
on another, and any number of gateways stand behind a load balancer with sticky sessions.

The engine keeps, for each gateway's socket, the session and rooms python-socketio would keep
for one of its own (``RemoteSockets``). They live in the engine's memory: when the engine
changes (a takeover, a restart), the gateway hears a new engine id in the next answer or
heartbeat and connects each of its sockets again on the new engine (its cookie, its auth, its
address as the gateway saw them, and the session the old engine last had) before any further
event of that socket, then sends the page ``resync``: it reads again what it shows, and a seat's
console signs in again if the new engine has it signed out. The client's socket stays open: a
console neither reconnects nor reloads. A gateway silent past ``gateway_silent_s``
(gone, or cut off) has its sockets disconnected on the engine, as if each had hung up. The
heartbeat's answer says how many of the gateway's sockets the engine acts for: fewer than it holds
(twice running) and the gateway connects them again; more (a disconnect whose relay failed), and it
sends the engine the list it holds (a census), which lets go of the others.

What is relayed again is only what was not carried out: a refused connection (no engine
listening, a standby's 503) or an engine that no longer knows the socket (409). An event whose
request failed after it was sent is answered "busy" and never sent twice; the pages send again
with their own message ids (the web chat's ``cid``), which the engine deduplicates.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hmac
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import socketio
from aiohttp import web
from prometheus_client import Counter, Gauge
from socketio.packet import Packet

from hotline.guard import refuse

logger = logging.getLogger(__name__)

RELAY_PATH = "/cluster/relay"
SECRET_HEADER = "X-Hotline-Relay"
NAMESPACES = ("/agent", "/supervisor", "/visitor")
BUSY = {"ok": False, "error": "系统繁忙，请稍后重试"}
MAX_INFLIGHT = 8  # a socket's events on the way to the engine at once (a page sends one or two)
CONNECT_WAIT_S = 10.0
CENSUS_GRACE_S = 10.0  # a census leaves alone the sockets connected this recently  # an event waits this long for its socket's connect handler on the engine
RESYNC = "resync"  # what the pages take as "read again what you show" (hotline.redislink)

RELAYED = Counter(
    "hotline_relay_requests_total", "what this gateway relayed to the engine, by kind and outcome", ["kind", "outcome"]
)
REMOTE = Gauge("hotline_relay_remote_sockets", "gateways' sockets this engine acts for")
REPLAYED = Counter("hotline_relay_replayed_total", "sockets this gateway connected again on a new engine")
SWEPT = Counter("hotline_relay_swept_total", "gateways' sockets disconnected here because their gateway fell silent")


# ---- the wire --------------------------------------------------------------------------------
def pack(args: list[Any]) -> dict[str, Any]:
    """An event's arguments as JSON: binary parts (a picture) replaced by placeholders and sent
    beside them in base64, as Socket.IO itself sends them."""
    if not Packet.data_is_binary(args):
        return {"args": args}
    data, attachments = Packet.deconstruct_binary(args)
    return {"args": data, "attachments": [base64.b64encode(a).decode() for a in attachments]}


def unpack(body: dict[str, Any]) -> list[Any]:
    """The arguments ``pack`` sent; placeholders are read only when attachments came with them
    (a text event's look-alike of a placeholder stays the dict it is, as in Socket.IO)."""
    args = body.get("args")
    if not isinstance(args, list):
        raise ValueError("args must be a list")
    attachments = body.get("attachments")
    if not attachments:
        return args
    if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
        raise ValueError("attachments must be base64 strings")
    out = Packet.reconstruct_binary(args, [base64.b64decode(a, validate=True) for a in attachments])
    if not isinstance(out, list):
        raise ValueError("args must be a list")
    return out


# ---- the engine's side -----------------------------------------------------------------------
@dataclass
class _Remote:
    gateway: str
    session: dict[str, Any] = field(default_factory=dict)
    rooms: set[str] = field(default_factory=set)
    # Set once its connect handler has run: an event that overtook it (a gateway sends a socket's
    # events concurrently) waits for it instead of finding an empty session.
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    since: float = 0.0  # when its connect came (the engine's clock)


class RemoteSockets:
    """The gateways' sockets, as the engine's Socket.IO server acts on them: their sessions and
    rooms (``GuardedServer`` asks here first), which gateway holds each, when each gateway was
    last heard."""

    def __init__(self, silent_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine_id = uuid.uuid4().hex  # a new one per process: the gateways see the engine change
        self.silent_s = silent_s
        self.clock = clock
        self.sockets: dict[tuple[str, str], _Remote] = {}
        self.per_gateway: collections.Counter[str] = collections.Counter()
        self.heard: dict[str, float] = {}

    def get(self, namespace: str | None, sid: str) -> _Remote | None:
        return self.sockets.get((namespace or "/", sid))

    def count(self, gateway: str) -> int:
        return self.per_gateway[gateway]  # kept as sockets come and go: each heartbeat asks

    def add(self, namespace: str, sid: str, gateway: str) -> _Remote:
        self.drop(namespace, sid)
        held = self.sockets[(namespace, sid)] = _Remote(gateway, since=self.clock())
        self.per_gateway[gateway] += 1
        REMOTE.set(len(self.sockets))
        return held

    def drop(self, namespace: str, sid: str) -> None:
        gone = self.sockets.pop((namespace, sid), None)
        if gone is not None:
            self.per_gateway[gone.gateway] -= 1
            if self.per_gateway[gone.gateway] <= 0:
                del self.per_gateway[gone.gateway]
        REMOTE.set(len(self.sockets))

    def silent(self) -> list[tuple[str, str]]:
        """The sockets of every gateway not heard for ``silent_s`` (which are then forgotten)."""
        now = self.clock()
        gone = {g for g, at in self.heard.items() if now - at > self.silent_s}
        if not gone:
            return []  # the usual second: no walk over every socket
        for g in gone:
            del self.heard[g]
        return [key for key, r in self.sockets.items() if r.gateway in gone]


class Relay:
    """``POST /cluster/relay``: a gateway's connect, event, disconnect or heartbeat, carried out
    by the namespace handlers of this engine's Socket.IO server."""

    def __init__(self, sio: Any, secret: str, remote: RemoteSockets, epoch: Callable[[], int]) -> None:
        self.sio = sio
        self.secret = secret.encode()
        self.remote = remote
        self.epoch = epoch

    def _reply(self, status: int = 200, **data: Any) -> web.Response:
        body = {"engine": self.remote.engine_id, "epoch": self.epoch(), **data}
        return web.Response(body=orjson.dumps(body, default=str), status=status, content_type="application/json")

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            refuse("relay", "secret", remote=request.remote or "")
            return web.json_response({"error": "forbidden", "detail": "网关密钥不符"}, status=403)
        try:
            msg = orjson.loads(await request.read())
            if not isinstance(msg, dict) or msg.get("kind") not in ("beat", "census", "connect", "event", "disconnect"):
                raise ValueError("kind")
            kind, gateway = msg["kind"], str(msg["gateway"])[:64]
        except (ValueError, KeyError, TypeError):
            refuse("relay", "malformed", remote=request.remote or "")
            return web.json_response({"error": "bad request", "detail": "网关消息格式不正确"}, status=400)
        self.remote.heard[gateway] = self.remote.clock()
        if kind == "beat":
            return self._reply(sockets=self.remote.count(gateway))
        if kind == "census":
            return self._reply(dropped=await self._census(gateway, msg.get("sockets")))
        ns, sid = str(msg.get("ns", "")), str(msg.get("sid", ""))[:64]
        handler = self.sio.namespace_handlers.get(ns)
        if handler is None or not sid:
            refuse("relay", "namespace", namespace=ns[:40])
            return web.json_response({"error": "bad request", "detail": "没有这个命名空间"}, status=400)
        known = self.remote.get(ns, sid)
        if known is not None and not known.ready.is_set():
            try:
                await asyncio.wait_for(known.ready.wait(), CONNECT_WAIT_S)
            except TimeoutError:
                return self._reply(409, unknown=True)
            if self.remote.get(ns, sid) is not known:  # its connect was refused meanwhile
                known = None
        if kind == "connect":
            return await self._connect(handler, ns, sid, gateway, msg, known is not None)
        if known is None:
            return self._reply(409, unknown=True)  # the gateway connects it again, then sends again
        if kind == "disconnect":
            await self._gone(handler, ns, sid, str(msg.get("reason", "client")))
            return self._reply()
        try:
            args = unpack(msg)
        except (ValueError, TypeError) as exc:
            refuse("relay", "malformed", detail=str(exc)[:100])
            return web.json_response({"error": "bad request", "detail": "事件参数格式不正确"}, status=400)
        ack = await handler.trigger_event(str(msg.get("event", ""))[:64], sid, *args)
        return self._reply(ack=ack, session=known.session)

    async def _connect(
        self, handler: Any, ns: str, sid: str, gateway: str, msg: dict[str, Any], known: bool
    ) -> web.Response:
        if known:  # sent again after an answer that did not reach the gateway
            return self._reply(connected=True, session=self.remote.sockets[(ns, sid)].session)
        given = msg.get("environ") if isinstance(msg.get("environ"), dict) else {}
        environ = {k: str(given[k])[:8192] for k in ("HTTP_COOKIE", "hotline.remote", "REMOTE_ADDR") if k in given}
        held = self.remote.add(ns, sid, gateway)
        try:
            ok = await handler.trigger_event("connect", sid, environ, msg.get("auth"))
        except socketio.exceptions.ConnectionRefusedError as exc:
            self.remote.drop(ns, sid)
            return self._reply(connected=False, refused=exc.error_args)
        except Exception:
            self.remote.drop(ns, sid)
            logger.exception("a gateway's connect failed", extra={"namespace": ns})
            return self._reply(connected=False, refused={"message": "服务暂时出错，请稍后再试"})
        finally:
            held.ready.set()
        if ok is False:
            self.remote.drop(ns, sid)
            return self._reply(connected=False, refused={"message": "连接被拒绝"})
        kept = msg.get("session")
        if isinstance(kept, dict):  # connected again on this engine: what the socket's session held
            held.session = {**held.session, **kept}  # (a visitor's id, the phone it gave) goes on
        return self._reply(connected=True, session=held.session)

    async def _census(self, gateway: str, listed: Any) -> int:
        """The gateway says which sockets it holds: those of its sockets this engine still acts for
        and it does not name are gone (a disconnect whose relay failed); each is disconnected here.
        A socket connected in the last ``CENSUS_GRACE_S`` is left alone (its connect may have
        crossed the census)."""
        if not isinstance(listed, list):
            return 0
        named = {(str(x[0]), str(x[1])) for x in listed if isinstance(x, list) and len(x) == 2}
        now = self.remote.clock()
        stale = [
            key
            for key, r in list(self.remote.sockets.items())
            if r.gateway == gateway and key not in named and r.ready.is_set() and now - r.since > CENSUS_GRACE_S
        ]
        for ns, sid in stale:
            handler = self.sio.namespace_handlers.get(ns)
            if handler is not None:
                await self._gone(handler, ns, sid, "gone from its gateway")
            else:
                self.remote.drop(ns, sid)
        if stale:
            logger.warning("a gateway's sockets it no longer holds were let go", extra={"sockets": len(stale)})
        return len(stale)

    async def _gone(self, handler: Any, ns: str, sid: str, reason: str) -> None:
        try:
            await handler.trigger_event("disconnect", sid, reason)
        except Exception:
            logger.exception("a gateway's disconnect failed", extra={"namespace": ns})
        finally:
            self.remote.drop(ns, sid)

    async def sweep(self, every_s: float = 1.0) -> None:
        """Disconnect, here, the sockets of gateways that fell silent."""
        while True:
            await asyncio.sleep(every_s)
            gone = self.remote.silent()
            if gone:
                logger.warning("a gateway fell silent: its sockets are disconnected", extra={"sockets": len(gone)})
            for ns, sid in gone:
                SWEPT.inc()
                handler = self.sio.namespace_handlers.get(ns)
                if handler is not None:
                    await self._gone(handler, ns, sid, "gateway silent")
                else:
                    self.remote.drop(ns, sid)


def install_engine(app: web.Application, sio: Any, secret: str, silent_s: float, epoch: Callable[[], int]) -> Relay:
    """The relay's route on the engine, its sockets' table on the Socket.IO server, the sweep."""
    remote = RemoteSockets(silent_s)
    relay = Relay(sio, secret, remote, epoch)
    sio.remote = remote
    app.router.add_post(RELAY_PATH, relay.handle)

    async def sweeping(_app: web.Application) -> Any:
        task = asyncio.get_running_loop().create_task(relay.sweep(), name="relay-sweep")
        yield
        task.cancel()

    app.cleanup_ctx.append(sweeping)
    return relay


# ---- the gateway's side ----------------------------------------------------------------------
class EngineUnreachable(Exception):
    pass


@dataclass
class _Held:
    environ: dict[str, str]
    auth: Any
    engine: str = ""  # the engine it is connected on
    session: Any = None  # as the engine last had it: given back when connecting it on another
    inflight: int = 0  # its events on the way to the engine
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class EngineLink:
    """The gateway's way to the active engine: it tries the engines in turn (a standby answers
    503), remembers the one that answered, and notices when the engine changes."""

    def __init__(
        self,
        engines: list[str],
        secret: str,
        gateway: str,
        wait_s: float = 5.0,
        timeout_s: float = 15.0,
    ) -> None:
        self.engines = [e.rstrip("/") for e in engines]
        self.secret = secret
        self.gateway = gateway
        self.wait_s = wait_s
        self.timeout_s = timeout_s
        self.current = 0
        self.engine_id = ""
        self.on_change: Callable[[str], None] = lambda engine_id: None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256), headers={SECRET_HEADER: self.secret}
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def send(self, msg: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, body) of the first engine that carried the message out (200) or refused it
        as not its own (409); EngineUnreachable when none did within ``wait_s``. A request that
        failed after it was sent is not sent again (it may have been carried out)."""
        assert self._http is not None, "start() first"
        body = orjson.dumps({**msg, "gateway": self.gateway})
        deadline = time.monotonic() + self.wait_s
        while True:
            for _ in range(len(self.engines)):
                url = self.engines[self.current] + RELAY_PATH
                try:
                    async with self._http.post(
                        url,
                        data=body,
                        headers={"Content-Type": "application/json"},
                        timeout=aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=1.0),
                    ) as resp:
                        if resp.status in (200, 409):
                            out: dict[str, Any] = orjson.loads(await resp.read())
                            self._saw(str(out.get("engine", "")))
                            return resp.status, out
                        if resp.status != 503:  # 403, 400: this gateway's own fault, said once per kind
                            raise EngineUnreachable(f"{url} answered {resp.status}")
                except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                    pass  # nothing listening, or no answer to the connection: not sent; the next engine
                except (aiohttp.ClientError, TimeoutError) as exc:
                    # Sent, and then the engine went away or did not answer. A connect, disconnect
                    # or heartbeat may go again (the engine takes each once); an event may not.
                    if msg["kind"] == "event":
                        raise EngineUnreachable(f"{url}: {exc!r}") from None
                self.current = (self.current + 1) % len(self.engines)
            if time.monotonic() > deadline:
                raise EngineUnreachable("no engine is active")
            await asyncio.sleep(0.1)

    def _saw(self, engine_id: str) -> None:
        if engine_id and engine_id != self.engine_id:
            before, self.engine_id = self.engine_id, engine_id
            if before:
                logger.warning("the engine changed: the sockets are connected again on the new one")
            self.on_change(engine_id)


class Gateway:
    """The sockets this gateway holds and what it relays for them."""

    def __init__(self, sio: Any, link: EngineLink, beat_s: float = 0.5) -> None:
        self.sio = sio
        self.link = link
        self.beat_s = beat_s
        self.held: dict[tuple[str, str], _Held] = {}
        self._replay: asyncio.Task[None] | None = None
        self._mismatch = 0
        self._surplus = 0
        link.on_change = self._engine_changed
        for ns in NAMESPACES:
            sio.register_namespace(RelayNamespace(ns, self))

    def _engine_changed(self, engine_id: str) -> None:
        if self.held and (self._replay is None or self._replay.done()):
            self._replay = asyncio.get_running_loop().create_task(self.replay_all(), name="relay-replay")

    async def replay_all(self) -> None:
        """Connect every held socket on the engine now active (32 at a time)."""
        gate = asyncio.Semaphore(32)

        async def one(key: tuple[str, str]) -> None:
            async with gate:
                await self.ensure(*key)

        await asyncio.gather(*(one(key) for key in list(self.held)), return_exceptions=True)

    async def ensure(self, ns: str, sid: str, force: bool = False) -> bool:
        """The socket is connected on the current engine (connected again if the engine changed);
        False when the engine refused it (its login ended, say): it is then disconnected."""
        held = self.held.get((ns, sid))
        if held is None:
            return False
        async with held.lock:
            if held.engine == self.link.engine_id and held.engine and not force:
                return True
            status, out = await self.link.send(
                {
                    "kind": "connect",
                    "ns": ns,
                    "sid": sid,
                    "environ": held.environ,
                    "auth": held.auth,
                    "session": held.session,
                }
            )
            if status == 200 and out.get("connected"):
                held.engine = str(out.get("engine", ""))
                held.session = out.get("session")
                REPLAYED.inc()
                RELAYED.labels("replay", "ok").inc()
                # The page reads again what it shows (hotline.redislink's resync): the new engine
                # may know less (a seat signed in on the old one signs in again by itself).
                await self.sio.emit(RESYNC, {}, to=sid, namespace=ns, ignore_queue=True)
                return True
        RELAYED.labels("replay", "refused").inc()
        self.held.pop((ns, sid), None)
        await self.sio.disconnect(sid, namespace=ns)
        return False

    async def connect(self, ns: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        kept = {k: str(environ[k]) for k in ("HTTP_COOKIE", "hotline.remote", "REMOTE_ADDR") if k in environ}
        try:
            status, out = await self.link.send({"kind": "connect", "ns": ns, "sid": sid, "environ": kept, "auth": auth})
        except EngineUnreachable as exc:
            RELAYED.labels("connect", "unreachable").inc()
            logger.warning("no engine took a connection", extra={"namespace": ns, "why": str(exc)[:200]})
            raise socketio.exceptions.ConnectionRefusedError("系统繁忙，请稍后重试") from None
        if status != 200 or not out.get("connected"):
            RELAYED.labels("connect", "refused").inc()
            refused = out.get("refused") or {"message": "连接被拒绝"}
            message = refused.get("message") if isinstance(refused, dict) else str(refused)
            raise socketio.exceptions.ConnectionRefusedError(message)
        RELAYED.labels("connect", "ok").inc()
        self.held[(ns, sid)] = _Held(kept, auth, str(out.get("engine", "")), out.get("session"))

    async def event(self, ns: str, sid: str, event: str, args: list[Any]) -> Any:
        held = self.held.get((ns, sid))
        if held is None:
            return {"ok": False, "error": "连接已失效，请刷新页面"}
        if held.inflight >= MAX_INFLIGHT:
            # python-socketio runs each event in a task of its own: one client's burst would hold
            # the connections to the engine every other socket of this gateway needs.
            refuse("relay", "inflight", namespace=ns, remote=held.environ.get("hotline.remote", ""))
            return {"ok": False, "error": "请求过于频繁，请稍后再试"}
        held.inflight += 1
        try:
            return await self._event(ns, sid, event, args)
        finally:
            held.inflight -= 1

    async def _event(self, ns: str, sid: str, event: str, args: list[Any]) -> Any:
        for attempt in range(2):
            try:
                if not await self.ensure(ns, sid, force=attempt > 0):
                    return {"ok": False, "error": "连接已失效，请刷新页面"}
                status, out = await self.link.send(
                    {"kind": "event", "ns": ns, "sid": sid, "event": event, **pack(args)}
                )
            except EngineUnreachable as exc:
                RELAYED.labels("event", "unreachable").inc()
                logger.warning(
                    "an event reached no engine", extra={"namespace": ns, "event": event, "why": str(exc)[:200]}
                )
                return BUSY
            if status == 200:
                RELAYED.labels("event", "ok").inc()
                held = self.held.get((ns, sid))
                if held is not None:
                    held.session = out.get("session")
                return out.get("ack")
            # 409: the engine does not know the socket (it is new): connect it there and send again
        RELAYED.labels("event", "unknown").inc()
        return BUSY

    async def disconnect(self, ns: str, sid: str, reason: Any) -> None:
        held = self.held.pop((ns, sid), None)
        if held is None:
            return
        try:
            await self.link.send({"kind": "disconnect", "ns": ns, "sid": sid, "reason": str(reason)[:40]})
            RELAYED.labels("disconnect", "ok").inc()
        except EngineUnreachable:
            # The engine that knew it is gone, or will sweep it when this gateway falls silent.
            RELAYED.labels("disconnect", "unreachable").inc()

    async def beat(self) -> None:
        """Tell the engine this gateway lives; find the active engine when idle; connect the
        sockets again when the engine lost them (a restart) or changed (a takeover)."""
        while True:
            try:
                _, out = await self.link.send({"kind": "beat"})
                known = int(out.get("sockets", 0))
                self._mismatch = self._mismatch + 1 if known < len(self.held) else 0
                if self._mismatch >= 2 and (self._replay is None or self._replay.done()):
                    logger.warning(
                        "the engine knows fewer of this gateway's sockets than it holds: connecting them again",
                        extra={"engine_knows": known, "held": len(self.held)},
                    )
                    for held in self.held.values():
                        held.engine = ""
                    self._replay = asyncio.get_running_loop().create_task(self.replay_all(), name="relay-replay")
                    self._mismatch = 0
                # More than it holds: a disconnect that never reached the engine. Say which it holds.
                self._surplus = self._surplus + 1 if known > len(self.held) else 0
                if self._surplus >= 2:
                    self._surplus = 0
                    _, said = await self.link.send({"kind": "census", "sockets": [list(key) for key in self.held]})
                    RELAYED.labels("census", "ok").inc()
                    logger.info("census sent", extra={"held": len(self.held), "dropped": said.get("dropped")})
            except EngineUnreachable as exc:
                RELAYED.labels("beat", "unreachable").inc()
                logger.debug("no engine answered the heartbeat", extra={"why": str(exc)[:200]})
            except Exception:
                logger.exception("the gateway's heartbeat failed")
            await asyncio.sleep(self.beat_s)


class RelayNamespace(socketio.AsyncNamespace):  # type: ignore[misc]  # python-socketio ships no types
    """One of the engine's namespaces, on a gateway: everything goes to the engine."""

    def __init__(self, namespace: str, gateway: Gateway) -> None:
        super().__init__(namespace)
        self.gateway = gateway

    async def trigger_event(self, event: str, *args: Any) -> Any:
        ns = self.namespace
        if event == "connect":
            sid, environ = args[0], args[1]
            auth = args[2] if len(args) > 2 else None
            await self.gateway.connect(ns, sid, environ, auth)
            return True
        if event == "disconnect":
            await self.gateway.disconnect(ns, args[0], args[1] if len(args) > 1 else "")
            return None
        return await self.gateway.event(ns, args[0], event, list(args[1:]))
