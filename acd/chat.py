"""Chats into the same ACD as calls: each new WeChat or web-chat conversation becomes a contact
(channel ``wechat`` / ``webchat``) of the internet queue; when a seat accepts it, the channels
feature is told which seat now answers the citizen, and when it ends, the conversation closes.

A chat is moved (to another queue, or away from a seat whose citizen waited too long) by ending
its contact and queueing it again with its original enqueue time; the conversation then goes
back to waiting instead of closing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotline.context import Deps

import asyncio
import dataclasses
import logging
import re
from typing import Any

from acd.core import Command, ContactArrived, ContactEnded, TalkResumed
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
    def __init__(
        self,
        acd: AcdService,
        bus: Bus,
        channels: Any,
        *,
        queue: str = "internet",
        deps: Deps | None = None,
    ) -> None:
        self.acd = acd
        self.channels = channels
        self.queue = queue
        self.moving: dict[str, str] = {}  # contact -> the queue it is being moved to
        self.restored: list[str] | None = None  # chats queued again at the start (None: not yet)
        acd.register("chat", ChatExecutor())
        bus.subscribe("contact", self._accepted)
        if deps is not None:
            deps.chat_bridge = self

    async def move(self, contact_id: str, queue: str | None = None, avoid_seat: str | None = None) -> str:
        """Queue a chat again (keeping its place in time), in ``queue`` or its own; returns the queue."""
        contact = self.acd.core.contact(contact_id)
        if contact is None or CHAT_CONTACT.match(contact_id) is None:
            raise ValueError(f"{contact_id} is not a chat in the ACD")
        target = queue or contact.home
        self.acd.core.queue(target)  # an unknown queue is refused before anything moves
        skills, preferred, language = contact.needs
        again = ContactArrived(
            now=0.0,  # set when it is fed, after the end (the engine's time never goes back)
            contact_id=contact_id,
            channel=contact.channel,
            queue=target,
            skills=skills,
            preferred=preferred,
            language=language,
            caller=contact.caller,
            enqueued_at=contact.enq,
            avoid_seat=avoid_seat,
            home=contact.home,  # counted once, where it first arrived
            answered=contact.answered_at is not None or contact.answered_before,
            replied=contact.replied,
        )
        self.moving[contact_id] = target
        try:
            await self.acd.feed(ContactEnded(now=self.acd.now(), contact_id=contact_id))
            await self.acd.feed(dataclasses.replace(again, now=self.acd.now()))
        finally:
            self.moving.pop(contact_id, None)
        logger.info("chat moved", extra={"contact": contact_id, "queue": target, "avoid": avoid_seat})
        return target

    async def on_notification(self, item: Any) -> None:
        change = getattr(item, "change", None)
        if change == "offer_elsewhere":
            await self._offer_elsewhere(item)
            return
        if not isinstance(item, tuple) or len(item) != 2:
            return
        conversation, _message = item
        if not getattr(conversation, "new", False):
            return
        contact_id = f"{conversation.channel}-{conversation.id}"
        if self.acd.core.has_contact(contact_id):
            return
        try:
            await self.acd.feed(
                ContactArrived(
                    now=self.acd.now(),
                    contact_id=contact_id,
                    channel=conversation.channel,
                    queue=self.queue,
                    skills=_skills(getattr(conversation, "skills", ())),
                    caller=conversation.citizen or None,
                )
            )
        except ValueError as exc:
            logger.warning("chat not queued", extra={"contact": contact_id, "cause": str(exc)})

    async def restore(self, timeout_s: float = 5.0) -> list[str]:
        """After a start: every conversation storage holds as waiting or with a seat joins the ACD
        again, oldest first. A waiting one is queued at its original enqueue time (its first
        message), in the queue it was last moved to; one a seat held is given back to that seat
        (at once if signed in, else when it signs in again; if its citizen then waits too long
        for a reply, the response tracker offers it elsewhere as for any seat). Returns the
        contacts restored."""
        self.restored = []
        if self.channels is None:
            return self.restored
        try:
            async with asyncio.timeout(timeout_s):
                chats = await self.channels.open_chats()
        except Exception as exc:
            logger.error(
                "chats open before the stop not queued again: conversations unreadable",
                extra={"cause": str(exc) or type(exc).__name__},
            )
            return self.restored
        held = 0
        for chat in chats:
            contact_id = f"{chat.channel}-{chat.id}"
            if CHAT_CONTACT.match(contact_id) is None or self.acd.core.has_contact(contact_id):
                continue
            queue = chat.queue if chat.queue and self.acd.core.queue_config(chat.queue) is not None else self.queue
            try:
                now = self.acd.now()
                if chat.state == "assigned" and chat.seat:
                    await self.acd.feed(
                        TalkResumed(
                            now=now,
                            contact_id=contact_id,
                            queue=self.queue,
                            seat_id=chat.seat,
                            enqueued_at=min(chat.created_at, now),
                            answered_at=min(chat.since, now),
                            caller=chat.citizen or None,
                            channel=chat.channel,
                            replied=chat.replied,
                        )
                    )
                    held += 1
                    self.restored.append(contact_id)
                    continue
                if chat.state == "assigned":  # held by no seat that can be named: waits again
                    await self.channels.requeue(chat.id)
                await self.acd.feed(
                    ContactArrived(
                        now=now,
                        contact_id=contact_id,
                        channel=chat.channel,
                        queue=queue,
                        skills=_skills(chat.skills),
                        caller=chat.citizen or None,
                        enqueued_at=min(chat.created_at, now),
                        # counted before the stop: offered, and answered or replied if a seat did
                        home=self.queue,
                        answered=chat.answered,
                        replied=chat.replied,
                    )
                )
            except Exception as exc:  # one damaged conversation must not keep the others out
                logger.error("chat not queued again", extra={"contact": contact_id, "cause": str(exc)})
                continue
            self.restored.append(contact_id)
        if self.restored:
            logger.warning(
                "chats open before the stop are back: waiting at their place or with their seat",
                extra={"chats": len(self.restored), "given_back_to_seats": held},
            )
        return self.restored

    async def _offer_elsewhere(self, change: Any) -> None:
        """The citizen waited past the second threshold at a seat: another seat gets the chat."""
        for channel in ("webchat", "wechat"):
            contact_id = f"{channel}-{change.conversation_id}"
            contact = self.acd.core.contact(contact_id)
            if contact is not None and contact.state == "connected":
                try:
                    await self.move(contact_id, avoid_seat=contact.seat)
                except ValueError as exc:
                    logger.warning("chat %s not moved: %s", contact_id, exc)
                return

    async def _accepted(self, _topic: str, payload: dict[str, Any]) -> None:
        match = CHAT_CONTACT.match(str(payload.get("contact_id", "")))
        if match is None or self.channels is None:
            return
        event = payload.get("event")
        try:
            if event == "accepted":
                await self.channels.assign(int(match.group(2)), str(payload["seat"]))
            elif event == "ended" and payload["contact_id"] in self.moving:
                await self.channels.requeue(int(match.group(2)), self.moving[payload["contact_id"]])
            elif event in ("ended", "abandoned"):
                await self.channels.close(int(match.group(2)), "citizen_left" if event == "abandoned" else "")
        except Exception:
            logger.exception("conversation not updated", extra={"contact": payload.get("contact_id"), "event": event})


def _skills(names: Any) -> tuple[tuple[str, int], ...]:
    """A conversation's skills (a WeChat menu's) as the ACD's needs; ``general`` when it has none."""
    skills = tuple((str(s), 1) for s in names if s)
    return skills or (("general", 1),)
