"""A small ARI client on aiohttp: REST with per-request timeouts and mapped errors, and the
``/ari/events`` websocket with heartbeat and reconnect with backoff.

REST requests go over websockets when Asterisk takes them there (ARI REST over WebSocket:
Asterisk 20.14, 21.9, 22.4 and later), probed on every connection: no HTTP request to build
and parse. Asterisk carries out the requests of one websocket one after the other, in that
connection's thread, and a request on a channel in Stasis waits there until the channel's own
thread has done it (an answer, a move into a bridge: milliseconds under load). So besides the
events websocket the client keeps ``request_lanes`` more websockets (each registered as an
application of its own, ``<app>-lane<N>``, that subscribes to nothing) and sends each request
on the least busy one: the next caller's originate does not queue behind another call's
answer. A request about a channel or bridge that already has one in flight follows it on the
same websocket, so Asterisk sees them in the order they were sent (a hang-up never overtakes
the originate of the same channel). Until a probe is answered, on an older Asterisk, or with
``rest_over_ws=False``, requests go over HTTP. A request whose websocket drops before its
answer fails (AriUnavailable); it is never sent again, so an originate can never ring a seat
twice.

The packaged ARI clients are dead (ari-py fails to import on Python 3) or break on reconnect,
so this one is the project's own. It knows only the calls the engine makes; each maps to one
documented ARI resource (checked against the live ``/ari/api-docs/resources.json`` in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
import orjson

if TYPE_CHECKING:
    from hotline.settings import AsteriskSettings

logger = logging.getLogger(__name__)


class AriError(Exception):
    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        super().__init__(f"ARI {method} {path}: {status} {message}".strip())
        self.status = status
        self.message = message


class AriBadRequest(AriError):
    pass


class AriAuthError(AriError):
    pass


class AriNotFound(AriError):
    pass


class AriConflict(AriError):
    pass


class AriUnprocessable(AriError):
    pass


class AriUnavailable(AriError):
    """Asterisk unreachable, timed out or not answering properly."""


class AriFenced(AriUnavailable):
    """Not sent: this engine no longer holds the routing lease (hotline/lease.py)."""


class AriNoAnswer(AriUnavailable):
    """The request went out and no answer came in time: Asterisk may still carry it out."""


_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    401: AriAuthError,
    403: AriAuthError,
    404: AriNotFound,
    409: AriConflict,
    412: AriConflict,
    422: AriUnprocessable,
}

# Marks the start of each (re)connection in the event stream: the caller reconciles then.
CONNECTED = "_Connected"
DISCONNECTED = "_Disconnected"

# Request parameters that name a channel (comma lists allowed): they tie a request to the
# websocket of an earlier one still in flight about the same channel, so that e.g. a hang-up
# never overtakes the originate of its channel. Bridges are left out: a queue's holding bridge
# is shared by every caller of the queue, and tying requests by it would line up every caller's
# move behind one stuck channel; one call's requests about its own bridge follow each other.
_ID_PARAMS = ("channelId", "channel", "otherChannelId", "snoopId")


def _resources(path: str, params: Mapping[str, str]) -> tuple[str, ...]:
    """The channel ids a request is about: the path's own, and those in parameters."""
    parts = path.strip("/").split("/")
    ids = [parts[1]] if len(parts) >= 2 and parts[0] == "channels" else []
    for name in _ID_PARAMS:
        value = params.get(name)
        if value:
            ids.extend(v for v in value.split(",") if v)
    return tuple(ids)


# A websocket whose oldest request has waited this long is taken as stuck behind a channel
# that is busy in Asterisk (see _Lane.stalled): new requests go elsewhere.
STALL_S = 0.25


class _Lane:
    """One websocket that carries REST requests: the events websocket, or an extra one."""

    __slots__ = ("busy", "name", "pending", "rest", "sent", "since", "ws")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.rest = False  # this connection answered the probe: requests may use it
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.since: dict[str, float] = {}  # request id -> when it was sent (oldest first)
        self.busy: dict[str, int] = {}  # resource id -> requests in flight about it
        self.sent = 0

    @property
    def usable(self) -> bool:
        return self.rest and self.ws is not None and not self.ws.closed

    def stalled(self, now: float) -> bool:
        """Asterisk answers one websocket's requests one after the other, and a request about a
        channel waits for every command queued on that channel (a prompt played to it while it
        is in a bridge holds them until its last word): behind such a request, every later one
        on the same websocket would wait too."""
        for sent in self.since.values():
            return now - sent > STALL_S
        return False

    def lost(self) -> None:
        """Its websocket closed: no more requests here, and those still waiting fail (never resent)."""
        self.rest = False
        self.ws = None
        for rid, future in list(self.pending.items()):
            if not future.done():
                future.set_exception(ConnectionError(f"the {self.name} websocket closed before the answer"))
            self.pending.pop(rid, None)
            self.since.pop(rid, None)


def pick_lane(lanes: list[_Lane], resources: tuple[str, ...], now: float) -> _Lane | None:
    """The lane of a request in flight about the same resource (so that requests about one
    channel keep their order), else the usable, unstalled lane with the fewest requests waiting
    (the first of equals); None when no websocket can take the request now (it goes by HTTP,
    where Asterisk serves each connection in a thread of its own)."""
    best: _Lane | None = None
    for lane in lanes:
        if not lane.usable:
            continue
        if resources and any(r in lane.busy for r in resources):
            return lane
        if lane.stalled(now):
            continue
        if best is None or len(lane.pending) < len(best.pending):
            best = lane
    return best


class AriClient:
    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        timeout: float = 5.0,
        name: str = "default",
        heartbeat: float = 10.0,
        backoff_max: float = 10.0,
        rest_over_ws: bool = True,
        request_lanes: int = 2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self.name = name
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.backoff_max = backoff_max
        self._headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.rest_over_ws = rest_over_ws
        self.fence: Callable[[], bool] | None = None  # False: the lease is lost, nothing may go out
        self._events_lane = _Lane("events")
        # extra websockets for requests only: connected while run() reads the events one
        self.lanes = [self._events_lane] + [_Lane(f"lane{i}") for i in range(1, request_lanes + 1)]
        self._ids = itertools.count(1)
        self.sent = {"websocket": 0, "http": 0}  # requests by the way they went
        # event types this client's consumer handles (None: all); set on every connection
        self.event_types: frozenset[str] | None = None

    @classmethod
    def from_settings(cls, a: AsteriskSettings, url: str | None = None, name: str = "default") -> AriClient:
        """The client of the engine's Asterisk, as the settings describe it; with ``url`` and
        ``name``, of a peer server driven beside it (the same account, application and lanes)."""
        return cls(
            url or a.ari_url,
            a.ari_user,
            a.ari_password,
            a.app_name,
            timeout=a.request_timeout,
            rest_over_ws=a.ari_rest_over_websocket,
            request_lanes=a.ari_request_lanes,
            name=name,
        )

    async def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, connector=aiohttp.TCPConnector(limit=64))
        return self._session

    async def close(self) -> None:
        self._closed = True
        for lane in self.lanes:
            if lane.ws is not None:
                await lane.ws.close()
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        if self.fence is not None and not self.fence():
            raise AriFenced(0, "fenced: this engine no longer holds the routing lease", method, path)
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        if self.rest_over_ws:
            resources = _resources(path, clean)
            lane = pick_lane(self.lanes, resources, time.monotonic())
            if lane is not None:
                self.sent["websocket"] += 1
                return await self._ws_request(lane, method, path, clean, body, timeout or self.timeout, resources)
        self.sent["http"] += 1
        sess = await self._sess()
        url = f"{self.base_url}{path}"
        try:
            async with sess.request(
                method,
                url,
                params=clean,
                json=body,
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
            ) as resp:
                return _result(resp.status, await resp.text(), method, path)
        except TimeoutError:
            raise AriNoAnswer(0, f"no answer within {timeout or self.timeout} s", method, path) from None
        except aiohttp.ClientError as exc:
            raise AriUnavailable(0, f"{type(exc).__name__}: {exc}", method, path) from None

    @property
    def rest_transport(self) -> str:
        """How the next request goes: "websocket" or "http"."""
        return "websocket" if self.rest_over_ws and any(lane.usable for lane in self.lanes) else "http"

    async def _ws_request(
        self,
        lane: _Lane,
        method: str,
        path: str,
        params: dict[str, str],
        body: Any,
        timeout: float,
        resources: tuple[str, ...] = (),
    ) -> Any:
        rid = f"r{next(self._ids)}"
        uri = path.lstrip("/") + (f"?{urlencode(params)}" if params else "")
        message: dict[str, Any] = {"type": "RESTRequest", "request_id": rid, "method": method, "uri": uri}
        if body is not None:
            message["content_type"] = "application/json"
            message["message_body"] = orjson.dumps(body).decode()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        ws = lane.ws
        assert ws is not None
        lane.pending[rid] = future
        lane.since[rid] = time.monotonic()
        lane.sent += 1
        for r in resources:
            lane.busy[r] = lane.busy.get(r, 0) + 1
        # One timer on the answer itself: lighter than asyncio.timeout (no scope, nothing to
        # undo on the task) and independent of which task is current when the request is sent.
        expiry = loop.call_later(timeout, _expire, future)
        try:
            await ws.send_frame(orjson.dumps(message), aiohttp.WSMsgType.TEXT)
            answer = await future
        except TimeoutError:
            raise AriNoAnswer(0, f"no answer within {timeout} s", method, path) from None
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise AriUnavailable(0, f"websocket: {type(exc).__name__}: {exc}", method, path) from None
        finally:
            expiry.cancel()
            lane.pending.pop(rid, None)
            lane.since.pop(rid, None)
            for r in resources:
                left = lane.busy.get(r, 0) - 1
                if left > 0:
                    lane.busy[r] = left
                else:
                    lane.busy.pop(r, None)
        status = answer.get("status_code")
        text = answer.get("message_body")
        if not isinstance(status, int) or not isinstance(text, str | None):
            raise AriUnavailable(0, f"answer not understood: {str(answer)[:100]}", method, path)
        return _result(status, text or "", method, path, str(answer.get("reason_phrase", "")))

    def _answered(self, lane: _Lane, message: dict[str, Any]) -> None:
        """A RESTResponse from a websocket: the probe's, or a waiting request's."""
        rid = message.get("request_id")
        if rid == "probe":
            lane.rest = message.get("status_code") == 200
            logger.info("ARI REST over websocket", extra={"ari": self.name, "lane": lane.name, "enabled": lane.rest})
            return
        future = lane.pending.get(rid) if isinstance(rid, str) else None
        if future is None:
            # e.g. Asterisk's answer to a frame it could not parse (no request id), or one late
            logger.warning(
                "ARI answer for no waiting request",
                extra={"ari": self.name, "request_id": rid, "status": message.get("status_code")},
            )
            return
        if not future.done():
            future.set_result(message)

    async def _apply_event_filter(self) -> None:
        """Ask Asterisk to send only the event types the consumer handles (a call brings dozens
        of ChannelVarset and others that would each be built, sent and parsed for nothing), or
        all of them again. REST answers are events too: always allowed."""
        if self.event_types is None:
            body: dict[str, Any] = {"allowed": [], "disallowed": []}
        else:
            body = {"allowed": [{"type": t} for t in sorted(self.event_types | {"RESTResponse"})]}
        try:
            await self.request("PUT", f"/applications/{self.app}/eventFilter", body=body)
        except AriError as exc:
            logger.warning("ARI event filter not set; all events come", extra={"ari": self.name, "cause": str(exc)})

    # --- resources the engine uses ---------------------------------------------------
    async def asterisk_info(self) -> dict[str, Any]:
        return await self.request("GET", "/asterisk/info")  # type: ignore[no-any-return]

    async def channels(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/channels")  # type: ignore[no-any-return]

    async def channel(self, channel_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/channels/{channel_id}")  # type: ignore[no-any-return]

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", params={"reason": reason})

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str | None = None,
        app_args: str | None = None,
        caller_id: str | None = None,
        timeout: int = 30,
        variables: Mapping[str, str] | None = None,
        formats: str | None = None,
        originator: str | None = None,
    ) -> dict[str, Any]:
        params = {
            "endpoint": endpoint,
            "app": self.app,
            "appArgs": app_args,
            "callerId": caller_id,
            "timeout": timeout,
            "channelId": channel_id,
            "formats": formats,
            "originator": originator,
        }
        body = {"variables": dict(variables)} if variables else None
        return await self.request("POST", "/channels", params=params, body=body)  # type: ignore[no-any-return]

    async def create_channel(
        self, endpoint: str, *, channel_id: str | None = None, app_args: str | None = None, formats: str | None = None
    ) -> dict[str, Any]:
        params = {
            "endpoint": endpoint,
            "app": self.app,
            "appArgs": app_args,
            "channelId": channel_id,
            "formats": formats,
        }
        return await self.request("POST", "/channels/create", params=params)  # type: ignore[no-any-return]

    async def dial(self, channel_id: str, *, caller: str | None = None, timeout: int = 30) -> None:
        await self.request("POST", f"/channels/{channel_id}/dial", params={"caller": caller, "timeout": timeout})

    async def play(
        self, channel_id: str, media: str | list[str], *, playback_id: str | None = None, lang: str | None = None
    ) -> dict[str, Any]:
        medias = media if isinstance(media, list) else [media]
        return await self.request(  # type: ignore[no-any-return]
            "POST",
            f"/channels/{channel_id}/play",
            params={"media": ",".join(medias), "playbackId": playback_id, "lang": lang},
        )

    async def playback(self, playback_id: str) -> dict[str, Any]:
        """A playback still going on (AriNotFound once it has ended)."""
        return await self.request("GET", f"/playbacks/{playback_id}")  # type: ignore[no-any-return]

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", params={"mohClass": moh_class})

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str, priority: int = 1) -> None:
        await self.request(
            "POST",
            f"/channels/{channel_id}/continue",
            params={"context": context, "extension": extension, "priority": priority},
        )

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def send_dtmf(self, channel_id: str, dtmf: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/dtmf", params={"dtmf": dtmf})

    async def hold(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/hold")

    async def unhold(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/hold")

    async def mute(self, channel_id: str, direction: str = "both") -> None:
        await self.request("POST", f"/channels/{channel_id}/mute", params={"direction": direction})

    async def unmute(self, channel_id: str, direction: str = "both") -> None:
        await self.request("DELETE", f"/channels/{channel_id}/mute", params={"direction": direction})

    async def set_var(self, channel_id: str, variable: str, value: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/variable", params={"variable": variable, "value": value})

    async def get_var(self, channel_id: str, variable: str) -> str:
        out = await self.request("GET", f"/channels/{channel_id}/variable", params={"variable": variable})
        return str(out.get("value", "")) if isinstance(out, dict) else ""

    async def snoop(
        self,
        channel_id: str,
        *,
        spy: str = "both",
        whisper: str = "none",
        snoop_id: str | None = None,
        app_args: str | None = None,
    ) -> dict[str, Any]:
        params = {"app": self.app, "spy": spy, "whisper": whisper, "snoopId": snoop_id, "appArgs": app_args}
        return await self.request("POST", f"/channels/{channel_id}/snoop", params=params)  # type: ignore[no-any-return]

    async def record_channel(
        self,
        channel_id: str,
        name: str,
        *,
        fmt: str = "wav",
        max_seconds: int = 0,
        beep: bool = False,
        terminate_on: str = "none",
    ) -> dict[str, Any]:
        params = {
            "name": name,
            "format": fmt,
            "ifExists": "overwrite",
            "beep": beep,
            "maxDurationSeconds": max_seconds,
            "terminateOn": terminate_on,
        }
        return await self.request("POST", f"/channels/{channel_id}/record", params=params)  # type: ignore[no-any-return]

    async def rtp_statistics(self, channel_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/channels/{channel_id}/rtp_statistics")  # type: ignore[no-any-return]

    async def stored_recording(self, name: str) -> dict[str, Any]:
        return await self.request("GET", f"/recordings/stored/{name}")  # type: ignore[no-any-return]

    async def record_bridge(self, bridge_id: str, name: str, *, fmt: str = "wav") -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "POST",
            f"/bridges/{bridge_id}/record",
            params={"name": name, "format": fmt, "ifExists": "overwrite", "beep": "false"},
        )

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{name}/stop")

    async def bridges(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/bridges")  # type: ignore[no-any-return]

    async def create_bridge(
        self, bridge_type: str, *, bridge_id: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        params = {"type": bridge_type, "bridgeId": bridge_id, "name": name}
        return await self.request("POST", "/bridges", params=params)  # type: ignore[no-any-return]

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def add_to_bridge(self, bridge_id: str, channel_ids: str | list[str], *, role: str | None = None) -> None:
        ids = channel_ids if isinstance(channel_ids, list) else [channel_ids]
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", params={"channel": ",".join(ids), "role": role})

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/removeChannel", params={"channel": channel_id})

    async def bridge_moh(self, bridge_id: str, moh_class: str = "default") -> None:
        await self.request("POST", f"/bridges/{bridge_id}/moh", params={"mohClass": moh_class})

    async def bridge_play(self, bridge_id: str, media: str, *, playback_id: str | None = None) -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "POST", f"/bridges/{bridge_id}/play", params={"media": media, "playbackId": playback_id}
        )

    async def endpoints(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/endpoints")  # type: ignore[no-any-return]

    async def endpoint(self, tech: str, resource: str) -> dict[str, Any]:
        return await self.request("GET", f"/endpoints/{tech}/{resource}")  # type: ignore[no-any-return]

    async def api_docs(self) -> dict[str, Any]:
        return await self.request("GET", "/api-docs/resources.json")  # type: ignore[no-any-return]

    # --- events ---------------------------------------------------------------------
    async def run(self, handle: Callable[[dict[str, Any]], None], *, subscribe_all: bool = False) -> None:
        """Read ARI events for ever, reconnecting with backoff, and call ``handle(event)`` for
        each one from the websocket's reader itself: no queue and no task switch between a frame
        and its handler (on a busy machine each switch is a chance to wait for a core, and a
        StasisStart's handler rings the seat). ``handle`` must not block: it starts whatever
        awaits Asterisk as a task of its own, since the answers to those requests come through
        this same reader. An exception from it is logged and the reading goes on.

        Each (re)connection is handed over as ``{"type": "_Connected"}`` first and each loss as
        ``{"type": "_Disconnected"}``, so the consumer can rebuild its state from ``channels()``
        and ``bridges()``; the extra request websockets run beside it. Returns only by raising
        (AriAuthError when the credentials are refused) or when cancelled.
        """
        lanes = [
            asyncio.create_task(self._lane_loop(lane), name=f"ari-{lane.name}-{self.name}")
            for lane in (self.lanes[1:] if self.rest_over_ws else [])
        ]

        def deliver(event: dict[str, Any]) -> None:
            event["server"] = self.name
            try:
                handle(event)
            except Exception:
                logger.exception("ARI event handler failed", extra={"ari": self.name, "type": event.get("type")})

        try:
            await self._read_loop(deliver, subscribe_all)
        finally:
            await _cancel(lanes)

    def events(self, *, subscribe_all: bool = False) -> AsyncIterator[dict[str, Any]]:
        """:meth:`run`'s events as an async iterator (through a queue: one task switch more),
        for consumers that take events one at a time; raises what run raises."""
        return merged_events([self], subscribe_all=subscribe_all)

    async def _connect(self, app: str, subscribe_all: bool) -> aiohttp.ClientWebSocketResponse:
        """An ``/ari/events`` websocket for app; AriAuthError when the credentials are refused."""
        sess = await self._sess()
        ws_url = self.base_url.replace("http://", "ws://").replace("https://", "wss://") + "/events"
        try:
            return await sess.ws_connect(
                ws_url,
                params={"app": app, "subscribeAll": "true" if subscribe_all else "false"},
                heartbeat=self.heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_close=self.timeout),
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (401, 403):
                raise AriAuthError(exc.status, "events websocket refused the credentials", "GET", "/events") from None
            raise

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max, 0.2 * (2**attempt)) * (0.5 + random.random() / 2))

    async def _probe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Ask for a ping over the websocket: only an Asterisk that takes REST there answers."""
        with contextlib.suppress(Exception):
            await ws.send_str('{"type": "RESTRequest", "request_id": "probe", "method": "GET", "uri": "asterisk/ping"}')

    def _frame(self, lane: _Lane, data: str) -> dict[str, Any] | None:
        """A text frame as an event; REST answers go to their request, bad frames are logged."""
        try:
            event = orjson.loads(data)
        except ValueError:
            logger.warning("ARI sent a frame that is not JSON", extra={"ari": self.name, "lane": lane.name})
            return None
        if not isinstance(event, dict) or "type" not in event:
            logger.warning("ARI sent an event without a type", extra={"ari": self.name, "lane": lane.name})
            return None
        if event["type"] == "RESTResponse":
            self._answered(lane, event)
            return None
        return event

    async def _pump(
        self, lane: _Lane, ws: aiohttp.ClientWebSocketResponse, deliver: Callable[[dict[str, Any]], None]
    ) -> None:
        """Read one websocket until it closes: REST answers to their requests, events to deliver;
        then its requests still waiting fail (never sent again)."""
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    event = self._frame(lane, msg.data)
                    if event is not None:
                        deliver(event)
                elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
        finally:
            lane.lost()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read_loop(self, deliver: Callable[[dict[str, Any]], None], subscribe_all: bool) -> None:
        attempt = 0
        lane = self._events_lane
        while not self._closed:
            try:
                ws = await self._connect(self.app, subscribe_all)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                logger.warning(
                    "ARI events unreachable; retrying",
                    extra={"ari": self.name, "delay_s": round(delay, 2), "cause": str(exc)},
                )
                await asyncio.sleep(delay)
                continue
            lane.ws = ws
            attempt = 0
            logger.info("ARI events connected", extra={"ari": self.name})
            await self._apply_event_filter()
            if self.rest_over_ws:
                await self._probe(ws)
            deliver({"type": CONNECTED})
            await self._pump(lane, ws, deliver)
            if not self._closed:
                logger.warning("ARI events disconnected", extra={"ari": self.name})
                deliver({"type": DISCONNECTED})
                await asyncio.sleep(0.2)

    async def _lane_loop(self, lane: _Lane) -> None:
        """Keep one extra request websocket connected (application ``<app>-<lane>``, no
        subscriptions: it only carries REST answers) while the events are read."""
        attempt = 0
        while not self._closed:
            try:
                ws = await self._connect(f"{self.app}-{lane.name}", False)
            except AriAuthError:
                return  # the events websocket meets the same refusal and raises it
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                logger.debug("ARI request lane unreachable", extra={"lane": lane.name, "cause": str(exc)})
                await asyncio.sleep(delay)
                continue
            lane.ws = ws
            attempt = 0
            await self._probe(ws)
            await self._pump(lane, ws, lambda _: logger.debug("ARI event on a request lane ignored"))
            if not self._closed:
                logger.info("ARI request lane disconnected", extra={"ari": self.name, "lane": lane.name})
                await asyncio.sleep(0.2)


def _result(status: int, text: str, method: str, path: str, reason: str = "") -> Any:
    """An answer's body as JSON, or the mapped error for its status (HTTP and websocket alike)."""
    if status >= 400:
        try:
            message = orjson.loads(text).get("message", text) if text else reason
        except (ValueError, AttributeError):
            message = text[:200]
        raise _BY_STATUS.get(status, AriError)(status, str(message), method, path)
    if not text:
        return None
    try:
        return orjson.loads(text)
    except ValueError:
        raise AriUnavailable(status, f"not JSON: {text[:100]!r}", method, path) from None


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def merged_events(clients: list[AriClient], *, subscribe_all: bool = False) -> AsyncIterator[dict[str, Any]]:
    """Events of one or several Asterisk servers as one stream, each tagged with its server's
    name. Raises what a server's :meth:`AriClient.run` raises (AriAuthError when one refuses the
    credentials): a server lost for good is never silently dropped from the stream."""
    queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()

    async def read(client: AriClient) -> None:
        try:
            await client.run(queue.put_nowait, subscribe_all=subscribe_all)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, who raises it
            queue.put_nowait(exc)

    tasks = [asyncio.create_task(read(c), name=f"ari-reader-{c.name}") for c in clients]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        await _cancel(tasks)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel background readers and wait for them to end (whatever they end with)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
