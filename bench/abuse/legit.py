"""The legitimate load, in its own process: seats logged in over HTTP and on Socket.IO ``/agent``,
ready and taking chat offers; citizens opening web chats (each from its own address) and writing;
WeChat pushing signed messages; a shift manager asking for staffing figures; seats logging in
again now and then (shift changes).

Offer delay = the visitor's message acknowledged -> the seat's ``offer`` event, both read from this
process's monotonic clock. Every refusal of a citizen, a seat or the manager (a non-ok ack, an HTTP
status other than 200, a refused or dropped connection, no answer) is a loss line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import random
import time
from typing import Any

import aiohttp

from bench.abuse import cast
from bench.abuse.wire import Client, Dropped, Refused


class Legit:
    def __init__(self, plan: dict[str, Any], http: aiohttp.ClientSession, capture: Any) -> None:
        self.plan = plan
        self.base = str(plan["base"])
        self.http = http
        self.capture = capture  # the attackers' sniffer: each push's signed query goes there too
        self.phase = "setup"
        self.losses: list[str] = []
        self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.delays: dict[str, list[float]] = collections.defaultdict(list)  # ack -> offer, s
        self.from_send: dict[str, list[float]] = collections.defaultdict(list)  # sent -> offer, s
        self.acked: dict[int, tuple[str, float, float]] = {}  # conversation -> (phase, sent, acked)
        self.offered: dict[int, float] = {}  # offers that came before their ack
        self.seats: list[Client] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.chatting = 0  # citizens still in their chat
        self.visitor_numbers = itertools.count(int(plan.get("first_visitor", 0)))
        self.msg_ids = itertools.count(time.time_ns() // 1000)

    # ---- bookkeeping ---------------------------------------------------------------------------
    def count(self, what: str, n: int = 1) -> None:
        self.counts[self.phase][what] += n

    def refused(self, who: str, what: str) -> None:
        self.count("legit_refused")
        self.losses.append(f"legit {who} refused ({self.phase}): {what}"[:300])

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ---- seats ---------------------------------------------------------------------------------
    async def login(self, username: str, address: str) -> str | None:
        body = {"username": username, "password": cast.PASSWORD}
        try:
            async with self.http.post(f"{self.base}/api/login", json=body, headers={"X-Forwarded-For": address}) as r:
                if r.status == 200:
                    self.count("logins_ok")
                    return str((await r.json())["token"])
                self.refused(username, f"POST /api/login -> {r.status} {(await r.text())[:120]}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.refused(username, f"POST /api/login: {type(exc).__name__}")
        return None

    async def seat_up(self, i: int) -> None:
        name, address = cast.seat_name(i), cast.seat_address(i)
        token = await self.login(name, address)
        if token is None:
            return
        try:
            seat = await Client.connect(self.http, self.base, "/agent", address, auth={"token": token})
        except Refused as exc:
            self.refused(name, f"/agent connection: {exc}")
            return
        seat.on("offer", lambda offer: self.on_offer(seat, name, offer))
        try:
            ack = await seat.call("login", {"phone": "desk", "ready": True})
        except (Dropped, TimeoutError) as exc:
            self.refused(name, f"/agent login: no answer ({type(exc).__name__}: {exc})")
            return
        if not ack.get("ok"):
            self.refused(name, f"/agent login: {ack}")
            return
        self.seats.append(seat)
        self.spawn(self.watch_seat(seat, name))

    async def watch_seat(self, seat: Client, name: str) -> None:
        await seat.closed.wait()
        if not seat.closing:
            self.refused(name, f"its /agent socket was dropped: {seat.why}")

    def on_offer(self, seat: Client, name: str, offer: dict[str, Any]) -> None:
        now = time.monotonic()
        contact = str(offer.get("contact_id", ""))
        channel, _, number = contact.partition("-")
        self.count(f"offers_{channel}")
        if channel == "webchat" and number.isdigit():
            known = self.acked.pop(int(number), None)
            if known is None:
                self.offered[int(number)] = now
            else:
                self.sample(known, now)
        self.spawn(self.serve(seat, name, contact))

    def sample(self, known: tuple[str, float, float], offered: float) -> None:
        phase, sent, acked = known
        # An offer may reach the seat before the citizen's ack reaches the citizen: no delay then.
        self.delays[phase].append(max(0.0, offered - acked))
        self.from_send[phase].append(offered - sent)
        if offered < acked:
            self.counts[phase]["offer_before_ack"] += 1

    async def serve(self, seat: Client, name: str, contact: str) -> None:
        try:
            ack = await seat.call("accept", {"contact_id": contact})
            if not ack.get("ok"):
                self.refused(name, f"accept {contact}: {ack}")
                return
            await asyncio.sleep(float(self.plan["hold_s"]) * random.uniform(0.8, 1.2))
            ack = await seat.call("hangup", {"contact_id": contact})
            if not ack.get("ok"):
                self.refused(name, f"hang up {contact}: {ack}")
        except (Dropped, TimeoutError) as exc:
            if seat.closing:  # the bench is stopping and signs its seats out: not the engine's doing
                return
            self.refused(name, f"{contact}: no answer ({type(exc).__name__}: {exc})")

    # ---- citizens on web chat ------------------------------------------------------------------
    async def visitor(self, n: int) -> None:
        self.chatting += 1
        try:
            await self.chat(n)
        finally:
            self.chatting -= 1

    async def chat(self, n: int) -> None:
        phase, address, who = self.phase, cast.visitor_address(n), f"visitor {n}"
        try:
            async with self.http.get(f"{self.base}/chat/", headers={"X-Forwarded-For": address}) as r:
                await r.read()
                morsel = r.cookies.get("hotline_visitor")
                if r.status != 200:
                    self.refused(who, f"GET /chat/ -> {r.status}")
                    return
            cookie = f"hotline_visitor={morsel.value}" if morsel is not None else ""
            client = await Client.connect(self.http, self.base, "/visitor", address, cookie=cookie)
        except Refused as exc:
            self.refused(who, f"/visitor connection: {exc}")
            return
        except (aiohttp.ClientError, OSError) as exc:
            self.refused(who, f"GET /chat/: {type(exc).__name__}")
            return
        closed = asyncio.Event()
        client.on("closed", lambda _data: closed.set())
        try:
            if not await self.ask(client, who, "hello", {}):
                return
            for k in range(int(self.plan["visitor_messages"])):
                sent = time.monotonic()
                ack = await self.ask(client, who, "message", {"text": f"您好，路灯坏了（{n}-{k}）"})
                if ack is None:
                    return
                self.counts[phase]["visitor_messages_ok"] += 1
                if k == 0:
                    conversation = int(ack["conversation"])
                    known = (phase, sent, time.monotonic())
                    early = self.offered.pop(conversation, None)
                    if early is None:
                        self.acked[conversation] = known
                    else:
                        self.sample(known, early)
                await asyncio.sleep(float(self.plan["message_interval_s"]))
            try:
                await asyncio.wait_for(closed.wait(), float(self.plan["hold_s"]) * 2 + 30)
                self.counts[phase]["visitors_served"] += 1
            except TimeoutError:
                self.refused(who, "no seat took the chat and closed it in time")
        finally:
            await client.close()

    async def ask(self, client: Client, who: str, event: str, data: Any) -> Any:
        try:
            ack = await client.call(event, data)
        except (Dropped, TimeoutError) as exc:
            self.refused(who, f"{event}: no answer ({type(exc).__name__}: {exc})")
            return None
        if not isinstance(ack, dict) or not ack.get("ok"):
            self.refused(who, f"{event}: {ack}")
            return None
        return ack

    # ---- WeChat, the manager, shift changes ----------------------------------------------------
    async def wechat_push(self) -> None:
        query = cast.signed_query()
        openid = f"o_bench_citizen_{random.randrange(int(self.plan['wechat_citizens']))}"
        body = cast.wechat_text(openid, "小区停水了，什么时候恢复？", next(self.msg_ids))
        try:
            async with self.http.post(
                f"{self.base}/wechat/webhook",
                params=query,
                data=body.encode(),
                headers={"X-Forwarded-For": cast.WECHAT_SERVER, "Content-Type": "text/xml"},
            ) as r:
                text = await r.text()
                if r.status == 200 and text == "success":
                    self.count("wechat_ok")
                else:
                    self.refused("WeChat push", f"{r.status} {text[:120]}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.refused("WeChat push", type(exc).__name__)
        with contextlib.suppress(Exception):
            self.capture.put_nowait(query)

    async def staffing(self, token: str) -> None:
        url = f"{self.base}/api/scheduling/staffing?arrivals_per_hour=600&aht=240&target=0.8"
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": cast.MANAGER_ADDRESS}
        try:
            async with self.http.get(url, headers=headers) as r:
                if r.status == 200:
                    self.count("staffing_ok")
                else:
                    self.refused(cast.MANAGER, f"GET staffing -> {r.status} {(await r.text())[:120]}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.refused(cast.MANAGER, f"GET staffing: {type(exc).__name__}")

    async def shift_change(self) -> None:
        """A seat logs in again and opens the console in a second tab (its first one stays)."""
        i = random.randrange(int(self.plan["seats"]))
        name, address = cast.seat_name(i), cast.seat_address(i)
        token = await self.login(name, address)
        if token is None:
            return
        try:
            tab = await Client.connect(self.http, self.base, "/agent", address, auth={"token": token})
        except Refused as exc:
            self.refused(name, f"/agent connection (second tab): {exc}")
            return
        try:
            await self.ask(tab, name, "state", {})
        finally:
            await tab.close()

    # ---- phases --------------------------------------------------------------------------------
    async def paced(self, rate: float, seconds: float, make: Any) -> None:
        """Start ``make()`` ``rate`` times a second for ``seconds``, paced against the start."""
        if rate <= 0:
            return
        start = time.monotonic()
        for n in itertools.count():
            at = start + n / rate
            if at - start >= seconds:
                return
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            self.spawn(make())

    async def run_phase(self, name: str, seconds: float, token: str) -> None:
        self.phase = name
        p = self.plan
        await asyncio.gather(
            self.paced(float(p["visitor_rate"]), seconds, lambda: self.visitor(next(self.visitor_numbers))),
            self.paced(float(p["wechat_rate"]), seconds, self.wechat_push),
            self.paced(1 / float(p["staffing_every_s"]), seconds, lambda: self.staffing(token)),
            self.paced(1 / float(p["login_every_s"]), seconds, self.shift_change),
        )
        # The phase's citizens finish their chats before the next phase starts.
        deadline = time.monotonic() + float(p["drain_s"])
        while self.chatting and time.monotonic() < deadline:
            await asyncio.sleep(0.25)

    def report(self, name: str) -> dict[str, Any]:
        return {
            "delays": self.delays.pop(name, []),
            "from_send": self.from_send.pop(name, []),
            "counts": dict(self.counts.pop(name, {})),
        }


# ---- the process -----------------------------------------------------------------------------
def main(conn: Any, plan: dict[str, Any], capture: Any) -> None:
    try:
        asyncio.run(_main(conn, plan, capture))
    except Exception as exc:  # said to the parent, which stops the run with it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


async def _main(conn: Any, plan: dict[str, Any], capture: Any) -> None:
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        legit = Legit(plan, http, capture)
        # Seats sign in two at a time: the engine hashes two passwords at once by default.
        gate = asyncio.Semaphore(2)

        async def gated(i: int) -> None:
            async with gate:
                await legit.seat_up(i)

        await asyncio.gather(*(gated(i) for i in range(int(plan["seats"]))))
        token = await legit.login(cast.MANAGER, cast.MANAGER_ADDRESS)
        conn.send(("ready", {"seats": len(legit.seats), "losses": list(legit.losses)}))
        legit.losses.clear()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "phase":
                _, name, seconds = command
                await legit.run_phase(name, float(seconds), token or "")
                conn.send(("phase", legit.report(name), list(legit.losses)))
                legit.losses.clear()
            else:
                # Every seat is marked as leaving before any goes: a chat a leaving seat hands back
                # is then offered to a seat that is leaving too, which is no loss.
                for seat in legit.seats:
                    seat.closing = True
                for seat in legit.seats:
                    await seat.close()
                for task in list(legit.tasks):
                    task.cancel()
                await asyncio.gather(*legit.tasks, return_exceptions=True)
                conn.send(("stopped", list(legit.losses)))
                return
