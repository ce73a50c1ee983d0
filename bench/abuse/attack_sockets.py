"""Attacks on the Socket.IO edge and the anonymous web chat: attachment bombs, binary frames where
no picture belongs, seat sockets opened with forged tokens, and visitor sprays from one address
(new visitor ids, conversations, left messages that would each become a work order)."""

from __future__ import annotations

import base64
import contextlib
import random
import secrets
from typing import Any

import aiohttp

from bench.abuse import cast
from bench.abuse.tally import Allowance, Tally
from bench.abuse.wire import Client, Dropped, Refused, closed_by_engine, open_ws

CUT_WITHIN_S = 5.0  # an offender still connected this long after its offence was not refused
FRAME = b"\x00" * 2_000_000


class SocketAttacks:
    def __init__(self, http: aiohttp.ClientSession, base: str, limits: dict[str, Any]) -> None:
        self.http = http
        self.base = base
        self.limits = limits
        self.allowance = Allowance()
        self.cookies: dict[str, str] = {}

    async def cookie(self, host: str) -> str:
        """One visitor cookie per attacking host, fetched once and reused by all its connections
        (so the bombs do not spend the host's new-visitor allowance)."""
        if host not in self.cookies:
            async with self.http.get(f"{self.base}/chat/", headers={"X-Forwarded-For": host}) as r:
                morsel = r.cookies.get("hotline_visitor")
            self.cookies[host] = f"hotline_visitor={morsel.value}" if morsel is not None else ""
        return self.cookies[host]

    async def _offend(self, tally: Tally, host: str, what: str, packets: list[str | bytes]) -> None:
        try:
            ws = await open_ws(self.http, self.base, host, await self.cookie(host))
        except Refused as exc:
            tally.refuse(f"connection refused ({exc})"[:60])
            return
        try:
            await ws.send_str("40/visitor,")
            for packet in packets:
                if ws.closed:
                    break
                with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
                    if isinstance(packet, bytes):
                        await ws.send_bytes(packet)
                    else:
                        await ws.send_str(packet)
            if await closed_by_engine(ws, CUT_WITHIN_S):
                tally.refuse("disconnected")
            else:
                tally.got_through(f"{what} from {host}: still connected after {CUT_WITHIN_S:g} s")
        finally:
            await ws.close()

    async def attachment_bomb(self, n: int, tally: Tally) -> None:
        """A packet announcing a million binary attachments, then 2 MB frames streamed after it."""
        host = cast.ATTACKER_HOSTS[n % len(cast.ATTACKER_HOSTS)]
        bomb = '451000000-/visitor,["image",{"_placeholder":true,"num":0}]'
        await self._offend(tally, host, "1,000,000 attachments announced", [bomb, FRAME, FRAME, FRAME])

    async def binary_frames(self, n: int, tally: Tally) -> None:
        """Binary frames where no picture belongs: unannounced, on text events, one too many."""
        host = cast.ATTACKER_HOSTS[n % len(cast.ATTACKER_HOSTS)]
        png = b"\x89PNG\r\n\x1a\n" + random.randbytes(2048)
        variants: list[tuple[str, list[str | bytes]]] = [
            ("an unannounced binary frame", [png]),
            ("a binary attachment on 'message'", ['451-/visitor,["message",{"_placeholder":true,"num":0}]', png]),
            ("two frames for one picture", ['451-/visitor,["image",{"_placeholder":true,"num":0}]', png, png]),
            (
                "a binary attachment on 'leave_message'",
                ['451-/visitor,["leave_message",{"x":{"_placeholder":true,"num":0}}]', png],
            ),
        ]
        what, packets = variants[n % len(variants)]
        await self._offend(tally, host, what, packets)

    async def socket_login_spray(self, n: int, tally: Tally) -> None:
        """Seat sockets (/agent) opened with forged login tokens, from the attacking hosts."""
        host = cast.ATTACKER_HOSTS[n % len(cast.ATTACKER_HOSTS)]
        claims = base64.urlsafe_b64encode(f'{{"u":"s{n % 200:04d}","r":"seat","e":4102444800}}'.encode())
        forged = f"{claims.decode().rstrip('=')}.{secrets.token_urlsafe(32)}"
        try:
            client = await Client.connect(self.http, self.base, "/agent", host, auth={"token": forged})
        except Refused as exc:
            tally.refuse("refused: " + ("too many attempts" if "过多" in str(exc) else "bad token"))
            return
        await client.close()
        tally.got_through(f"/agent opened with a forged token from {host}")

    async def visitor_spray(self, n: int, tally: Tally) -> None:
        """Cookie-less visitors from one address, each leaving a message (a work order) or opening a
        conversation (a contact in the seats' queue)."""
        host = cast.SPRAY_HOST
        try:
            client = await Client.connect(self.http, self.base, "/visitor", host)
        except Refused as exc:
            tally.refuse(f"new visitor refused ({str(exc)[:30]})")
            return
        try:
            if not self.allowance.take(host, "new_ids", self.limits["visitor_new_ids_per_hour"]):
                tally.got_through(f"new visitor id {self.allowance.used[(host, 'new_ids')]} of {host} within an hour")
                return
            if n % 2 == 0:
                data = {"text": f"投诉噪音扰民 {n}", "phone": f"139{random.randrange(10**8):08d}", "name": "王"}
                event, what, limit = "leave_message", "left_messages", self.limits["visitor_left_messages_per_hour"]
            else:
                data = {"text": f"在吗 {n}"}
                event, what, limit = "message", "conversations", self.limits["visitor_conversations_per_hour"]
            try:
                ack = await client.call(event, data)
            except (Dropped, TimeoutError) as exc:
                tally.no_answer(f"{event} from {host}: {type(exc).__name__}")
                return
            if not ack.get("ok"):
                tally.refuse(f"{event} refused")
            elif self.allowance.take(host, what, limit):
                tally.admit(f"{what} within the address's {limit} an hour")
            else:
                tally.got_through(f"{event} number {self.allowance.used[(host, what)]} of {host} within an hour")
        finally:
            await client.close()

    async def page_visitor_ids(self, n: int, tally: Tally) -> None:
        """New visitor ids minted by the chat page (GET /chat/) from one address, each then used to
        connect: the page is the widget's own way to a new id, so it counts against the same limit."""
        host = cast.PAGE_SPRAY_HOST
        try:
            async with self.http.get(f"{self.base}/chat/", headers={"X-Forwarded-For": host}) as r:
                await r.read()
                morsel = r.cookies.get("hotline_visitor")
            cookie = f"hotline_visitor={morsel.value}" if morsel is not None else ""
            client = await Client.connect(self.http, self.base, "/visitor", host, cookie=cookie)
        except Refused as exc:
            tally.refuse(f"new visitor refused ({str(exc)[:30]})")
            return
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            tally.no_answer(f"GET /chat/ from {host}: {type(exc).__name__}")
            return
        await client.close()
        limit = self.limits["visitor_new_ids_per_hour"]
        if self.allowance.take(host, "new_ids", limit):
            tally.admit(f"new ids within the address's {limit} an hour")
        else:
            tally.got_through(f"new visitor id {self.allowance.used[(host, 'new_ids')]} of {host} within an hour")
