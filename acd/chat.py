"""Chats into the same ACD as calls: each new WeChat or web-chat conversation becomes a contact
(channel ``wechat`` / ``webchat``) of the internet queue; when a seat accepts it, the channels
feature is told which seat now answers the citizen."""

from __future__ import annotations

import logging
import re
from typing import Any

from acd.core import Command, ContactArrived
from acd.service import AcdService
from hotline.bus import Bus

logger = logging.getLogger(__name__)
CHAT_CONTACT = re.compile(r"^(wechat|webchat)-([0-9]{1,18})$")


class ChatExecutor:
    """The ACD's executor for chat media: offers reach seats through the bus (the console shows
    them with their countdown); nothing has to be dialled."""

    async def execute(self, command: Command) -> None:
        logger.debug("chat command", extra={"command": type(command).__name__})


class ChatBridge:
    def __init__(self, acd: AcdService, bus: Bus, channels: Any, *, queue: str = "internet") -> None:
        self.acd = acd
        self.channels = channels
        self.queue = queue
        acd.register("chat", ChatExecutor())
        bus.subscribe("contact", self._accepted)

    async def on_notification(self, item: Any) -> None:
        if not isinstance(item, tuple) or len(item) != 2:
            return
        conversation, _message = item
        if not getattr(conversation, "new", False):
            return
        contact_id = f"{conversation.channel}-{conversation.id}"
        if contact_id in self.acd.core.contacts:
            return
        skills = tuple((str(s), 1) for s in getattr(conversation, "skills", ()) if s)
        try:
            await self.acd.feed(
                ContactArrived(
                    now=self.acd.now(),
                    contact_id=contact_id,
                    channel=conversation.channel,
                    queue=self.queue,
                    skills=skills or (("general", 1),),
                    caller=conversation.citizen or None,
                )
            )
        except ValueError as exc:
            logger.warning("chat not queued", extra={"contact": contact_id, "cause": str(exc)})

    async def _accepted(self, _topic: str, payload: dict[str, Any]) -> None:
        match = CHAT_CONTACT.match(str(payload.get("contact_id", "")))
        if match is None or self.channels is None:
            return
        event = payload.get("event")
        try:
            if event == "accepted":
                await self.channels.assign(int(match.group(2)), str(payload["seat"]))
            elif event in ("ended", "abandoned"):
                await self.channels.close(int(match.group(2)), "citizen_left" if event == "abandoned" else "")
        except Exception:
            logger.exception("conversation not updated", extra={"contact": payload.get("contact_id"), "event": event})
