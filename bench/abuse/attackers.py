"""The attackers' process: every attack at once, each paced at its own rate, for the attack phase.

Rates are attempts per second (times ``--attack-scale``). An attack kind never has more than
``IN_FLIGHT`` attempts waiting for the engine: the attackers share this machine's two cores with
the engine, and an attacker that only burned them would measure the machine, not the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bench.abuse.attack_http import HttpAttacks
from bench.abuse.attack_sockets import SocketAttacks
from bench.abuse.tally import Tally

IN_FLIGHT = 32
RATES: dict[str, float] = {  # attempts per second of each kind
    "attachment_bomb": 2.0,
    "binary_frames": 4.0,
    "visitor_spray": 5.0,
    "page_visitor_ids": 5.0,
    "socket_login_spray": 5.0,
    "login_spray": 20.0,
    "login_huge": 1.0,
    "staffing_huge": 4.0,
    "actions_huge": 0.2,
    "wechat_replay": 4.0,
}
Attempt = Callable[[int, Tally], Awaitable[None]]


async def paced(attempt: Attempt, tally: Tally, rate: float, seconds: float) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        try:
            await attempt(n, tally)
        except Exception as exc:  # an attacker's own failure, not the engine's refusal
            tally.forms[f"attacker error {type(exc).__name__}"] += 1
        finally:
            gate.release()

    start = time.monotonic()
    for n in itertools.count():
        at = start + n / rate
        if at - start >= seconds:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        await gate.acquire()
        task = asyncio.get_running_loop().create_task(one(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


def main(conn: Any, plan: dict[str, Any], capture: Any) -> None:
    try:
        asyncio.run(_main(conn, plan, capture))
    except Exception as exc:  # said to the parent, which stops the run with it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


async def _main(conn: Any, plan: dict[str, Any], capture: Any) -> None:
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:
        sockets = SocketAttacks(http, plan["base"], plan["limits"])
        web = HttpAttacks(http, plan["base"], capture, int(plan["surge_seats"]))
        kinds: dict[str, Attempt] = {
            "attachment_bomb": sockets.attachment_bomb,
            "binary_frames": sockets.binary_frames,
            "visitor_spray": sockets.visitor_spray,
            "page_visitor_ids": sockets.page_visitor_ids,
            "socket_login_spray": sockets.socket_login_spray,
            "login_spray": web.login_spray,
            "login_huge": web.login_huge,
            "staffing_huge": web.staffing_huge,
            "actions_huge": web.actions_huge,
            "wechat_replay": web.wechat_replay,
        }
        chosen = {k: v for k, v in kinds.items() if k not in plan["skip"] and (not plan["only"] or k in plan["only"])}
        conn.send(("ready", sorted(chosen)))
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] != "attack":
                conn.send(("stopped",))
                return
            seconds = float(command[1])
            problems = await web.steal_logins()
            tallies = {kind: Tally(kind) for kind in chosen}
            await asyncio.gather(
                *(paced(fn, tallies[kind], RATES[kind] * float(plan["scale"]), seconds) for kind, fn in chosen.items())
            )
            losses = [line for t in tallies.values() for line in t.losses()]
            conn.send(("attacked", {k: t.result() for k, t in tallies.items()}, losses, problems))
