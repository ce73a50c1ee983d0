"""Item 2 of the hold-the-line issue against a real ``hotline run``: what one address (and one
phone number) may cost the hotline through the anonymous web chat, refused in Chinese with a
log line and a count, while citizens at other addresses are served."""

from __future__ import annotations

import json
import sqlite3

import aiohttp
import pytest
import socketio

from tests.security.engine import running_engine

pytestmark = pytest.mark.integration
ENV = {
    "HOTLINE_SECURITY__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
    "HOTLINE_SECURITY__VISITOR_NEW_IDS_PER_HOUR": "10",
    "HOTLINE_SECURITY__VISITOR_LEFT_MESSAGES_PER_HOUR": "3",
    "HOTLINE_SECURITY__LEFT_MESSAGES_PER_PHONE_PER_DAY": "2",
    "HOTLINE_SECURITY__VISITOR_EVENTS_PER_MINUTE": "20",
}


@pytest.fixture
async def engine(tmp_path):  # type: ignore[no-untyped-def]
    async with running_engine(tmp_path, ENV, []) as e:
        yield e


async def visitor(engine, address: str) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        engine.base, namespaces=["/visitor"], transports=["websocket"], headers={"X-Forwarded-For": address}
    )
    return sio


def orders(engine) -> int:
    with sqlite3.connect(engine.data_dir / "hotline.db") as db:
        return int(db.execute("select count(*) from wo_orders").fetchone()[0])


async def test_new_visitor_ids_from_one_address_are_limited(engine):
    kept = [await visitor(engine, "203.0.113.5") for _ in range(10)]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await visitor(engine, "203.0.113.5")
    other = await visitor(engine, "198.51.100.5")
    assert (await other.call("hello", {}, namespace="/visitor"))["ok"]
    for sio in [*kept, other]:
        await sio.disconnect()
    async with aiohttp.ClientSession() as http:
        assert await engine.metric(http, "hotline_refused_total", edge="webchat", reason="new_visitors") == 1


async def test_new_visitor_ids_minted_by_the_chat_page_count_against_the_same_limit(engine):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def page(address: str) -> str:
            async with http.get(f"{engine.base}/chat/", headers={"X-Forwarded-For": address}) as r:
                assert r.status == 200  # the page itself is always served
                morsel = r.cookies.get("hotline_visitor")
                return morsel.value if morsel is not None else ""

        cookies = [await page("203.0.113.8") for _ in range(12)]
        assert all(cookies[:10]) and cookies[10:] == ["", ""]
        assert await page("198.51.100.8")  # another address is served
    # One of the ten, used by the widget's socket: a visitor it already is, nothing more is counted.
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        engine.base,
        namespaces=["/visitor"],
        transports=["websocket"],
        headers={"X-Forwarded-For": "203.0.113.8", "Cookie": f"hotline_visitor={cookies[0]}"},
    )
    assert (await sio.call("hello", {}, namespace="/visitor"))["ok"]
    await sio.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await visitor(engine, "203.0.113.8")  # and no cookie-less way around the limit either


async def test_left_messages_become_work_orders_only_up_to_the_limits(engine):
    before = orders(engine)
    sio = await visitor(engine, "203.0.113.6")
    acks = []
    for n in range(8):
        body = {"text": f"路灯坏了 {n}", "phone": f"1380000{n:04d}", "name": "张"}
        acks.append(await sio.call("leave_message", body, namespace="/visitor"))
    assert [a["ok"] for a in acks] == [True] * 3 + [False] * 5
    assert "频繁" in acks[-1]["error"]
    # One number from many addresses: at most two a day.
    phone_acks = []
    for n in range(4):
        other = await visitor(engine, f"198.51.100.{20 + n}")
        body = {"text": "噪音扰民", "phone": "13911112222", "name": "李"}
        phone_acks.append(await other.call("leave_message", body, namespace="/visitor"))
        await other.disconnect()
    assert [a["ok"] for a in phone_acks] == [True, True, False, False]
    assert "上限" in phone_acks[-1]["error"]
    await sio.disconnect()
    assert orders(engine) - before == 5


async def test_chatter_events_past_the_limit_are_refused_and_others_still_served(engine):
    sio = await visitor(engine, "203.0.113.7")
    acks = [await sio.call("typing", {}, namespace="/visitor") for _ in range(25)]
    assert sum(a["ok"] for a in acks) == 20 and not acks[-1]["ok"]
    calm = await visitor(engine, "198.51.100.7")
    assert (await calm.call("typing", {}, namespace="/visitor"))["ok"]
    for s in (sio, calm):
        await s.disconnect()
