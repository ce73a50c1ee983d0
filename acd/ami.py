"""AMI adapter: panoramisk, wrapped so it cannot hang or repeat itself.

- every action has a timeout (``AmiTimeout``);
- a watchdog pings and closes a connection that stays silent, so panoramisk reconnects;
- nothing is re-sent after a reconnect: panoramisk would replay unanswered actions (an
  Originate twice would ring a seat twice); here they fail with ``AmiDisconnected`` and the
  caller decides.
Used for what ARI lacks: PJSIP contact (registration) status, device state, reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from hotline.guard import REFUSED

logger = logging.getLogger(__name__)


class AmiError(Exception):
    pass


class AmiTimeout(AmiError):
    pass


class AmiDisconnected(AmiError):
    pass


class AmiAuthError(AmiError):
    pass


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol, but one odd frame costs that frame only: a repeated ``Event:``
    header (panoramisk then holds a list and fails on ``.lower()``) or any other surprise in a
    frame would otherwise propagate out of ``data_received`` and drop the AMI connection."""

    def handle_message(self, message: Message) -> None:
        event = message.get("Event")
        if isinstance(event, list):
            message["Event"] = str(event[0]) if event else ""
        try:
            super().handle_message(message)
        except Exception:
            REFUSED.labels("ami", "frame").inc()
            logger.warning("AMI frame not understood: dropped", extra={"frame": str(dict(message))[:300]})


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager without the replay of unanswered actions after a reconnect, closed
    for good by ``close`` (panoramisk's own close leaves its retry loop running: a manager whose
    first connect failed went on reconnecting every second, and logged in beside its successor
    once Asterisk was back), and saying an outage once rather than at every attempt."""

    closed = False
    _failures = 0

    def close(self) -> None:
        self.closed = True
        super().close()

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            return None
        return super().connect(*args, **kwargs)

    def connection_lost(self, exc: Any) -> None:
        if not self.closed:
            super().connection_lost(exc)

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if self.closed:  # a reconnect was on its way when this manager was closed
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        if not f.cancelled() and isinstance(f.exception(), OSError) and not self._connected:
            self._failures += 1
            if self._failures > 1:  # panoramisk said "Not able to reconnect" at the first attempt
                self.loop.call_later(self.reconnect_timeout, self.connect)
                return
        else:
            self._failures = 0
        super().connection_made(f)

    async def send_awaiting_actions(self, *_: Any) -> None:
        while self.awaiting_actions:
            action = self.awaiting_actions.popleft()
            logger.warning("AMI action not re-sent after reconnect", extra={"action": action.get("action")})
            if not action.future.done():
                action.future.set_exception(AmiDisconnected("connection lost before the answer; not re-sent"))


class Ami:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        timeout: float = 5.0,
        ping_interval: float = 5.0,
        name: str = "default",
        events: str = "system",
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.ping_interval = ping_interval
        # Only the event classes the engine uses (seats' contact status is "system"): every channel
        # event would otherwise be parsed on the engine's loop for nothing.
        self._cfg = {"host": host, "port": port, "username": username, "secret": secret, "events": events}
        self._manager: _Manager | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._logged_in = asyncio.Event()
        self._handlers: list[tuple[str, Callable[[Message], Any]]] = []
        self._watchers: list[Callable[[bool], None]] = []
        self.connected_count = 0
        self.fence: Callable[[], bool] | None = None  # False: the lease is lost, nothing may go out

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._logged_in.clear()
        self._manager = _Manager(
            loop=loop,
            ping_delay=3600,  # panoramisk's own pinger never notices silence; ours below does
            ping_interval=3600,
            reconnect_timeout=1,
            forgetable_actions=("ping", "login", "logoff", "originate"),
            protocol_factory=_Protocol,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
            **self._cfg,
        )
        for pattern, handler in self._handlers:
            self._manager.register_event(pattern, lambda _m, msg, h=handler: h(msg))
        conn = self._manager.connect()
        try:
            await asyncio.wait_for(asyncio.shield(conn), self.timeout)
        except (TimeoutError, OSError) as exc:
            self._manager.close()
            raise AmiDisconnected(f"AMI at {self._cfg['host']}:{self._cfg['port']} unreachable: {exc}") from None
        if not self._manager._connected:
            self._manager.close()
            raise AmiDisconnected(f"AMI at {self._cfg['host']}:{self._cfg['port']} unreachable")
        fut = self._manager.authenticated_future
        if fut is not None:
            try:
                resp = await asyncio.wait_for(asyncio.shield(fut), self.timeout)
            except TimeoutError:
                await self.close()
                raise AmiTimeout("AMI login got no answer") from None
            if not resp.success:
                await self.close()
                raise AmiAuthError(f"AMI refused login for user {self._cfg['username']!r}: {resp.get('Message')}")
        self._watchdog = asyncio.create_task(self._watch(), name=f"ami-watchdog-{self.name}")

    def _on_login(self, _manager: Manager) -> None:
        self.connected_count += 1
        self._logged_in.set()
        self._tell(True)

    def _on_disconnect(self, _manager: Manager, exc: Any) -> None:
        self._logged_in.clear()
        logger.warning("AMI connection lost", extra={"ami": self.name, "cause": str(exc)})
        self._tell(False)

    def on_connection(self, watcher: Callable[[bool], None]) -> None:
        """Call watcher(True) at each login, watcher(False) at each loss of the connection
        (panoramisk then reconnects every second; a silent one is closed by the watchdog)."""
        self._watchers.append(watcher)

    def _tell(self, up: bool) -> None:
        for watcher in self._watchers:
            try:
                watcher(up)
            except Exception:
                logger.exception("AMI connection watcher failed", extra={"ami": self.name})

    @property
    def connected(self) -> bool:
        """Logged in now."""
        return self._logged_in.is_set()

    def on_event(self, pattern: str, handler: Callable[[Message], Any]) -> None:
        """Call handler(message) for events matching the glob pattern (e.g. 'ContactStatus')."""
        self._handlers.append((pattern, handler))
        if self._manager is not None:
            self._manager.register_event(pattern, lambda _m, msg: handler(msg))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if not self._logged_in.is_set():
                continue
            try:
                await self.action({"Action": "Ping"}, timeout=min(self.timeout, self.ping_interval))
            except AmiError as exc:
                logger.warning("AMI silent: closing to reconnect", extra={"ami": self.name, "cause": str(exc)})
                manager = self._manager
                if manager is not None and manager.protocol is not None:
                    manager.protocol.connection_lost(exc)

    async def action(self, action: dict[str, str], *, timeout: float | None = None, as_list: bool | None = None) -> Any:
        """Send one action and wait for its answer (a Message, or a list for event-list actions).

        While the connection is being re-established (Asterisk restarting), the action waits up to
        its timeout for the new login instead of failing at once.
        """
        if self.fence is not None and not self.fence():
            raise AmiDisconnected("fenced: this engine no longer holds the routing lease")
        manager = self._manager
        if manager is not None and not self._logged_in.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout or self.timeout):  # not wait_for: see acd.service
                    await self._logged_in.wait()
            manager = self._manager
        if manager is None or manager.protocol is None or not manager._connected:
            raise AmiDisconnected("AMI not connected")
        try:
            fut = manager.send_action(dict(action), as_list=as_list)
            return await asyncio.wait_for(fut, timeout or self.timeout)
        except TimeoutError:
            raise AmiTimeout(
                f"AMI action {action.get('Action')} got no answer in {timeout or self.timeout} s"
            ) from None

    async def core_status(self) -> dict[str, str]:
        msg = await self.action({"Action": "CoreStatus"})
        if not msg.success:
            raise AmiError(f"CoreStatus failed: {msg.get('Message')}")
        return {k: str(v) for k, v in msg.items()}

    async def device_state(self, device: str) -> str:
        msg = await self.action({"Action": "Getvar", "Variable": f"DEVICE_STATE({device})"})
        return str(msg.get("Value", "UNKNOWN"))

    async def reload(self, module: str) -> None:
        msg = await self.action({"Action": "Reload", "Module": module})
        if not msg.success:
            raise AmiError(f"reload of {module} failed: {msg.get('Message')}")

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._manager is not None:
            manager = self._manager
            self._manager = None
            manager.close()  # and no reconnect after it (_Manager.close)
