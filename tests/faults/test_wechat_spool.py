"""The faults tier: WeChat pushes while PostgreSQL is away for longer than WeChat keeps trying
(three tries in about 15 s), and the engine killed before the database comes back.

Each push must hear ``success`` (kept on the disk, ``channels.spool``), a retry of one must not
make a second message, and after the restart every push must be stored once, in order, and its
conversation offered to a seat. Before, each try was answered 503 and WeChat dropped the
citizen's message after its third."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import aiohttp
import asyncpg

from tests.faults.peers import seat, take_offers
from tests.faults.test_database_outage import relay  # noqa: F401  (the fixture)
from tests.integration.channels import wechat_kit as kit
from tests.security.engine import running_engine

ENV = {
    "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
    "HOTLINE_WECHAT__TOKEN": kit.TOKEN,
    "HOTLINE_WECHAT__APP_ID": kit.APP_ID,
}
ACCOUNTS: list[tuple[str, str, str | None]] = [("seat1", "seat", None)]
HOOK = "/wechat/webhook"


async def stored(direct_url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(direct_url.replace("postgresql+asyncpg", "postgresql"), timeout=5)
    try:
        rows = await conn.fetch("SELECT m.direction, m.body, c.citizen FROM channel_messages m "
                                "JOIN channel_conversations c ON c.id = m.conversation_id ORDER BY m.id")  # fmt: skip
    finally:
        await conn.close()
    return [(r["citizen"], json.loads(r["body"]).get("text", "")) for r in rows]


async def push(http: aiohttp.ClientSession, base: str, body: str) -> tuple[int, str, float]:
    started = time.monotonic()
    async with http.post(base + HOOK, params=kit.query(), data=body.encode()) as r:
        return r.status, await r.text(), time.monotonic() - started


async def test_pushes_during_a_long_outage_and_a_kill_are_kept_and_stored_once_in_order(relay, tmp_path):  # noqa: F811
    net, url, direct = relay
    async with running_engine(tmp_path, ENV, ACCOUNTS, database_url=url) as engine, aiohttp.ClientSession() as http:
        now = int(time.time())
        assert (await push(http, engine.base, kit.text("o_spool", "路灯不亮", 501, now)))[:2] == (200, "success")

        await net.cut()  # longer than WeChat's tries: every push must still hear success
        first = kit.text("o_spool", "在人民路口", 502, now + 1)
        for body in (first, kit.text("o_spool", "已经三天了", 503, now + 2), first):  # the last: WeChat's retry
            status, text, took = await push(http, engine.base, body)
            assert (status, text) == (200, "success"), (status, text)
            assert took < 5.0  # within WeChat's wait
        spool = tmp_path / "engine-data" / "spool" / "wechat-pushes.jsonl"
        assert len(spool.read_bytes().splitlines()) == 3  # on the disk before WeChat heard success
        await asyncio.sleep(1.5)  # the replay tries and finds the database still away
        engine.kill9()
        await net.mend()
        await engine.restart()

        console = await seat(engine, http, "seat1")
        assert len(await take_offers(console, 1)) == 1  # one conversation, one offer

        async def all_stored() -> list[tuple[str, str]]:
            for _ in range(100):
                rows = await stored(direct)
                if len(rows) >= 3:
                    return rows
                await asyncio.sleep(0.1)
            return await stored(direct)

        assert await all_stored() == [("o_spool", "路灯不亮"), ("o_spool", "在人民路口"), ("o_spool", "已经三天了")]
        assert spool.read_bytes() == b""
        assert await engine.metric(http, "hotline_wechat_spool_stored_total") == 3.0
        with contextlib.suppress(Exception):
            await console.sio.disconnect()
    for log in tmp_path.glob("engine*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
