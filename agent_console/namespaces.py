"""Socket.IO namespaces: ``/agent`` for seats, ``/supervisor`` for supervisors.

Handlers only authenticate, validate and hand off. Every event is answered by an ack:
``{"ok": true, ...data}`` or ``{"ok": false, "error": "..."}``; an unknown event, a missing or
wrong field, an expired login or a refusal never reaches the ACD and never crashes the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from agent_console import schemas
from agent_console.access import AGENT_ROLES, SUPERVISOR_ROLES, SocketAuth
from agent_console.actions import SeatActions
from agent_console.services import AGENT_NS, SUPERVISOR_NS, SUPERVISORS, ConsoleError, ConsoleService
from agent_console.supervision import SupervisorActions
from hotline.dbhealth import DATABASE, unavailable

logger = logging.getLogger(__name__)

Action = Callable[[str, Any], Awaitable[dict[str, Any]]]


class _Base(socketio.AsyncNamespace):  # type: ignore[misc]  # python-socketio ships no types
    roles: frozenset[str] = frozenset()
    events: dict[str, tuple[type[schemas.In], str]] = {}

    def __init__(self, namespace: str, auth: SocketAuth, clock: Callable[[], float] = time.time) -> None:
        super().__init__(namespace)
        self.auth = auth
        self.clock = clock

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect") or event in self.events:
            return await super().trigger_event(event, *args)
        return {"ok": False, "error": f"未知事件：{event[:40]}"}

    async def _run(
        self, sid: str, data: Any, model: type[schemas.In], action: Action, *, by_sid: bool = False
    ) -> dict[str, Any]:
        try:
            session = await self.get_session(sid)
        except KeyError:
            return {"ok": False, "error": "未登录"}
        if self.clock() >= session["expires"]:
            asyncio.get_running_loop().create_task(self._drop(sid))
            return {"ok": False, "error": "登录已过期，请重新登录"}
        if (self.namespace, sid) in self.auth.ending:
            return {"ok": False, "error": "账号已停用或登录已失效，请重新登录"}
        try:
            event = schemas.parse(model, data)
            result = await action(sid if by_sid else session["user"], event)
        except (ValueError, ConsoleError) as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            if unavailable(exc):  # one line per outage (dbhealth), not a traceback per event
                DATABASE.failed(f"console {model.__name__}", exc)
                return {"ok": False, "error": "系统繁忙，请稍后重试"}
            logger.exception("console event failed", extra={"user": session.get("user"), "namespace": self.namespace})
            return {"ok": False, "error": "内部错误，已记录"}
        return {"ok": True, **result}

    async def _drop(self, sid: str) -> None:
        # Close after the error ack has gone out, so the page can say why.
        await asyncio.sleep(0.2)
        await self.disconnect(sid)


class AgentNamespace(_Base):
    roles = AGENT_ROLES
    events = {
        "state": (schemas.Empty, "state"),
        "login": (schemas.Login, "login"),
        "logout": (schemas.Empty, "logout"),
        "ready": (schemas.Empty, "ready"),
        "not_ready": (schemas.NotReady, "not_ready"),
        "accept": (schemas.OnContact, "accept"),
        "reject": (schemas.OnContact, "reject"),
        "hangup": (schemas.OnContact, "hangup"),
        "hold": (schemas.OnContact, "hold"),
        "unhold": (schemas.OnContact, "unhold"),
        "mute": (schemas.Mute, "mute"),
        "dtmf": (schemas.Dtmf, "dtmf"),
        "transfer": (schemas.Transfer, "transfer"),
        "complete_transfer": (schemas.OnContact, "complete_transfer"),
        "emergency": (schemas.Emergency, "emergency"),
        "three_party": (schemas.ThreeParty, "three_party"),
        "leave_three_party": (schemas.OnContact, "leave_three_party"),
        "wrapup": (schemas.WrapUp, "wrapup"),
        "today": (schemas.Empty, "today"),
        "context": (schemas.OnContact, "context"),
        "create_workorder": (schemas.CreateWorkOrder, "create_workorder"),
        "sip": (schemas.Empty, "sip"),
        "chat_history": (schemas.OnContact, "chat_history"),
        "chat_send": (schemas.ChatSend, "chat_send"),
        "chat_typing": (schemas.OnContact, "chat_typing"),
        "chat_image": (schemas.ChatImage, "chat_image"),
        "chat_read": (schemas.ChatRead, "chat_read"),
        "kb_suggest_order": (schemas.KbSuggestOrder, "kb_suggest_order"),
    }

    def __init__(self, console: ConsoleService, auth: SocketAuth) -> None:
        super().__init__(AGENT_NS, auth, console.clock)
        self.console = console
        self.actions = SeatActions(console)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        who = await self.auth.check(environ, auth, self.roles)
        await self.save_session(sid, {"user": who.username, "role": who.role, "expires": who.expires})
        self.auth.track(self.namespace, sid, who)
        await self.console.connected(sid, who.username)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.auth.untrack(self.namespace, sid)
        try:
            session = await self.get_session(sid)
        except KeyError:
            return
        await self.console.disconnected(sid, session["user"])


class SupervisorNamespace(_Base):
    roles = SUPERVISOR_ROLES
    events = {
        "board": (schemas.Empty, "get_board"),
        "force_not_ready": (schemas.ForceNotReady, "force_not_ready"),
        "force_logout": (schemas.OnSeat, "force_logout"),
        "move_seat": (schemas.MoveSeat, "move_seat"),
        "snoop": (schemas.Snoop, "snoop"),
        "stop_snoop": (schemas.StopSnoop, "stop_snoop"),
        "watch": (schemas.Watch, "watch"),
        "sip": (schemas.Empty, "sip"),
    }

    def __init__(self, console: ConsoleService, supervision: SupervisorActions, auth: SocketAuth) -> None:
        super().__init__(SUPERVISOR_NS, auth, console.clock)
        self.console = console
        self.actions = supervision

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        who = await self.auth.check(environ, auth, self.roles)
        await self.save_session(sid, {"user": who.username, "role": who.role, "expires": who.expires})
        self.auth.track(self.namespace, sid, who)
        await self.enter_room(sid, SUPERVISORS)
        for queue in self.console.acd.core.queue_names():
            await self.enter_room(sid, f"queue:{queue}")

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.auth.untrack(self.namespace, sid)


def _bind(cls: type[_Base]) -> None:
    """Give each namespace one ``on_<event>`` per event: validate with its model, hand to its action."""
    for event, (model, method) in cls.events.items():
        setattr(cls, f"on_{event}", _handler(event, model, method))


def _handler(event: str, model: type[schemas.In], method: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def handler(self: Any, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        if extra:  # a client sending several arguments gets a refusal, not a TypeError in the server
            return {"ok": False, "error": "每个事件只接受一个 JSON 对象"}
        result: dict[str, Any] = await self._run(
            sid, data, model, getattr(self.actions, method), by_sid=method == "watch"
        )
        return result

    handler.__name__ = f"on_{event}"
    return handler


_bind(AgentNamespace)
_bind(SupervisorNamespace)
