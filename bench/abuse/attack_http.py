"""Attacks over plain HTTP: login sprays (unknown usernames, 10 MB usernames), staffing and shift
actions with huge inputs from stolen accounts (a member unit's and a manager's), and WeChat
pushes replayed from captured query strings with bodies of the attacker's own."""

from __future__ import annotations

import asyncio
import queue
import random
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bench.abuse import cast
from bench.abuse.tally import Tally

HUGE_USERNAME = 10 * 1024 * 1024
STAFFING = "/api/scheduling/staffing"
HUGE_STAFFING = (
    "arrivals_per_hour=1e12&aht=240",
    "arrivals_per_hour=1e9&aht=240",
    "arrivals_per_hour=600&aht=1e9",
    "arrivals_per_hour=600&aht=240&patience=1e12",
    "arrivals_per_hour=600&aht=240&target=0.99999999999",
    "arrivals_per_hour=600&aht=240&channel=chat&concurrency=100000",
    "arrivals_per_hour=" + "9" * 20_000 + "&aht=240",  # a 20 KB query string
)


def classify(tally: Tally, status: int, text: str, what: str) -> None:
    if status >= 500:
        tally.error(f"{what} -> {status} {text[:100]}")
    elif status >= 400:
        tally.refuse(str(status))
    else:
        tally.got_through(f"{what} -> {status} {text[:100]}")


class HttpAttacks:
    def __init__(self, http: aiohttp.ClientSession, base: str, capture: Any, surge_seats: int) -> None:
        self.http = http
        self.base = base
        self.capture = capture
        self.captured: list[dict[str, str]] = []
        self.replayed: set[str] = set()
        self.surge_seats = surge_seats
        self.tokens: dict[str, str] = {}

    async def steal_logins(self) -> list[str]:
        """The attackers log in with the stolen accounts (before their own spray locks them out)."""
        problems = []
        for username in (cast.STOLEN_UNIT, cast.STOLEN_MANAGER):
            if username in self.tokens:
                continue
            body = {"username": username, "password": cast.PASSWORD}
            for _ in range(20):
                async with self.http.post(
                    f"{self.base}/api/login", json=body, headers={"X-Forwarded-For": cast.ATTACKER_HOSTS[0]}
                ) as r:
                    if r.status == 200:
                        self.tokens[username] = str((await r.json())["token"])
                        break
                await asyncio.sleep(0.5)
            else:
                problems.append(f"the attackers could not log in as {username}")
        return problems

    async def _send(self, tally: Tally, what: str, method: str, url: str, **kw: Any) -> None:
        try:
            async with self.http.request(method, url, **kw) as r:
                classify(tally, r.status, await r.text(), what)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionResetError):
            tally.refuse("connection cut")  # the engine stopped reading what it would not take
        except (TimeoutError, aiohttp.ServerTimeoutError):
            tally.no_answer(what)

    async def login_spray(self, n: int, tally: Tally) -> None:
        host = cast.ATTACKER_HOSTS[n % len(cast.ATTACKER_HOSTS)]
        body = {"username": f"nobody{secrets.token_hex(4)}", "password": "Guess-" + secrets.token_hex(4)}
        headers = {"X-Forwarded-For": host}
        await self._send(
            tally, "login with an unknown name", "POST", f"{self.base}/api/login", json=body, headers=headers
        )

    async def login_huge(self, n: int, tally: Tally) -> None:
        host = cast.ATTACKER_HOSTS[n % len(cast.ATTACKER_HOSTS)]
        raw = b'{"username": "' + b"x" * HUGE_USERNAME + b'", "password": "p"}'
        headers = {"X-Forwarded-For": host, "Content-Type": "application/json"}
        if n % 2 == 0:
            data: Any = raw  # with Content-Length: refused before a byte of it is read
        else:

            async def chunks() -> AsyncIterator[bytes]:  # chunked: no length to refuse it by
                for i in range(0, len(raw), 256 * 1024):
                    yield raw[i : i + 256 * 1024]

            data = chunks()
        await self._send(tally, "a 10 MB username", "POST", f"{self.base}/api/login", data=data, headers=headers)

    async def staffing_huge(self, n: int, tally: Tally) -> None:
        who = (cast.STOLEN_UNIT, cast.STOLEN_MANAGER)[n % 2]
        token = self.tokens.get(who)
        if token is None:
            return
        query = HUGE_STAFFING[(n // 2) % len(HUGE_STAFFING)]
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": cast.ATTACKER_HOSTS[1]}
        await self._send(
            tally, f"staffing as {who} ({query[:60]})", "GET", f"{self.base}{STAFFING}?{query}", headers=headers
        )

    async def actions_huge(self, n: int, tally: Tally) -> None:
        """A manager's shift actions with inputs no hotline has (a stolen manager's account)."""
        token = self.tokens.get(cast.STOLEN_MANAGER)
        if token is None:
            return
        variant = n % 3
        if variant == 0:
            seats = [{"seat_id": f"x{n}-{i}", "skills": {"general": 1}} for i in range(self.surge_seats)]
            body: dict[str, Any] = {"action": "surge", "why": "突发", "seats": seats}
            what = f"a surge of {self.surge_seats:,} cloud seats"
        elif variant == 1:
            body = {"action": "start_break", "why": "x", "seat_ids": [f"nobody{i}" for i in range(100_000)]}
            what = "a break for 100,000 seats"
        else:
            body = {"action": "start_break", "why": "理" * 1_000_000, "seat_ids": [cast.STOLEN_MANAGER]}
            what = "a 1,000,000-character reason"
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": cast.ATTACKER_HOSTS[1]}
        await self._send(tally, what, "POST", f"{self.base}/api/scheduling/actions", json=body, headers=headers)

    def _pick(self) -> dict[str, str] | None:
        while True:
            try:
                self.captured.append(self.capture.get_nowait())
            except queue.Empty:
                break
        fresh = [q for q in self.captured[-50:] if q["nonce"] not in self.replayed]
        if fresh:
            chosen = fresh[-1]
            self.replayed.add(chosen["nonce"])
            return chosen
        return random.choice(self.captured[-200:]) if self.captured else None

    async def wechat_replay(self, n: int, tally: Tally) -> None:
        """A captured signed query with another body: as it was, with encrypt_type=aes added, or
        with a msg_signature of the attacker's own."""
        query = self._pick()
        if query is None:
            return
        variant = n % 3
        params = dict(query)
        if variant == 1:
            params["encrypt_type"] = "aes"
        elif variant == 2:
            params.update(encrypt_type="raw", msg_signature=secrets.token_hex(20))
        body = cast.wechat_text("o_forged_by_attacker", "伪造的诉求", random.randrange(10**15, 10**16))
        headers = {"X-Forwarded-For": cast.ATTACKER_HOSTS[2], "Content-Type": "text/xml"}
        await self._send(
            tally,
            f"a replayed push (variant {variant})",
            "POST",
            f"{self.base}/wechat/webhook",
            params=params,
            data=body.encode(),
            headers=headers,
        )
