"""Who may open which socket: refusals come as connection errors with a reason, never a crash."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
import socketio

from hotline.auth import make_token
from tests.integration.agent_console.harness import Engine


async def _refused(engine: Engine, ns: str, token: str | None) -> str:
    with pytest.raises(socketio.exceptions.ConnectionError) as info:
        await engine.client(ns, token)
    return str(info.value)


async def test_socket_without_token_is_refused(engine: Engine) -> None:
    assert "请先登录" in await _refused(engine, "/agent", None)


async def test_socket_with_forged_token_is_refused(engine: Engine) -> None:
    forged = make_token("not-the-secret", "1001", "seat", None, 2_000_000_000)
    await engine.account("1001")
    assert "请先登录" in await _refused(engine, "/agent", forged)


async def test_socket_with_expired_token_is_refused(engine: Engine) -> None:
    await engine.account("1001")
    assert "请先登录" in await _refused(engine, "/agent", engine.token("1001", "seat", ttl=-5))


async def test_token_of_an_account_that_does_not_exist_is_refused(engine: Engine) -> None:
    assert "账号不存在" in await _refused(engine, "/agent", engine.token("ghost", "seat"))


async def test_supervisor_namespace_refuses_seat_accounts(engine: Engine) -> None:
    token = await engine.account("1001", "seat")
    assert "班长" in await _refused(engine, "/supervisor", token) or "supervisor" in await _refused(
        engine, "/supervisor", token
    )


async def test_agent_namespace_refuses_member_unit_accounts(engine: Engine) -> None:
    from hotline.auth import create_account

    await create_account(engine.ctx.sessions, "water", "unit", "password123", unit="water")
    assert "seat" in await _refused(engine, "/agent", engine.token("water", "unit"))


async def test_repeated_bad_tokens_are_rate_limited(engine: Engine) -> None:
    for _ in range(10):
        await _refused(engine, "/agent", "garbage.token")
    # The eleventh attempt is refused before the token is even read, and so is a good one.
    good = await engine.account("1001")
    assert "过多" in await _refused(engine, "/agent", good)


async def test_login_cookie_from_the_login_api_opens_the_socket(engine: Engine) -> None:
    await engine.account("1002")
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{engine.base}/api/login", json={"username": "1002", "password": "password123"})
        assert resp.status == 200
        cookie = resp.cookies["hotline_token"].value
    seat = await engine.client("/agent", None, headers={"Cookie": f"hotline_token={cookie}"})
    ack = await seat.call("state")
    assert ack["ok"] and ack["seat"]["seat"] == "1002"


async def test_login_api_is_rate_limited_after_repeated_failures(engine: Engine) -> None:
    await engine.account("1003")
    limit = engine.ctx.settings.security.login_failures_per_account
    async with aiohttp.ClientSession() as http:
        codes = []
        for _ in range(limit + 1):
            resp = await http.post(f"{engine.base}/api/login", json={"username": "1003", "password": "wrong-pass"})
            codes.append(resp.status)
    assert codes[:limit] == [401] * limit and codes[limit] == 429


async def test_an_expired_login_is_refused_on_the_next_event(engine: Engine) -> None:
    await engine.account("1004")
    seat = await engine.client("/agent", engine.token("1004", "seat", ttl=1.2))
    import asyncio

    await asyncio.sleep(1.3)
    ack = await seat.call("state")
    assert ack == {"ok": False, "error": "登录已过期，请重新登录"}


async def _until_disconnected(client, seconds: float = 5.0) -> bool:
    import asyncio

    for _ in range(int(seconds / 0.1)):
        if not client.sio.connected:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_disabled_account_is_disconnected_within_a_second_or_two(engine: Engine) -> None:
    from sqlalchemy import update

    from hotline.auth import Account

    token = await engine.account("1005")
    seat = await engine.client("/agent", token)
    other = await engine.client("/agent", await engine.account("1006"))
    assert (await seat.call("state"))["ok"]
    async with engine.ctx.sessions() as s, s.begin():
        await s.execute(update(Account).where(Account.username == "1005").values(active=False))
    assert await _until_disconnected(seat, 3.0)
    assert (await other.call("state"))["ok"]  # only that account's sockets end


async def test_logout_ends_the_socket_opened_with_that_token(engine: Engine) -> None:
    await engine.account("1007")
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{engine.base}/api/login", json={"username": "1007", "password": "password123"})
        token = (await resp.json())["token"]
        seat = await engine.client("/agent", token)
        assert (await seat.call("state"))["ok"]
        resp = await http.post(f"{engine.base}/api/logout", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
    assert await _until_disconnected(seat, 3.0)
    with pytest.raises(socketio.exceptions.ConnectionError, match="失效"):
        await engine.client("/agent", token)  # and the token opens no new one


async def test_a_socket_that_connects_while_the_sessions_are_checked_is_not_taken_for_ended(engine: Engine) -> None:
    from agent_console.access import SocketAuth, Who
    from hotline.auth import read_token

    first, second = await engine.account("1008"), await engine.account("1009")
    checked = SocketAuth(engine.ctx.sessions, engine.secret)
    claims = read_token(engine.secret, first, time.time())
    checked.track("/agent", "sid-1008", Who("1008", "1008", "seat", 2_000_000_000, claims))
    sessions = engine.ctx.sessions

    def connecting_meanwhile() -> Any:
        # A seat connects while the sweep's query is running (it once was disconnected at once,
        # its account missing from an answer that was asked before it came).
        later = read_token(engine.secret, second, time.time())
        checked.track("/agent", "sid-1009", Who("1009", "1009", "seat", 2_000_000_000, later))
        return sessions()

    checked.sessions = connecting_meanwhile  # type: ignore[assignment]
    assert await checked.ended() == []
    checked.sessions = sessions
    assert await checked.ended() == []


async def test_sockets_of_a_deleted_account_and_of_a_changed_password_end_others_stay(engine: Engine) -> None:
    import datetime as dt

    from sqlalchemy import delete, update

    from hotline.auth import Account

    deleted = await engine.client("/agent", await engine.account("1010"))
    changed = await engine.client("/agent", await engine.account("1011"))
    # Changed before this token was issued: its tokens are still good.
    earlier = await engine.client("/agent", await engine.account("1012"))
    stays = await engine.client("/agent", await engine.account("1013"))
    async with engine.ctx.sessions() as s, s.begin():
        await s.execute(delete(Account).where(Account.username == "1010"))
        now = dt.datetime.now(dt.UTC)
        await s.execute(
            update(Account).where(Account.username == "1011").values(tokens_after=now + dt.timedelta(seconds=5))
        )
        await s.execute(
            update(Account).where(Account.username == "1012").values(tokens_after=now - dt.timedelta(hours=1))
        )
    assert await _until_disconnected(deleted, 3.0)
    assert await _until_disconnected(changed, 3.0)
    assert (await earlier.call("state"))["ok"]
    assert (await stays.call("state"))["ok"]
